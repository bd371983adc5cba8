// A host's song through the band: a 3/4 progression ("C G Am F", two bars
// each) in C major with a two-bar primer melody, intensity and swing set,
// 16 bars generated, bar 9 re-rolled, MIDI written. It checks what a host
// relies on and exits non-zero when any of it fails:
//   the chord part is the given chords, every bar is 3/4 long, the melody
//   starts from the primer, bars 1-8 are unchanged by the re-roll, and bad
//   input (unknown chord symbol, 7/8, a broken primer file) is refused, and
//   Chord ID on the written file gives the chord track's roots back.
//
// usage: follow_chords <dir with drums/harmony/melody.onnx> <out.mid>

#include <nomad_muse.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s (%s)\n", what, muse_last_error());
    ++failures;
  }
}

constexpr uint32_t kTicksPerBar = 3 * 480;  // 3/4 at 480 ticks per quarter
constexpr int kBars = 16;

using Bar = std::vector<MuseNoteEvent>;

Bar bar_notes(MuseBand* band, uint32_t bar) {
  Bar notes(256);
  size_t count = 0;
  check(muse_band_bar_notes(band, bar, notes.data(), notes.size(), &count) == MUSE_OK, "bar notes");
  notes.resize(count);
  return notes;
}

bool same(const Bar& a, const Bar& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) {
           return x.tick == y.tick && x.duration == y.duration && x.pitch == y.pitch &&
                  x.velocity == y.velocity && x.channel == y.channel;
         });
}

// The chords part's close voicing from C3 (root + chord tones).
std::vector<uint8_t> voicing(int root, bool minor) {
  return {uint8_t(48 + root), uint8_t(48 + root + (minor ? 3 : 4)), uint8_t(48 + root + 7)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <onnx dir> <out.mid>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string drums = dir + "/drums.onnx", harmony = dir + "/harmony.onnx",
                    melody = dir + "/melody.onnx";
  MuseSessionOptions opts{0.9f, 0, 0.95f, /*seed*/ 2026};
  MuseBand* band = nullptr;
  if (muse_band_new(drums.c_str(), harmony.c_str(), melody.c_str(), &opts, &band) != MUSE_OK) {
    std::fprintf(stderr, "muse_band_new: %s\n", muse_last_error());
    return 1;
  }

  // The song: 3/4 in C major at 96 bpm. 7/8 is refused and changes nothing.
  MuseSong seven_eight{7, 8, true, 0, MUSE_MODE_MAJOR, 96.0};
  check(muse_band_set_song(band, &seven_eight) == MUSE_ERR_INVALID_ARGUMENT, "7/8 refused");
  MuseSong song{3, 4, true, 0, MUSE_MODE_MAJOR, 96.0};
  check(muse_band_set_song(band, &song) == MUSE_OK, "set song");

  // Chord track: C G Am F, two bars each, looped. An unknown symbol is refused.
  MuseChordChange bad[] = {{0, 0, "C"}, {2, 0, "H7"}};
  check(muse_band_set_chords(band, bad, 2, 8, true) == MUSE_ERR_INVALID_ARGUMENT, "unknown chord refused");
  MuseChordChange chords[] = {{0, 0, "C"}, {2, 0, "G"}, {4, 0, "Am"}, {6, 0, "F"}};
  check(muse_band_set_chords(band, chords, 4, 8, true) == MUSE_OK, "set chords");

  // A broken MIDI file as primer is refused; then the two-bar primer melody.
  const std::string broken = std::string(argv[2]) + ".broken.mid";
  std::ofstream(broken, std::ios::binary) << "MThd\x00\x00\x00\x06not midi";
  check(muse_band_set_primer_midi(band, MUSE_PART_MELODY, broken.c_str()) != MUSE_OK, "broken primer refused");
  std::vector<MuseNoteEvent> primer;
  const uint8_t line[] = {64, 67, 72, 71, 67, 62};
  for (uint32_t i = 0; i < 6; ++i) primer.push_back({i * 480, 420, line[i], 90, 0});
  check(muse_band_set_primer_notes(band, MUSE_PART_MELODY, primer.data(), primer.size(), 2) == MUSE_OK, "primer");

  MusePartControls drum_controls;
  muse_part_controls_default(&drum_controls);
  drum_controls.intensity = 0.8f;
  drum_controls.swing = 0.6f;
  check(muse_band_set_part_controls(band, MUSE_PART_DRUMS, &drum_controls) == MUSE_OK, "drum controls");
  MusePartControls melody_controls;
  muse_part_controls_default(&melody_controls);
  melody_controls.intensity = 0.65f;
  melody_controls.lowest_pitch = 55;
  melody_controls.highest_pitch = 84;
  check(muse_band_set_part_controls(band, MUSE_PART_MELODY, &melody_controls) == MUSE_OK, "melody controls");

  // After the first bar, generating touches no system heap on this thread.
  std::vector<MuseNoteEvent> events(256);
  uint64_t system_after_first = 0, system_at_end = 0;
  for (int bar = 0; bar < kBars; ++bar) {
    size_t count = 0;
    check(muse_band_next_bar(band, events.data(), events.size(), &count) == MUSE_OK, "next bar");
    if (bar == 0) muse_thread_alloc_counts(&system_after_first, nullptr);
  }
  muse_thread_alloc_counts(&system_at_end, nullptr);
  check(system_at_end == system_after_first, "no system allocation after the first bar");
  std::vector<Bar> before;
  for (uint32_t bar = 0; bar < kBars; ++bar) before.push_back(bar_notes(band, bar));

  const int roots[] = {0, 7, 9, 5};
  const bool minor[] = {false, false, true, false};
  for (uint32_t bar = 0; bar < kBars; ++bar) {
    std::vector<uint8_t> chord_pitches;
    for (auto& n : before[bar]) {
      check(n.tick >= bar * kTicksPerBar && n.tick < (bar + 1) * kTicksPerBar, "note inside its 3/4 bar");
      if (n.channel == 1) {
        chord_pitches.push_back(n.pitch);
        check(n.tick == bar * kTicksPerBar && n.duration == kTicksPerBar, "chord spans its bar");
      }
    }
    std::sort(chord_pitches.begin(), chord_pitches.end());
    const int k = (bar / 2) % 4;
    check(chord_pitches == voicing(roots[k], minor[k]), "chord part = the given chords");
  }
  std::vector<MuseNoteEvent> opening;
  for (int bar = 0; bar < 2; ++bar)
    for (auto& n : before[bar])
      if (n.channel == 0) opening.push_back(n);
  check(opening.size() == primer.size(), "primer notes open the melody");
  for (size_t i = 0; i < std::min(opening.size(), primer.size()); ++i)
    check(opening[i].tick == primer[i].tick && opening[i].pitch == primer[i].pitch, "melody starts from the primer");

  // Re-roll bar 9 (index 8) with a new seed: bars 1-8 (and 10-16) stay.
  check(muse_band_reroll(band, 8, 777, MUSE_REROLL_BAR) == MUSE_OK, "re-roll bar 9");
  int changed = 0;
  for (uint32_t bar = 0; bar < kBars; ++bar) {
    const Bar after = bar_notes(band, bar);
    if (bar < 8) check(same(before[bar], after), "bars 1-8 unchanged by the re-roll");
    if (bar > 8) check(same(before[bar], after), "bars 10-16 unchanged by the re-roll");
    if (bar == 8) changed = !same(before[bar], after);
  }
  check(muse_band_reroll(band, kBars, 1, MUSE_REROLL_BAR) == MUSE_ERR_INVALID_ARGUMENT, "re-roll past the end refused");

  check(muse_band_write_midi(band, argv[2], 96.0) == MUSE_OK, "write midi");
  muse_band_free(band);

  // Chord ID on the file just written: what a host would put on its chord track.
  std::vector<MuseIdentifiedChord> found(256);
  std::vector<MuseKeySegment> keys(8);
  size_t n_found = 0, n_keys = 0;
  check(muse_chord_id_file(argv[2], found.data(), found.size(), &n_found, keys.data(), keys.size(), &n_keys) == MUSE_OK,
        "chord id");
  check(n_found > 0 && n_keys >= 1, "chord id finds chords and a key");
  // Roots only: the analysis hears the melody too and may add a seventh.
  const char* names[] = {"C_", "G_", "A_", "F_"};
  for (uint32_t bar = 0; bar < kBars; ++bar) {
    const MuseIdentifiedChord* at = nullptr;  // the chord sounding on the bar's downbeat
    for (size_t i = 0; i < n_found; ++i)
      if (found[i].bar <= bar) at = &found[i];
    check(at && std::string(at->symbol).rfind(names[(bar / 2) % 4], 0) == 0, "chord id gives back the chord track's roots");
  }
  check(muse_chord_id_file(broken.c_str(), found.data(), found.size(), &n_found, keys.data(), keys.size(), &n_keys) != MUSE_OK,
        "chord id refuses a broken file");
  std::printf("chord id:");
  for (size_t i = 0; i < n_found; ++i) std::printf(" %u:%u %s", found[i].bar, found[i].beat, found[i].symbol);
  if (n_keys) std::printf(" | key %d %s\n", keys[0].key_tonic, keys[0].key_mode == MUSE_MODE_MAJOR ? "major" : "minor");
  std::remove(broken.c_str());
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("follow_chords ok: wrote %d bars of 3/4 to %s (bar 9 re-rolled, %s)\n", kBars, argv[2],
              changed ? "new notes" : "same notes");
  return 0;
}
