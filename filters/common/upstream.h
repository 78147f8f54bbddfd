/* The client side: one connection to a sandbag server, asking for a
 * pinned version, through libnbd (used by the relay plugin and by
 * sandbag-attach).
 *
 * Every wait is bounded: connecting (handshake included) by the
 * connect timeout, a read by the request timeout, so that a server that
 * stops answering without closing the connection (a blocked port, a
 * dead NAT mapping) is noticed in seconds, not after TCP's minutes.
 * While waiting, STILL_WANTED is asked about once a second; when it
 * returns false (nbdkit is shutting down, or the local client left) the
 * wait ends with ESHUTDOWN.
 *
 * A connection is only handed out after checking that the server
 * serves exactly the expected version: the size, and the pinned name
 * and SHA-256 in its description (version.h), must all match.
 *
 * Threads: an upstream is used by one thread at a time (the relay
 * serializes each local connection's requests).  No nbdkit calls here.
 */
#ifndef SANDBAG_UPSTREAM_H
#define SANDBAG_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "version.h"

struct nbd_handle;

struct upstream {
  struct nbd_handle *nbd;       /* NULL: not connected */
};

enum upstream_result {
  UPSTREAM_OK,
  UPSTREAM_FAILED,              /* transport or server error: try again */
  UPSTREAM_WRONG_VERSION,       /* the server serves other bytes */
  UPSTREAM_STOPPED,             /* STILL_WANTED said no */
};

typedef bool upstream_still_wanted (void);

/* Connect to URI (which names the export EXPECT->pinned) and check
 * that the server serves exactly EXPECT.  On anything but UPSTREAM_OK,
 * *REASON says why (a string valid until the next call in this thread)
 * and U stays closed.  If EXPECT->size is 0 the identity is learned
 * instead: *EXPECT is filled from the server's answer, which must
 * describe the version EXPECT->pinned or, if that is a plain NAME, any
 * version of NAME. */
extern enum upstream_result upstream_connect (struct upstream *u,
                                              const char *uri,
                                              struct version_ident *expect,
                                              int timeout_ms,
                                              upstream_still_wanted *still,
                                              const char **reason);

/* Read COUNT bytes at OFFSET into BUF.  On UPSTREAM_FAILED the
 * connection must be closed; *REASON says why. */
extern enum upstream_result upstream_pread (struct upstream *u, void *buf,
                                            uint32_t count, uint64_t offset,
                                            int timeout_ms,
                                            upstream_still_wanted *still,
                                            const char **reason);

extern void upstream_close (struct upstream *u);

#endif /* SANDBAG_UPSTREAM_H */
