/* ratetier: this process's sockets connected to a peer (see
 * peer-socket.h).
 */
#include <dirent.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "peer-socket.h"

bool
peer_socket_same (const struct sockaddr_storage *a,
                  const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
    return x->sin_port == y->sin_port &&
      x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
    return x->sin6_port == y->sin6_port &&
      x->sin6_scope_id == y->sin6_scope_id &&
      memcmp (&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return false;
}

size_t
peer_socket_find (const struct sockaddr_storage *peer, int *fds, size_t max)
{
  DIR *dir;
  struct dirent *d;
  size_t n = 0;

  dir = opendir ("/proc/self/fd");
  if (dir == NULL)
    return 0;
  while ((d = readdir (dir)) != NULL) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char *end;
    long fd = strtol (d->d_name, &end, 10);

    if (*end || end == d->d_name || fd == dirfd (dir))
      continue;
    /* getpeername fails with ENOTSOCK on anything but a socket. */
    memset (&ss, 0, sizeof ss);
    if (getpeername (fd, (struct sockaddr *) &ss, &len) == -1)
      continue;
    if (peer_socket_same (&ss, peer)) {
      if (n < max)
        fds[n] = fd;
      n++;
    }
  }
  closedir (dir);
  return n;
}
