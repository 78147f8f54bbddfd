/* Unit test: finding this process's sockets by their peer
 * (filters/ratetier/peer-socket.c), over real loopback connections.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "../filters/ratetier/peer-socket.h"

/* A listening socket on 127.0.0.1, a port the kernel chooses. */
static int
listener (struct sockaddr_in *addr)
{
  socklen_t len = sizeof *addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (fd, >=, 0);
  memset (addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) addr, sizeof *addr), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) addr, &len), ==, 0);
  return fd;
}

static void
test_find (void)
{
  struct sockaddr_in addr;
  struct sockaddr_storage client_name, other_name;
  socklen_t len;
  int lfd = listener (&addr);
  int client = socket (AF_INET, SOCK_STREAM, 0);
  int other = socket (AF_INET, SOCK_STREAM, 0);
  int served, served_other, fds[4];

  g_assert_cmpint (connect (client, (struct sockaddr *) &addr,
                            sizeof addr), ==, 0);
  g_assert_cmpint (connect (other, (struct sockaddr *) &addr,
                            sizeof addr), ==, 0);
  served = accept (lfd, NULL, NULL);
  served_other = accept (lfd, NULL, NULL);
  g_assert_cmpint (served, >=, 0);
  g_assert_cmpint (served_other, >=, 0);

  /* The server side of a connection is the one socket whose peer is the
   * client's local address. */
  len = sizeof client_name;
  memset (&client_name, 0, sizeof client_name);
  g_assert_cmpint (getsockname (client, (struct sockaddr *) &client_name,
                                &len), ==, 0);
  len = sizeof other_name;
  memset (&other_name, 0, sizeof other_name);
  g_assert_cmpint (getsockname (other, (struct sockaddr *) &other_name,
                                &len), ==, 0);
  g_assert_false (peer_socket_same (&client_name, &other_name));

  g_assert_cmpuint (peer_socket_find (&client_name, fds, 4), ==, 1);
  g_assert_cmpint (fds[0], ==, served);
  g_assert_cmpuint (peer_socket_find (&other_name, fds, 4), ==, 1);
  g_assert_cmpint (fds[0], ==, served_other);

  /* A duplicate is a second descriptor of the same socket: both count,
   * and MAX bounds what is stored, not what is counted. */
  int dup_fd = dup (served);
  g_assert_cmpuint (peer_socket_find (&client_name, fds, 1), ==, 2);
  g_assert_true (fds[0] == served || fds[0] == dup_fd);

  /* Once closed, nothing matches. */
  close (dup_fd);
  close (served);
  g_assert_cmpuint (peer_socket_find (&client_name, fds, 4), ==, 0);

  close (served_other);
  close (client);
  close (other);
  close (lfd);
}

static void
test_unix_never_matches (void)
{
  int sv[2];
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  int fds[4];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  memset (&peer, 0, sizeof peer);
  g_assert_cmpint (getpeername (sv[0], (struct sockaddr *) &peer, &len),
                   ==, 0);
  g_assert_cmpuint (peer_socket_find (&peer, fds, 4), ==, 0);
  close (sv[0]);
  close (sv[1]);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peer-socket/find", test_find);
  g_test_add_func ("/peer-socket/unix-never-matches", test_unix_never_matches);
  return g_test_run ();
}
