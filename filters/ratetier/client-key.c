/* ratetier: client keys from peer addresses (see client-key.h).
 *
 * Masking keeps the top PREFIX bits of the address and zeroes the rest,
 * so every address of a /24 (or /64) yields the same key.  Keys are
 * built in zeroed storage so that bytewise comparison and hashing are
 * exact.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include <glib.h>
#include <nbdkit-filter.h>

#include "client-key.h"

/* Keep the top PREFIX bits of the LEN-byte address ADDR. */
static void
mask_address (uint8_t *addr, size_t len, unsigned prefix)
{
  size_t i;

  for (i = 0; i < len; i++) {
    if (prefix >= 8)
      prefix -= 8;
    else {
      addr[i] &= (uint8_t) (0xff00 >> prefix);
      prefix = 0;
    }
  }
}

static void
make_ipv4 (const struct client_key_config *config, const uint8_t addr[4],
           struct client_key *key)
{
  key->kind = CLIENT_KEY_IPV4;
  key->prefix = config->ipv4_prefix;
  memcpy (key->u.bytes, addr, 4);
  mask_address (key->u.bytes, 4, config->ipv4_prefix);
}

/* The least length of a peer address of FAMILY that we read. */
static size_t
address_size (sa_family_t family)
{
  switch (family) {
  case AF_INET:
    return sizeof (struct sockaddr_in);
  case AF_INET6:
    return sizeof (struct sockaddr_in6);
  case AF_VSOCK:
    return sizeof (struct sockaddr_vm);
  default:                      /* AF_UNIX: the key is the uid */
    return sizeof (sa_family_t);
  }
}

static void
make_ipv6 (const struct client_key_config *config,
           const struct sockaddr_in6 *sin6, struct client_key *key)
{
  if (IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr))
    make_ipv4 (config, &sin6->sin6_addr.s6_addr[12], key);
  else {
    key->kind = CLIENT_KEY_IPV6;
    key->prefix = config->ipv6_prefix;
    memcpy (key->u.bytes, &sin6->sin6_addr, 16);
    mask_address (key->u.bytes, 16, config->ipv6_prefix);
  }
}

static int
make_uid (int64_t peer_uid, struct client_key *key)
{
  if (peer_uid < 0) {
    nbdkit_error ("ratetier: cannot tell who the client is: "
                  "the uid of the Unix-socket peer is unknown");
    return -1;
  }
  key->kind = CLIENT_KEY_UID;
  key->u.id = (uint64_t) peer_uid;
  return 0;
}

int
client_key_from_sockaddr (const struct client_key_config *config,
                          const struct sockaddr *sa, size_t len,
                          int64_t peer_uid, uint64_t connection,
                          struct client_key *key)
{
  memset (key, 0, sizeof *key);

  if (config->per_connection) {
    key->kind = CLIENT_KEY_CONNECTION;
    key->u.id = connection;
    return 0;
  }
  if (sa == NULL || len < sizeof sa->sa_family) {
    nbdkit_error ("ratetier: cannot tell who the client is: "
                  "no peer address");
    return -1;
  }
  if (len < address_size (sa->sa_family)) {
    nbdkit_error ("ratetier: cannot tell who the client is: "
                  "peer address of family %d is truncated (%zu bytes)",
                  (int) sa->sa_family, len);
    return -1;
  }
  switch (sa->sa_family) {
  case AF_INET:
    make_ipv4 (config, (const uint8_t *)
               &((const struct sockaddr_in *) sa)->sin_addr, key);
    return 0;
  case AF_INET6:
    make_ipv6 (config, (const struct sockaddr_in6 *) sa, key);
    return 0;
  case AF_UNIX:
    return make_uid (peer_uid, key);
  case AF_VSOCK:
    key->kind = CLIENT_KEY_VSOCK;
    key->u.id = ((const struct sockaddr_vm *) sa)->svm_cid;
    return 0;
  default:
    nbdkit_error ("ratetier: cannot tell who the client is: "
                  "unsupported address family %d", (int) sa->sa_family);
    return -1;
  }
}

bool
client_key_equal (const struct client_key *a, const struct client_key *b)
{
  return memcmp (a, b, sizeof *a) == 0;
}

/* SipHash-1-3 (Aumasson and Bernstein), over a message of whole
 * 8-byte words only, which is all a key needs.
 */
#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                   \
  do {                                                             \
    v0 += v1; v1 = ROTL (v1, 13); v1 ^= v0; v0 = ROTL (v0, 32);    \
    v2 += v3; v3 = ROTL (v3, 16); v3 ^= v2;                        \
    v0 += v3; v3 = ROTL (v3, 21); v3 ^= v0;                        \
    v2 += v1; v1 = ROTL (v1, 17); v1 ^= v2; v2 = ROTL (v2, 32);    \
  } while (0)

static uint64_t
load_le64 (const uint8_t *p)
{
  uint64_t v = 0;
  int i;

  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

uint64_t
client_key_hash (const struct client_key *key,
                 const uint8_t secret[SECRET_BYTES])
{
  const uint8_t *m = (const uint8_t *) key;
  const size_t len = sizeof *key;
  uint64_t k0 = load_le64 (secret), k1 = load_le64 (secret + 8);
  uint64_t v0 = k0 ^ UINT64_C (0x736f6d6570736575);
  uint64_t v1 = k1 ^ UINT64_C (0x646f72616e646f6d);
  uint64_t v2 = k0 ^ UINT64_C (0x6c7967656e657261);
  uint64_t v3 = k1 ^ UINT64_C (0x7465646279746573);
  uint64_t b = (uint64_t) len << 56;
  size_t i;

  G_STATIC_ASSERT (sizeof (struct client_key) % 8 == 0);

  for (i = 0; i < len; i += 8) {
    uint64_t w = load_le64 (m + i);
    v3 ^= w;
    SIPROUND;
    v0 ^= w;
  }
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

char *
client_key_format (const struct client_key *key, char *buf)
{
  char addr[INET6_ADDRSTRLEN];

  switch (key->kind) {
  case CLIENT_KEY_IPV4:
    inet_ntop (AF_INET, key->u.bytes, addr, sizeof addr);
    snprintf (buf, CLIENT_KEY_STRLEN, "%s/%u", addr, key->prefix);
    break;
  case CLIENT_KEY_IPV6:
    inet_ntop (AF_INET6, key->u.bytes, addr, sizeof addr);
    snprintf (buf, CLIENT_KEY_STRLEN, "%s/%u", addr, key->prefix);
    break;
  case CLIENT_KEY_UID:
    snprintf (buf, CLIENT_KEY_STRLEN, "uid:%" PRIu64, key->u.id);
    break;
  case CLIENT_KEY_VSOCK:
    snprintf (buf, CLIENT_KEY_STRLEN, "vsock:%" PRIu64, key->u.id);
    break;
  case CLIENT_KEY_CONNECTION:
    snprintf (buf, CLIENT_KEY_STRLEN, "connection:%" PRIu64, key->u.id);
    break;
  default:
    snprintf (buf, CLIENT_KEY_STRLEN, "invalid-key-kind-%u", key->kind);
    break;
  }
  return buf;
}
