/* Preloaded into nbdkit in the AddressSanitizer run (with the sanitizer
 * runtimes) to keep exit-time behaviour from hiding or faking results:
 *
 * dlclose is a no-op, so that a leak or an error reported at exit, after
 * nbdkit has unloaded its plugin and filters, still names the functions
 * in them (nbdkit itself skips dlclose under valgrind for this reason).
 *
 * freelocale is a no-op.  With libasan preloaded into Debian's nbdkit,
 * glibc's __libc_setlocale_lock was seen with a negative reader count
 * after some error and debug paths, and nbdkit then hung for ever at
 * exit in libp11-kit's destructor (exit -> _dl_fini -> p11-kit ->
 * freelocale -> rwlock_wrlock).  The plain build never does this.  At
 * exit, freeing a locale object does not matter.
 */
#include <locale.h>

int dlclose (void *handle);

int
dlclose (void *handle)
{
  (void) handle;
  return 0;
}

void
freelocale (locale_t locale)
{
  (void) locale;
}
