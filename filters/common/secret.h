/* The per-process secret keying the hash tables whose keys clients
 * choose (client addresses), so that a client cannot aim collisions at
 * one bucket.  Taken from the kernel's random source, never stored.
 */
#ifndef SANDBAG_SECRET_H
#define SANDBAG_SECRET_H

#include <stdint.h>

#define SECRET_BYTES 16

/* Fill SECRET with random bytes (getrandom; glib's generator if the
 * kernel's is unavailable, which only a very old kernel does). */
extern void secret_generate (uint8_t secret[SECRET_BYTES]);

#endif /* SANDBAG_SECRET_H */
