/* Whole reads and writes: loops over pread/pwrite/write that retry on
 * EINTR and on short transfers, shared by every component that reads
 * or writes a file of its own (state, status and heat map files).
 *
 * Each returns 0 when all LEN bytes were transferred, or -1 with errno
 * set; a read that reaches end of file early fails with errno EIO (the
 * file is shorter than its caller was entitled to expect).
 */
#ifndef SANDBAG_FULL_IO_H
#define SANDBAG_FULL_IO_H

#include <stddef.h>
#include <sys/types.h>

extern int full_pread (int fd, void *buf, size_t len, off_t offset);
extern int full_pwrite (int fd, const void *buf, size_t len, off_t offset);
extern int full_write (int fd, const void *buf, size_t len);

#endif /* SANDBAG_FULL_IO_H */
