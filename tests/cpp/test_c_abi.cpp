// C ABI tests: every error path returns a status (never crashes), sessions
// generate grammar-valid tokens, and the band writes a MIDI file that parses
// with notes on all three parts.
//
//   test_c_abi <fixtures_dir> <scratch_dir>
#include <nomad_muse.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static int failures = 0;
static int passed = 0;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (cond) {                                                                      \
      ++passed;                                                                      \
    } else {                                                                         \
      ++failures;                                                                    \
      std::fprintf(stderr, "FAILED %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, \
                   #cond, muse_last_error());                                        \
    }                                                                                \
  } while (0)

struct SmfSummary {
  bool ok = false;
  int tracks = 0;
  int notes_per_channel[16] = {0};
  int metas[128] = {0};   // count per meta type (0x51 tempo, 0x58 time signature, 0x59 key)
  uint32_t tempo_us = 0;  // the last tempo meta's microseconds per quarter
};

static uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

// A minimal SMF reader: header, track chunks, note-ons (running status).
static SmfSummary parse_smf(const std::vector<uint8_t>& b) {
  SmfSummary s;
  if (b.size() < 14 || std::memcmp(b.data(), "MThd", 4) != 0) return s;
  size_t at = 8 + be32(&b[4]);
  while (at + 8 <= b.size()) {
    uint32_t len = be32(&b[at + 4]);
    if (at + 8 + len > b.size()) return s;
    if (std::memcmp(&b[at], "MTrk", 4) == 0) {
      s.tracks++;
      size_t p = at + 8, end = at + 8 + len;
      uint8_t status = 0;
      while (p < end) {
        while (p < end && (b[p] & 0x80)) p++;  // delta (variable length)
        p++;
        if (p >= end) break;
        uint8_t c = b[p];
        if (c == 0xFF) {  // meta
          const uint8_t type = p + 1 < end ? b[p + 1] & 0x7F : 0;
          s.metas[type]++;
          p += 2;
          uint32_t l = 0;
          while (p < end && (b[p] & 0x80)) l = (l << 7) | (b[p++] & 0x7F);
          l = (l << 7) | (b[p++] & 0x7F);
          if (type == 0x51 && l == 3 && p + 3 <= end) s.tempo_us = (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
          p += l;
          continue;
        }
        if (c & 0x80) {
          status = c;
          p++;
        }
        uint8_t kind = status & 0xF0;
        int data = (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
        if (kind == 0x90 && p + 1 < end && b[p + 1] > 0) s.notes_per_channel[status & 15]++;
        p += data;
      }
    }
    at += 8 + len;
  }
  s.ok = s.tracks > 0;
  return s;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <fixtures_dir> <scratch_dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1], scratch = argv[2];
  const std::string drums = dir + "/drums.onnx", harmony = dir + "/harmony.onnx", melody = dir + "/melody.onnx";

  // Null pointers.
  MuseSession* s = nullptr;
  CHECK(muse_session_new(nullptr, nullptr, &s) == MUSE_ERR_NULL_POINTER);
  CHECK(muse_session_new(drums.c_str(), nullptr, nullptr) == MUSE_ERR_NULL_POINTER);
  CHECK(std::strlen(muse_last_error()) > 0);
  // Bad path, bad UTF-8, corrupt model.
  CHECK(muse_session_new("/nonexistent/model.onnx", nullptr, &s) == MUSE_ERR_IO);
  const char bad_utf8[] = {'/', 't', 'm', 'p', '/', char(0xff), char(0xfe), 0};
  CHECK(muse_session_new(bad_utf8, nullptr, &s) == MUSE_ERR_UTF8);
  const std::string corrupt = scratch + "/corrupt.onnx";
  {
    std::ofstream f(corrupt, std::ios::binary);
    f << "this is not an onnx model at all";
  }
  CHECK(muse_session_new(corrupt.c_str(), nullptr, &s) == MUSE_ERR_MODEL);
  CHECK(s == nullptr);

  // A real session.
  MuseSessionOptions opts{0.8f, 0, 1.0f, 3};
  CHECK(muse_session_new(drums.c_str(), &opts, &s) == MUSE_OK);
  size_t vocab = 0;
  CHECK(muse_vocab_size(s, &vocab) == MUSE_OK && vocab > 50);
  MuseExpertKind kind;
  CHECK(muse_expert_kind(s, &kind) == MUSE_OK && kind == MUSE_EXPERT_DRUMS);
  char name[32];
  CHECK(muse_token_to_string(s, 1, name, sizeof name) == MUSE_OK && std::strcmp(name, "BOS") == 0);
  char tiny[2];
  CHECK(muse_token_to_string(s, 1, tiny, sizeof tiny) == MUSE_ERR_BUFFER_TOO_SMALL);
  CHECK(muse_token_to_string(s, 100000, name, sizeof name) == MUSE_ERR_INVALID_ARGUMENT);

  // Generate 64 tokens: each must be a valid vocabulary id; the first is a bar.
  uint64_t rng = 42;
  int32_t token = 1;  // BOS
  int32_t ctx = token;
  CHECK(muse_generate_next(s, &ctx, 1, 0.8f, &rng, &token) == MUSE_OK);
  CHECK(muse_token_to_string(s, token, name, sizeof name) == MUSE_OK && std::strncmp(name, "BAR_", 4) == 0);
  // After the first call on this thread, a per-token call allocates nothing:
  // the fused step has no temporaries (tract's would come from the arena).
  const int32_t eos = 2;
  CHECK(muse_token_to_string(s, eos, name, sizeof name) == MUSE_OK && std::strcmp(name, "EOS") == 0);
  uint64_t system_before = 0, arena_before = 0, system_after = 0, arena_after = 0;
  CHECK(muse_thread_alloc_counts(&system_before, &arena_before) == MUSE_OK);
  int generated = 0;
  for (; generated < 64 && token != eos; ++generated) {
    ctx = token;
    CHECK(muse_generate_next(s, &ctx, 1, 0.8f, &rng, &token) == MUSE_OK);
    CHECK(token >= 0 && size_t(token) < vocab);
  }
  CHECK(muse_thread_alloc_counts(&system_after, &arena_after) == MUSE_OK);
  CHECK(generated > 0);
  CHECK(system_after == system_before);
  CHECK(arena_after == arena_before);
  CHECK(muse_thread_alloc_counts(nullptr, nullptr) == MUSE_OK);
  // A token the grammar forbids is rejected.
  muse_session_reset(s);
  int32_t bad = 5;  // not BOS
  CHECK(muse_generate_next(s, &bad, 1, 1.0f, &rng, &token) == MUSE_ERR_INVALID_ARGUMENT);
  // Wrong expert kind for the conditioned call.
  CHECK(muse_generate_next_conditioned(s, &ctx, 0, 0, 0, 1.0f, &rng, &token) == MUSE_ERR_WRONG_EXPERT);
  CHECK(muse_generate_next(s, nullptr, 0, 1.0f, nullptr, &token) == MUSE_ERR_NULL_POINTER);

  // Freed and foreign handles.
  CHECK(muse_session_free(s) == MUSE_OK);
  CHECK(muse_session_free(s) == MUSE_ERR_INVALID_HANDLE);
  CHECK(muse_session_reset(s) == MUSE_ERR_INVALID_HANDLE);
  int not_a_session = 0;
  CHECK(muse_vocab_size(reinterpret_cast<MuseSession*>(&not_a_session), &vocab) == MUSE_ERR_INVALID_HANDLE);
  CHECK(muse_session_free(nullptr) == MUSE_OK);

  // The band: wrong expert order is an error, then 16 real bars.
  MuseBand* band = nullptr;
  CHECK(muse_band_new(melody.c_str(), harmony.c_str(), drums.c_str(), &opts, &band) == MUSE_ERR_WRONG_EXPERT);
  CHECK(muse_band_new(drums.c_str(), harmony.c_str(), melody.c_str(), &opts, &band) == MUSE_OK);
  // The optional Conductor: another expert's file or a bad form is an error
  // that changes nothing; NULL removes it (today's band), and after the
  // first bar neither can change.
  const std::string conductor = dir + "/conductor.onnx";
  CHECK(muse_band_set_conductor(band, drums.c_str()) == MUSE_ERR_WRONG_EXPERT);
  CHECK(muse_band_set_form(band, "verse:0") == MUSE_ERR_INVALID_ARGUMENT);
  CHECK(muse_band_set_conductor(band, conductor.c_str()) == MUSE_OK);
  CHECK(muse_band_set_conductor(band, nullptr) == MUSE_OK);
  CHECK(muse_band_set_form(band, nullptr) == MUSE_OK);
  CHECK(muse_band_set_conductor(nullptr, nullptr) == MUSE_ERR_NULL_POINTER);
  size_t count = 0;
  MuseNoteEvent one[1];
  MuseStatus st = muse_band_next_bar(band, one, 1, &count);
  CHECK(st == MUSE_ERR_BUFFER_TOO_SMALL || (st == MUSE_OK && count <= 1));
  std::vector<MuseNoteEvent> events(count > 1 ? count : 1);
  if (st == MUSE_ERR_BUFFER_TOO_SMALL) CHECK(muse_band_next_bar(band, events.data(), events.size(), &count) == MUSE_OK);
  CHECK(muse_band_set_form(band, "verse:4") == MUSE_ERR_INVALID_ARGUMENT);
  for (int bar = 1; bar < 16; ++bar) {
    events.resize(512);
    CHECK(muse_band_next_bar(band, events.data(), events.size(), &count) == MUSE_OK);
    for (size_t i = 0; i < count; ++i) {
      CHECK(events[i].tick >= uint32_t(bar) * 1920 && events[i].tick < uint32_t(bar + 1) * 1920);
    }
  }
  const std::string mid = scratch + "/test_band.mid";
  CHECK(muse_band_write_midi(band, mid.c_str(), 120.0) == MUSE_OK);
  CHECK(muse_band_write_midi(band, mid.c_str(), -1.0) == MUSE_ERR_INVALID_ARGUMENT);
  CHECK(muse_band_free(band) == MUSE_OK);
  CHECK(muse_band_free(band) == MUSE_ERR_INVALID_HANDLE);
  CHECK(muse_band_next_bar(band, events.data(), events.size(), &count) == MUSE_ERR_INVALID_HANDLE);

  std::ifstream f(mid, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  SmfSummary smf = parse_smf(bytes);
  CHECK(smf.ok);
  CHECK(smf.tracks == 4);
  // Tempo (120 bpm), time signature and the key the harmony expert chose.
  CHECK(smf.metas[0x51] == 1 && smf.tempo_us == 500000);
  CHECK(smf.metas[0x58] == 1);
  CHECK(smf.metas[0x59] == 1);
  CHECK(smf.notes_per_channel[9] > 0);
  CHECK(smf.notes_per_channel[1] > 0);
  CHECK(smf.notes_per_channel[0] > 0);
  std::printf("generated MIDI: %d tracks, notes drums %d chords %d melody %d\n", smf.tracks, smf.notes_per_channel[9],
              smf.notes_per_channel[1], smf.notes_per_channel[0]);

  std::printf("%d passed, %d failed\n", passed, failures);
  return failures == 0 ? 0 : 1;
}
