/* ratetier: find this process's sockets connected to a given peer.
 *
 * nbdkit 1.32 gives a filter no way to close a connection, nor the
 * connection's socket; it gives only the peer's address
 * (nbdkit_peer_name).  For TCP the peer's address and port identify the
 * connection among this server's, so the connection guard looks its
 * socket up by them: peer_socket_find scans /proc/self/fd and calls
 * getpeername on each descriptor.
 *
 * Only AF_INET and AF_INET6 peers ever match (a Unix-domain peer is
 * unnamed and would match every Unix connection).  The caller decides
 * what to do with zero or several matches; the guard keeps out unless
 * there is exactly one it does not already hold.
 */
#ifndef RATETIER_PEER_SOCKET_H
#define RATETIER_PEER_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Whether A and B (as from getpeername) are the same TCP endpoint:
 * family, address, port (and scope for IPv6). */
extern bool peer_socket_same (const struct sockaddr_storage *a,
                              const struct sockaddr_storage *b);

/* Store in FDS up to MAX descriptors of this process whose socket peer
 * is PEER.  Returns how many there are, which may exceed MAX (then only
 * MAX were stored), or 0 if /proc/self/fd cannot be read. */
extern size_t peer_socket_find (const struct sockaddr_storage *peer,
                                int *fds, size_t max);

#endif /* RATETIER_PEER_SOCKET_H */
