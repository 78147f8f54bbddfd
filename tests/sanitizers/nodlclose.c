/* Preloaded into nbdkit in the AddressSanitizer run: make dlclose a
 * no-op, so that a leak or an error reported at exit, after nbdkit has
 * unloaded its plugin and filters, still names the functions in them
 * (nbdkit itself skips dlclose under valgrind for the same reason).
 */
int dlclose (void *handle);

int
dlclose (void *handle)
{
  (void) handle;
  return 0;
}
