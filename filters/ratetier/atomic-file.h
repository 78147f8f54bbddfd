/* ratetier: replace a file atomically.
 *
 * The data is written to a temporary file next to PATH, which is then
 * renamed over PATH, so readers see the old file or the new one, never
 * a mixture.  With SYNC, the temporary file is fsynced before the
 * rename and the directory after it, so the new file survives a crash.
 */
#ifndef RATETIER_ATOMIC_FILE_H
#define RATETIER_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Returns 0, or calls nbdkit_error ("WHAT: PATH: ...: %m") and returns
 * -1, leaving PATH as it was.
 */
extern int atomic_file_write (const char *what, const char *path,
                              const void *data, size_t len, bool sync);

#endif /* RATETIER_ATOMIC_FILE_H */
