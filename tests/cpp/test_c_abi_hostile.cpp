// The C ABI probed as a hostile host would: crafted and non-regular model
// files, failed calls that must change nothing, two threads on one handle,
// freeing a handle in use, out-parameters on failure, event padding, and the
// version. Nothing may crash, hang, or print on stderr.
//
//   test_c_abi_hostile <fixtures_dir> <crafted_dir> <scratch_dir>
#include <nomad_muse.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

static int failures = 0;
static int passed = 0;

#define CHECK(cond)                                                                                         \
  do {                                                                                                      \
    if (cond) {                                                                                             \
      ++passed;                                                                                             \
    } else {                                                                                                \
      ++failures;                                                                                           \
      std::fprintf(stderr, "FAILED %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond, muse_last_error()); \
    }                                                                                                       \
  } while (0)

// Sends fd 2 to a file while alive; `captured()` is what was written.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = dup(2);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  std::string stop() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    std::string text;
    if (FILE* f = std::fopen(path_.c_str(), "rb")) {
      char buf[512];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    return text;
  }

 private:
  std::string path_;
  int saved_;
};

static MuseSession* open_session(const std::string& path) {
  MuseSession* s = nullptr;
  CHECK(muse_session_new(path.c_str(), nullptr, &s) == MUSE_OK && s != nullptr);
  return s;
}

static int32_t token_id(const MuseSession* s, const char* name) {
  size_t vocab = 0;
  muse_vocab_size(s, &vocab);
  char buf[64];
  for (size_t i = 0; i < vocab; ++i) {
    if (muse_token_to_string(s, int32_t(i), buf, sizeof buf) == MUSE_OK && std::strcmp(buf, name) == 0) return int32_t(i);
  }
  return -1;
}

static void version_agrees() {
  char header[64];
  std::snprintf(header, sizeof header, "%d.%d.%d", NOMAD_MUSE_VERSION_MAJOR, NOMAD_MUSE_VERSION_MINOR,
                NOMAD_MUSE_VERSION_PATCH);
  CHECK(std::strcmp(header, muse_version()) == 0);
}

// Every crafted / non-regular file is MUSE_ERR_MODEL (or MUSE_ERR_IO), with
// *out NULL, no hang, and not a byte on stderr.
static void hostile_files_are_refused(const std::string& crafted, const std::string& scratch) {
  const char* names[] = {"huge_dims",          "big_dims",          "dims_disagree_with_graph", "dims_not_numbers",
                         "extra_nodes_1e5",    "extra_nodes_1e6",   "constant_fold_bomb",
                         "initializer_lies_about_size", "foreign_op", "truncated", "random_bytes"};
  const std::string fifo = scratch + "/fifo.onnx";
  unlink(fifo.c_str());
  CHECK(mkfifo(fifo.c_str(), 0600) == 0);
  const std::string big = scratch + "/sparse_65mb.onnx";
  {
    int fd = open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 65 << 20) == 0);
    close(fd);
  }
  StderrCapture capture(scratch + "/hostile_stderr.txt");
  std::vector<std::string> failed;
  for (const char* name : names) {
    MuseSession* s = reinterpret_cast<MuseSession*>(uintptr_t(0x1));  // must come back NULL
    MuseStatus st = muse_session_new((crafted + "/" + name + ".onnx").c_str(), nullptr, &s);
    if (st != MUSE_ERR_MODEL || s != nullptr) failed.push_back(name);
  }
  for (const std::string& path : {fifo, scratch, std::string("/dev/zero"), big}) {
    MuseSession* s = nullptr;
    if (muse_session_new(path.c_str(), nullptr, &s) != MUSE_ERR_MODEL || s != nullptr) failed.push_back(path);
  }
  MuseBand* band = reinterpret_cast<MuseBand*>(uintptr_t(0x1));
  if (muse_band_new(fifo.c_str(), fifo.c_str(), fifo.c_str(), nullptr, &band) != MUSE_ERR_MODEL || band != nullptr)
    failed.push_back("band from a fifo");
  const std::string printed = capture.stop();
  for (const std::string& f : failed) std::fprintf(stderr, "not refused as a model error: %s\n", f.c_str());
  CHECK(failed.empty());
  CHECK(printed.empty());
  if (!printed.empty()) std::fprintf(stderr, "the library printed: %s\n", printed.c_str());
  unlink(fifo.c_str());
  unlink(big.c_str());
}

// Out-parameters are NULL / 0 / "" after a failed call, whatever they held.
static void out_parameters_are_cleared(const std::string& drums) {
  size_t n = 12345;
  CHECK(muse_vocab_size(nullptr, &n) == MUSE_ERR_NULL_POINTER && n == 0);
  MuseExpertKind kind = MUSE_EXPERT_MELODY;
  int not_a_session = 0;
  CHECK(muse_expert_kind(reinterpret_cast<MuseSession*>(&not_a_session), &kind) == MUSE_ERR_INVALID_HANDLE &&
        kind == MUSE_EXPERT_DRUMS);
  MuseSession* s = open_session(drums);
  char buf[16] = "garbage";
  CHECK(muse_token_to_string(s, -4, buf, sizeof buf) == MUSE_ERR_INVALID_ARGUMENT && buf[0] == 0);
  int32_t token = 77;
  uint64_t rng = 9;
  CHECK(muse_generate_next(s, nullptr, 3, 1.0f, &rng, &token) == MUSE_ERR_NULL_POINTER && token == 0 && rng == 9);
  size_t count = 99;
  CHECK(muse_band_next_bar(nullptr, nullptr, 0, &count) == MUSE_ERR_NULL_POINTER && count == 0);
  muse_session_free(s);
}

// A failed call changes nothing: a bad token late in the context, or a bad
// chord / key id, leaves the session exactly as before (same next token as
// a session that never saw the failed call) and the RNG state untouched.
static void failed_calls_change_nothing(const std::string& drums, const std::string& melody) {
  MuseSession* a = open_session(drums);
  MuseSession* b = open_session(drums);
  const int32_t bos = 1, eos = 2;
  const int32_t bad_context[] = {bos, eos, eos};  // EOS after EOS: refused
  uint64_t rng_a = 42, rng_b = 42;
  int32_t ta = -1, tb = -1;
  CHECK(muse_generate_next(a, bad_context, 3, 1.0f, &rng_a, &ta) == MUSE_ERR_INVALID_ARGUMENT && rng_a == 42);
  CHECK(muse_generate_next(a, &bos, 1, 1.0f, &rng_a, &ta) == MUSE_OK);  // BOS still allowed: nothing was fed
  CHECK(muse_generate_next(b, &bos, 1, 1.0f, &rng_b, &tb) == MUSE_OK);
  CHECK(ta == tb && rng_a == rng_b);
  muse_session_free(a);
  muse_session_free(b);

  MuseSession* m1 = open_session(melody);
  MuseSession* m2 = open_session(melody);
  const int32_t key_c_major = token_id(m1, "CONDITION_KEY_C_major");
  CHECK(key_c_major > 0);
  const int32_t ctx[] = {bos, key_c_major};
  rng_a = rng_b = 7;
  CHECK(muse_generate_next_conditioned(m1, ctx, 2, MUSE_CHORD_ID_COUNT, 0, 1.0f, &rng_a, &ta) ==
        MUSE_ERR_INVALID_ARGUMENT);
  CHECK(muse_generate_next_conditioned(m1, ctx, 2, 0, MUSE_KEY_ID_COUNT, 1.0f, &rng_a, &ta) ==
        MUSE_ERR_INVALID_ARGUMENT);
  CHECK(muse_generate_next_conditioned(m1, ctx, 2, -1, 0, 1.0f, &rng_a, &ta) == MUSE_ERR_INVALID_ARGUMENT);
  CHECK(rng_a == 7);
  CHECK(muse_generate_next_conditioned(m1, ctx, 2, MUSE_CHORD_NONE, MUSE_KEY_ID_COUNT - 1, 1.0f, &rng_a, &ta) ==
        MUSE_OK);
  CHECK(muse_generate_next_conditioned(m2, ctx, 2, MUSE_CHORD_NONE, MUSE_KEY_ID_COUNT - 1, 1.0f, &rng_b, &tb) ==
        MUSE_OK);
  CHECK(ta == tb && rng_a == rng_b);
  muse_session_free(m1);
  muse_session_free(m2);
}

// Two threads on one session: the owner generates a grammar-valid stream,
// the other samples without feeding. Every call is OK or MUSE_ERR_BUSY (a
// busy call did nothing, so the owner retries it), the owner's stream is
// never corrupted, and at least one collision is seen.
static void two_threads_on_one_session(const std::string& drums) {
  MuseSession* s = open_session(drums);
  const int32_t bos = 1, eos = 2;
  uint64_t rng = 3;
  int32_t token = 0;
  CHECK(muse_generate_next(s, &bos, 1, 1.0f, &rng, &token) == MUSE_OK);
  std::atomic<bool> done{false};
  std::atomic<long> busy{0}, unexpected{0};
  std::thread other([&] {
    uint64_t r = 11;
    int32_t t = 0;
    while (!done.load()) {
      MuseStatus st = muse_generate_next(s, nullptr, 0, 1.0f, &r, &t);
      if (st == MUSE_ERR_BUSY) busy++;
      else if (st != MUSE_OK && st != MUSE_ERR_INVALID_ARGUMENT) unexpected++;  // EOS: nothing allowed
    }
  });
  long owner_calls = 0;
  for (int step = 0; step < 20000 && (busy.load() < 20 || step < 500); ++step) {
    int32_t ctx = token, next = 0;
    MuseStatus st;
    if (token == eos) {  // the stream ended: start again
      while ((st = muse_session_reset(s)) == MUSE_ERR_BUSY) busy++;
      ctx = bos;
    }
    while ((st = muse_generate_next(s, &ctx, 1, 1.0f, &rng, &next)) == MUSE_ERR_BUSY) busy++;
    if (st != MUSE_OK) unexpected++;
    token = next;
    owner_calls++;
  }
  done = true;
  other.join();
  std::printf("two threads, one session: %ld owner calls, %ld busy refusals\n", owner_calls, busy.load());
  CHECK(unexpected.load() == 0);
  CHECK(busy.load() > 0);
  // Freeing while the other thread generates: refused (busy) or done; never
  // a use after free. Afterwards the handle is invalid for everyone.
  std::atomic<bool> freed{false};
  std::atomic<long> bad{0};
  std::thread generator([&] {
    uint64_t r = 5;
    int32_t t = 0;
    for (;;) {
      MuseStatus st = muse_generate_next(s, nullptr, 0, 1.0f, &r, &t);
      if (st == MUSE_ERR_INVALID_HANDLE) break;
      if (st != MUSE_OK && st != MUSE_ERR_BUSY && st != MUSE_ERR_INVALID_ARGUMENT) bad++;
    }
  });
  while (!freed.load()) {
    MuseStatus st = muse_session_free(s);
    if (st == MUSE_OK) freed = true;
    else if (st != MUSE_ERR_BUSY) bad++;
  }
  generator.join();
  CHECK(bad.load() == 0);
  CHECK(muse_session_free(s) == MUSE_ERR_INVALID_HANDLE);
}

// Two threads on one band: every call OK or MUSE_ERR_BUSY.
static void two_threads_on_one_band(const std::string& dir) {
  MuseBand* band = nullptr;
  MuseSessionOptions opts{0.9f, 0, 1.0f, 5};
  CHECK(muse_band_new((dir + "/drums.onnx").c_str(), (dir + "/harmony.onnx").c_str(), (dir + "/melody.onnx").c_str(),
                      &opts, &band) == MUSE_OK);
  std::atomic<long> ok{0}, busy{0}, unexpected{0};
  auto run = [&] {
    std::vector<MuseNoteEvent> events(1024);
    for (int i = 0; i < 40; ++i) {
      size_t n = 0;
      MuseStatus st = muse_band_next_bar(band, events.data(), events.size(), &n);
      if (st == MUSE_OK) ok++;
      else if (st == MUSE_ERR_BUSY) busy++;
      else unexpected++;
    }
  };
  std::thread t1(run), t2(run);
  t1.join();
  t2.join();
  std::printf("two threads, one band: %ld bars, %ld busy refusals\n", ok.load(), busy.load());
  CHECK(unexpected.load() == 0 && ok.load() > 0);
  CHECK(muse_band_free(band) == MUSE_OK);
}

// Events are fully defined bytes: two runs with the same seed into buffers
// prefilled with different garbage compare equal with memcmp.
static void note_events_have_no_undefined_bytes(const std::string& dir) {
  static_assert(sizeof(MuseNoteEvent) == 12, "MuseNoteEvent layout");
  std::vector<MuseNoteEvent> runs[2];
  for (int r = 0; r < 2; ++r) {
    MuseBand* band = nullptr;
    MuseSessionOptions opts{0.9f, 0, 1.0f, 77};
    CHECK(muse_band_new((dir + "/drums.onnx").c_str(), (dir + "/harmony.onnx").c_str(),
                        (dir + "/melody.onnx").c_str(), &opts, &band) == MUSE_OK);
    std::vector<MuseNoteEvent> events(1024);
    std::memset(events.data(), r == 0 ? 0xAA : 0x55, events.size() * sizeof(MuseNoteEvent));
    size_t n = 0;
    CHECK(muse_band_next_bar(band, events.data(), events.size(), &n) == MUSE_OK && n > 0);
    events.resize(n);
    runs[r] = events;
    for (const MuseNoteEvent& e : events) CHECK(e.reserved == 0);
    muse_band_free(band);
  }
  CHECK(runs[0].size() == runs[1].size() &&
        std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(MuseNoteEvent)) == 0);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <fixtures_dir> <crafted_dir> <scratch_dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1], crafted = argv[2], scratch = argv[3];
  version_agrees();
  hostile_files_are_refused(crafted, scratch);
  out_parameters_are_cleared(dir + "/drums.onnx");
  failed_calls_change_nothing(dir + "/drums.onnx", dir + "/melody.onnx");
  two_threads_on_one_session(dir + "/drums.onnx");
  two_threads_on_one_band(dir);
  note_events_have_no_undefined_bytes(dir);
  std::printf("%d passed, %d failed\n", passed, failures);
  return failures == 0 ? 0 : 1;
}
