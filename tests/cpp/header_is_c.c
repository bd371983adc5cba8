/* Compiles the public header as C (const handles, constants, version
 * macros) and calls into the library once. */
#include <nomad_muse.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  MuseSession *s = NULL;
  const MuseSession *read_only = s;
  size_t vocab = 1;
  char version[32];
  MuseStatus st = muse_session_new(NULL, NULL, &s);
  if (st != MUSE_ERR_NULL_POINTER || s != NULL || strlen(muse_last_error()) == 0) {
    fprintf(stderr, "unexpected status %d\n", (int)st);
    return 1;
  }
  if (muse_vocab_size(read_only, &vocab) != MUSE_ERR_NULL_POINTER || vocab != 0) {
    fprintf(stderr, "vocab_size on NULL: out not cleared\n");
    return 1;
  }
  snprintf(version, sizeof version, "%d.%d.%d", NOMAD_MUSE_VERSION_MAJOR, NOMAD_MUSE_VERSION_MINOR,
           NOMAD_MUSE_VERSION_PATCH);
  if (strcmp(version, muse_version()) != 0 || MUSE_CHORD_NONE != MUSE_CHORD_ID_COUNT - 1) {
    fprintf(stderr, "header %s, library %s\n", version, muse_version());
    return 1;
  }
  printf("C header ok (version %s): %s\n", muse_version(), muse_last_error());
  return 0;
}
