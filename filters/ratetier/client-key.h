/* ratetier: who a client is.
 *
 * A client key names the party whose delivered blocks are counted
 * together (ratetier) and whose connections are counted together
 * (the connection guard).  It is derived from the peer address of a
 * connection:
 *
 *   AF_INET          the address masked to ipv4_prefix bits (default 32)
 *   AF_INET6         the address masked to ipv6_prefix bits (default 64);
 *                    an IPv4-mapped address (::ffff:a.b.c.d) is treated
 *                    exactly as the IPv4 address a.b.c.d
 *   AF_UNIX          the peer's uid (the caller supplies it, normally
 *                    from nbdkit_peer_uid)
 *   AF_VSOCK         the peer's context id
 *
 * With per_connection set, every connection is its own client: the key
 * is the caller-supplied connection number, so counters do not survive
 * a reconnection.
 *
 * Keys are plain values of fixed size, compared and hashed by value.
 * The hash is keyed (SipHash-1-3 with a caller-supplied secret), so a
 * remote party choosing addresses cannot aim for collisions.
 *
 * Pure: no global state; nbdkit_error on a bad address.  Meant to be
 * fuzzed and reused by the connection guard.
 */
#ifndef RATETIER_CLIENT_KEY_H
#define RATETIER_CLIENT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "secret.h"

enum client_key_kind {
  CLIENT_KEY_NONE = 0,        /* never a valid key */
  CLIENT_KEY_IPV4 = 1,        /* bytes[0..3]: masked address */
  CLIENT_KEY_IPV6 = 2,        /* bytes[0..15]: masked address */
  CLIENT_KEY_UID = 3,         /* id: uid of the Unix-socket peer */
  CLIENT_KEY_VSOCK = 4,       /* id: context id of the vsock peer */
  CLIENT_KEY_CONNECTION = 5,  /* id: connection number */
};

struct client_key {
  uint8_t kind;               /* enum client_key_kind */
  uint8_t prefix;             /* IPv4/IPv6: prefix length kept; else 0 */
  uint8_t pad[6];             /* always zero, so keys compare bytewise */
  union {
    uint8_t bytes[16];        /* address in network order, masked */
    uint64_t id;              /* uid, cid or connection number */
  } u;
};

struct client_key_config {
  uint32_t ipv4_prefix;       /* 0..32: bits of an IPv4 address kept */
  uint32_t ipv6_prefix;       /* 0..128: bits of an IPv6 address kept */
  bool per_connection;        /* ratetier-key=connection */
};

#define CLIENT_KEY_CONFIG_DEFAULT \
  { .ipv4_prefix = 32, .ipv6_prefix = 64, .per_connection = false }

/* Longest string client_key_format writes, NUL included. */
#define CLIENT_KEY_STRLEN 64

/* Derive the key of a peer.  SA/LEN is the peer address (as returned
 * by nbdkit_peer_name); PEER_UID is the peer's uid for AF_UNIX (ignored
 * otherwise; a negative value means unknown, which is an error for
 * AF_UNIX); CONNECTION is the connection number used when
 * CONFIG->per_connection is set (then SA is not looked at).
 * Returns 0 and fills *KEY, or calls nbdkit_error and returns -1.
 */
extern int client_key_from_sockaddr (const struct client_key_config *config,
                                     const struct sockaddr *sa, size_t len,
                                     int64_t peer_uid, uint64_t connection,
                                     struct client_key *key);

extern bool client_key_equal (const struct client_key *a,
                              const struct client_key *b);

/* SipHash-1-3 of the key under SECRET (secret.h). */
extern uint64_t client_key_hash (const struct client_key *key,
                                 const uint8_t secret[SECRET_BYTES]);

/* Human-readable form: "192.0.2.0/24", "2001:db8::/64", "uid:1000",
 * "vsock:3", "connection:17".  BUF must hold CLIENT_KEY_STRLEN bytes.
 * Returns BUF.
 */
extern char *client_key_format (const struct client_key *key, char *buf);

#endif /* RATETIER_CLIENT_KEY_H */
