// The design seed's generation loop on libnomad_muse: load the three experts,
// generate 16 bars (harmony first, melody conditioned on it, then drums) and
// write a playable MIDI file.
//
//   generation_loop <onnx_dir> [out.mid] [bars] [seed] [form]
//
// <onnx_dir> holds drums.onnx, harmony.onnx and melody.onnx (or their
// *_quantized.onnx variants with NOMAD_MUSE_QUANTIZED=1), and optionally
// conductor.onnx: the fourth expert, which plans the song's form (sections,
// repeats, energy, fills). [form], e.g. "intro:4 verse:8 chorus:8 outro:4",
// gives the form instead. Exits non-zero on any error, printing
// muse_last_error().
#include <nomad_muse.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <string>
#include <vector>

static int fail(const char* what, MuseStatus status) {
  std::fprintf(stderr, "error: %s failed (status %d): %s\n", what, static_cast<int>(status), muse_last_error());
  return 1;
}

// A memory figure of this process from /proc/self/status in KiB (Linux):
// "VmHWM:" peak resident set, "RssAnon:" heap and other private memory,
// "RssFile:" pages mapped from files (mostly the library's code). -1 if unknown.
static long status_kib(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  }
  return -1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <onnx_dir> [out.mid] [bars] [seed]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string out = argc > 2 ? argv[2] : "generation_loop.mid";
  const int bars = argc > 3 ? std::atoi(argv[3]) : 16;
  const unsigned long long seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 2026ULL;
  const char* q = std::getenv("NOMAD_MUSE_QUANTIZED");
  const std::string suffix = (q && std::strcmp(q, "1") == 0) ? "_quantized.onnx" : ".onnx";
  const std::string drums = dir + "/drums" + suffix;
  const std::string harmony = dir + "/harmony" + suffix;
  const std::string melody = dir + "/melody" + suffix;
  const std::string conductor = dir + "/conductor" + suffix;
  struct stat info {};
  const bool has_conductor = stat(conductor.c_str(), &info) == 0;
  const char* form = argc > 5 ? argv[5] : nullptr;

  MuseSessionOptions opts{};
  opts.temperature = 0.9f;
  opts.top_k = 0;
  opts.top_p = 0.95f;
  opts.seed = seed;

  MuseBand* band = nullptr;
  MuseStatus st = muse_band_new(drums.c_str(), harmony.c_str(), melody.c_str(), &opts, &band);
  if (st != MUSE_OK) return fail("muse_band_new", st);
  // The fourth expert is optional: NULL (no file) keeps the three-expert band.
  st = muse_band_set_conductor(band, has_conductor ? conductor.c_str() : nullptr);
  if (st == MUSE_OK) st = muse_band_set_form(band, form);
  if (st != MUSE_OK) {
    muse_band_free(band);
    return fail("muse_band_set_conductor / muse_band_set_form", st);
  }
  std::printf("form: %s\n", form ? form : has_conductor ? "planned by conductor.onnx" : "none (three experts)");

  std::vector<MuseNoteEvent> events(64);
  size_t total = 0;
  for (int bar = 0; bar < bars; ++bar) {
    size_t count = 0;
    st = muse_band_next_bar(band, events.data(), events.size(), &count);
    if (st == MUSE_ERR_BUFFER_TOO_SMALL) {  // grow and fetch the same bar again
      events.resize(count);
      st = muse_band_next_bar(band, events.data(), events.size(), &count);
    }
    if (st != MUSE_OK) {
      muse_band_free(band);
      return fail("muse_band_next_bar", st);
    }
    size_t per_channel[16] = {0};
    for (size_t i = 0; i < count; ++i) per_channel[events[i].channel & 15]++;
    std::printf("bar %2d: %3zu notes (drums %zu, chords %zu, melody %zu)\n", bar, count, per_channel[9], per_channel[1],
                per_channel[0]);
    total += count;
  }
  st = muse_band_write_midi(band, out.c_str(), 110.0);
  if (st != MUSE_OK) {
    muse_band_free(band);
    return fail("muse_band_write_midi", st);
  }
  const long anon = status_kib("RssAnon:"), file = status_kib("RssFile:");
  muse_band_free(band);
  std::printf("wrote %d bars, %zu notes -> %s\n", bars, total, out.c_str());
  std::printf("peak RSS: %ld KiB (with the three experts loaded: %ld KiB heap/private, %ld KiB file-backed code)\n",
              status_kib("VmHWM:"), anon, file);
  return 0;
}
