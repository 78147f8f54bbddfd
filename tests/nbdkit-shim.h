/* Test-side stand-ins for the parts of nbdkit's server API that pure
 * logic (parsers, tables, on-disk formats) calls, so that unit tests and
 * fuzzers can link that logic without a running nbdkit.
 *
 * nbdkit_error messages are kept: shim_last_error () returns the latest
 * one (or "" if none since shim_clear_error ()), so a test can assert
 * that a bad input was refused with the right message.  Debug messages
 * go to stderr only when SHIM_DEBUG is set in the environment.
 */
#ifndef SANDBAG_NBDKIT_SHIM_H
#define SANDBAG_NBDKIT_SHIM_H

const char *shim_last_error (void);
void shim_clear_error (void);

#endif
