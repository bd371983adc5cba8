/* Compiles the public header as C and calls into the library once. */
#include <nomad_muse.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  MuseSession *s = NULL;
  MuseStatus st = muse_session_new(NULL, NULL, &s);
  if (st != MUSE_ERR_NULL_POINTER || s != NULL || strlen(muse_last_error()) == 0) {
    fprintf(stderr, "unexpected status %d\n", (int)st);
    return 1;
  }
  printf("C header ok: %s\n", muse_last_error());
  return 0;
}
