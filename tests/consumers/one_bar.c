/* A minimal host, built by each consumer test (find_package, FetchContent,
 * pkg-config): load the three experts, generate one bar, and check that the
 * header, the library and the package files agree on the version.
 *
 *   one_bar <onnx_dir> [expected_version]
 */
#include <nomad_muse.h>

#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#define HEADER_VERSION \
  STR(NOMAD_MUSE_VERSION_MAJOR) "." STR(NOMAD_MUSE_VERSION_MINOR) "." STR(NOMAD_MUSE_VERSION_PATCH)

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <onnx_dir> [expected_version]\n", argv[0]);
    return 2;
  }
  if (strcmp(muse_version(), HEADER_VERSION) != 0) {
    fprintf(stderr, "library %s, header %s\n", muse_version(), HEADER_VERSION);
    return 1;
  }
  if (argc > 2 && strcmp(argv[2], HEADER_VERSION) != 0) {
    fprintf(stderr, "package files say %s, header %s\n", argv[2], HEADER_VERSION);
    return 1;
  }
  char drums[1024], harmony[1024], melody[1024];
  snprintf(drums, sizeof drums, "%s/drums.onnx", argv[1]);
  snprintf(harmony, sizeof harmony, "%s/harmony.onnx", argv[1]);
  snprintf(melody, sizeof melody, "%s/melody.onnx", argv[1]);

  MuseSessionOptions opts = {0.9f, 0, 0.95f, 7};
  MuseBand* band = NULL;
  if (muse_band_new(drums, harmony, melody, &opts, &band) != MUSE_OK) {
    fprintf(stderr, "muse_band_new: %s\n", muse_last_error());
    return 1;
  }
  MuseNoteEvent events[1024];
  size_t count = 0;
  MuseStatus st = muse_band_next_bar(band, events, sizeof events / sizeof events[0], &count);
  muse_band_free(band);
  if (st != MUSE_OK) {
    fprintf(stderr, "muse_band_next_bar: %s\n", muse_last_error());
    return 1;
  }
  printf("nomad_muse %s: one bar, %zu notes\n", muse_version(), count);
  return 0;
}
