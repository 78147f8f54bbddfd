/* Unit test: client keys (filters/ratetier/client-key.c).
 *
 * Addresses within one prefix share a key, addresses outside it do
 * not, IPv4-mapped IPv6 is IPv4, Unix peers are keyed by uid, and
 * per-connection keys ignore the address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <glib.h>

#include "nbdkit-shim.h"
#include "../filters/ratetier/client-key.h"

static const uint8_t secret[16] = "0123456789abcdef";

/* Key of an address given as text (IPv4 or IPv6). */
static struct client_key
key_of (const struct client_key_config *config, const char *text)
{
  struct sockaddr_storage ss;
  struct client_key key;
  size_t len;

  memset (&ss, 0, sizeof ss);
  if (strchr (text, ':')) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons (10809);
    g_assert_cmpint (inet_pton (AF_INET6, text, &sin6->sin6_addr), ==, 1);
    len = sizeof *sin6;
  }
  else {
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons (10809);
    g_assert_cmpint (inet_pton (AF_INET, text, &sin->sin_addr), ==, 1);
    len = sizeof *sin;
  }
  g_assert_cmpint (client_key_from_sockaddr (config, (struct sockaddr *) &ss,
                                             len, -1, 0, &key), ==, 0);
  return key;
}

static void
assert_key (const struct client_key_config *config, const char *addr,
            const char *expected)
{
  struct client_key key = key_of (config, addr);
  char buf[CLIENT_KEY_STRLEN];

  g_assert_cmpstr (client_key_format (&key, buf), ==, expected);
}

static bool
same (const struct client_key_config *config, const char *a, const char *b)
{
  struct client_key ka = key_of (config, a), kb = key_of (config, b);
  bool eq = client_key_equal (&ka, &kb);

  /* Equal keys must hash equally. */
  if (eq)
    g_assert_cmpuint (client_key_hash (&ka, secret), ==,
                      client_key_hash (&kb, secret));
  return eq;
}

static void
test_ipv4 (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;

  assert_key (&c, "192.0.2.77", "192.0.2.77/32");
  g_assert_false (same (&c, "192.0.2.77", "192.0.2.78"));
  g_assert_true (same (&c, "192.0.2.77", "192.0.2.77"));

  c.ipv4_prefix = 24;
  assert_key (&c, "192.0.2.77", "192.0.2.0/24");
  g_assert_true (same (&c, "192.0.2.1", "192.0.2.254"));
  g_assert_false (same (&c, "192.0.2.1", "192.0.3.1"));

  c.ipv4_prefix = 20;
  assert_key (&c, "10.1.31.200", "10.1.16.0/20");
  g_assert_true (same (&c, "10.1.16.0", "10.1.31.255"));
  g_assert_false (same (&c, "10.1.15.255", "10.1.16.0"));

  c.ipv4_prefix = 0;
  assert_key (&c, "203.0.113.9", "0.0.0.0/0");
  g_assert_true (same (&c, "1.2.3.4", "250.6.7.8"));
}

static void
test_ipv6 (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;

  /* Default /64: a host's whole subnet is one client. */
  assert_key (&c, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64");
  g_assert_true (same (&c, "2001:db8:1:2::1", "2001:db8:1:2:ffff::9"));
  g_assert_false (same (&c, "2001:db8:1:2::1", "2001:db8:1:3::1"));

  c.ipv6_prefix = 48;
  assert_key (&c, "2001:db8:1:2::1", "2001:db8:1::/48");
  g_assert_true (same (&c, "2001:db8:1:2::1", "2001:db8:1:ffff::1"));
  g_assert_false (same (&c, "2001:db8:1::1", "2001:db8:2::1"));

  c.ipv6_prefix = 60;           /* not a byte boundary */
  g_assert_true (same (&c, "2001:db8:0:10::1", "2001:db8:0:1f::1"));
  g_assert_false (same (&c, "2001:db8:0:1f::1", "2001:db8:0:20::1"));

  c.ipv6_prefix = 128;
  g_assert_false (same (&c, "2001:db8::1", "2001:db8::2"));
  assert_key (&c, "::1", "::1/128");
}

static void
test_v4mapped (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;

  assert_key (&c, "::ffff:192.0.2.5", "192.0.2.5/32");
  g_assert_true (same (&c, "::ffff:192.0.2.5", "192.0.2.5"));
  c.ipv4_prefix = 24;
  g_assert_true (same (&c, "::ffff:192.0.2.5", "192.0.2.200"));
  /* A v4-compatible (not mapped) address is plain IPv6. */
  c.ipv6_prefix = 128;
  g_assert_false (same (&c, "::192.0.2.5", "192.0.2.5"));
}

static void
test_unix (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  struct client_key a, b;
  char buf[CLIENT_KEY_STRLEN];

  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sun,
                                             sizeof sun, 1000, 1, &a), ==, 0);
  g_assert_cmpstr (client_key_format (&a, buf), ==, "uid:1000");
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sun,
                                             sizeof sun, 1000, 2, &b), ==, 0);
  g_assert_true (client_key_equal (&a, &b));
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sun,
                                             sizeof sun, 0, 3, &b), ==, 0);
  g_assert_false (client_key_equal (&a, &b));

  shim_clear_error ();
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sun,
                                             sizeof sun, -1, 1, &a), ==, -1);
  g_assert_nonnull (strstr (shim_last_error (), "uid"));
}

static void
test_per_connection (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;
  struct sockaddr_in sin = { .sin_family = AF_INET };
  struct client_key a, b;
  char buf[CLIENT_KEY_STRLEN];

  c.per_connection = true;
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sin,
                                             sizeof sin, -1, 7, &a), ==, 0);
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sin,
                                             sizeof sin, -1, 8, &b), ==, 0);
  g_assert_false (client_key_equal (&a, &b));
  g_assert_cmpstr (client_key_format (&a, buf), ==, "connection:7");
}

static void
test_bad_address (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;
  struct sockaddr_in sin = { .sin_family = AF_INET };
  struct sockaddr sa = { .sa_family = AF_APPLETALK };
  struct client_key k;

  shim_clear_error ();
  g_assert_cmpint (client_key_from_sockaddr (&c, (struct sockaddr *) &sin,
                                             4, -1, 0, &k), ==, -1);
  g_assert_nonnull (strstr (shim_last_error (), "truncated"));
  shim_clear_error ();
  g_assert_cmpint (client_key_from_sockaddr (&c, &sa, sizeof sa,
                                             -1, 0, &k), ==, -1);
  g_assert_nonnull (strstr (shim_last_error (), "family"));
  g_assert_cmpint (client_key_from_sockaddr (&c, NULL, 0, -1, 0, &k), ==, -1);
}

static void
test_hash_keyed (void)
{
  struct client_key_config c = CLIENT_KEY_CONFIG_DEFAULT;
  struct client_key k = key_of (&c, "192.0.2.1");
  static const uint8_t other[16] = "fedcba9876543210";

  g_assert_cmpuint (client_key_hash (&k, secret), !=,
                    client_key_hash (&k, other));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratetier/client-key/ipv4", test_ipv4);
  g_test_add_func ("/ratetier/client-key/ipv6-prefix", test_ipv6);
  g_test_add_func ("/ratetier/client-key/v4mapped", test_v4mapped);
  g_test_add_func ("/ratetier/client-key/unix", test_unix);
  g_test_add_func ("/ratetier/client-key/per-connection", test_per_connection);
  g_test_add_func ("/ratetier/client-key/bad-address", test_bad_address);
  g_test_add_func ("/ratetier/client-key/hash-keyed", test_hash_keyed);
  return g_test_run ();
}
