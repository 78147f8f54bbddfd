/* libFuzzer harness: client keys from peer addresses (client-key.c),
 * the function ratetier and the connection guard use to decide who a
 * client is.
 *
 * Input layout: byte 0 picks the family (AF_INET, AF_INET6, AF_UNIX,
 * AF_VSOCK or anything else), bytes 1-2 the IPv4 and IPv6 prefixes
 * (taken modulo their range, sometimes out of range), byte 3 the
 * per_connection flag and byte 4 the address length handed over
 * (possibly short or long); the rest fills the address.  (The prefix
 * parameters themselves are parsed by filters/common/config.c.)
 *
 * Checks (filters/ratetier/client-key.h): a key is never CLIENT_KEY_NONE,
 * its padding is zero, no address bit past the prefix survives, an
 * IPv4-mapped IPv6 address gives the same key as the IPv4 address, the
 * formatted key fits in CLIENT_KEY_STRLEN, and hashing and comparing
 * are deterministic.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "client-key.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const uint8_t secret[16] = "sandbag-fuzzing!";

static void
check_masked (const uint8_t *bytes, size_t nbytes, unsigned prefix)
{
  size_t bit;

  for (bit = prefix; bit < nbytes * 8; bit++)
    if (bytes[bit / 8] & (0x80 >> (bit % 8)))
      abort ();
}

static void
check_key (const struct client_key *k)
{
  char buf[CLIENT_KEY_STRLEN + 16];
  size_t i;
  struct client_key copy = *k;

  if (k->kind == CLIENT_KEY_NONE || k->kind > CLIENT_KEY_CONNECTION)
    abort ();
  for (i = 0; i < sizeof k->pad; i++)
    if (k->pad[i])
      abort ();
  if (k->kind == CLIENT_KEY_IPV4) {
    if (k->prefix > 32)
      abort ();
    check_masked (k->u.bytes, 4, k->prefix);
  }
  if (k->kind == CLIENT_KEY_IPV6) {
    if (k->prefix > 128)
      abort ();
    check_masked (k->u.bytes, 16, k->prefix);
  }
  memset (buf, 'X', sizeof buf);
  client_key_format (k, buf);
  if (memchr (buf, '\0', CLIENT_KEY_STRLEN) == NULL)
    abort ();
  if (!client_key_equal (k, &copy) ||
      client_key_hash (k, secret) != client_key_hash (&copy, secret))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct sockaddr_storage ss;
  struct client_key_config cfg;
  struct client_key key, key4;
  size_t len;
  static const int families[] = { AF_INET, AF_INET6, AF_UNIX, AF_VSOCK,
                                  AF_UNSPEC, AF_PACKET };
  int family;

  if (size < 5)
    return 0;
  family = families[data[0] % G_N_ELEMENTS (families)];
  cfg.ipv4_prefix = data[1] % 40;     /* 33..39 are out of range */
  cfg.ipv6_prefix = data[2] % 136;    /* 129..135 are out of range */
  cfg.per_connection = data[3] & 1;
  memset (&ss, 0, sizeof ss);
  memcpy (&ss, data + 5, MIN (size - 5, sizeof ss));
  ss.ss_family = family;
  len = MIN ((size_t) data[4], sizeof ss);

  if (cfg.ipv4_prefix > 32 || cfg.ipv6_prefix > 128)
    return 0;                   /* config_u32 refuses these first */

  shim_clear_error ();
  if (client_key_from_sockaddr (&cfg, (struct sockaddr *) &ss, len,
                                (int64_t) (int8_t) data[3], size,
                                &key) == 0) {
    check_key (&key);
    if (cfg.per_connection && key.kind != CLIENT_KEY_CONNECTION)
      abort ();
    /* ::ffff:a.b.c.d is a.b.c.d. */
    if (!cfg.per_connection && family == AF_INET6 &&
        len >= sizeof (struct sockaddr_in6)) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
      if (IN6_IS_ADDR_V4MAPPED (&s6->sin6_addr)) {
        struct sockaddr_in s4 = { .sin_family = AF_INET };
        memcpy (&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
        if (client_key_from_sockaddr (&cfg, (struct sockaddr *) &s4,
                                      sizeof s4, -1, 0, &key4) != 0 ||
            !client_key_equal (&key, &key4))
          abort ();
      }
    }
  }
  else if (shim_last_error ()[0] == '\0')
    abort ();                   /* refused without saying why */

  return 0;
}
