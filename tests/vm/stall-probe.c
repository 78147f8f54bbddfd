/* stall-probe: what a reading application sees of a volume while its
 * server goes away and comes back (scripts/bench-vm-client.sh runs it
 * in the VM harness's guest).
 *
 *   stall-probe make FILE MIB SEED    write a pattern file of MIB MiB
 *   stall-probe run FILE SEED MS MARK read it until SIGTERM; summary
 *   stall-probe now                   the boot-time clock, in ms
 *
 * The pattern: the 8-byte little-endian word at every offset O (a
 * multiple of 8) is O * 0x9e3779b97f4a7c15 ^ SEED, so every block says
 * where it belongs and which version (SEED) it is of, and no copy of the
 * file is needed to check it.
 *
 * run reads one 4 KiB block at a random place every MS milliseconds
 * (the next read at once when one took longer), past the page cache:
 * the file's cached pages are dropped first, POSIX_FADV_RANDOM turns
 * readahead off and POSIX_FADV_DONTNEED drops the block after each
 * read, so every read is one request to the block device.  A failed
 * read is counted and tried again at the next tick.  On SIGUSR1 it reads
 * from the file MARK when the server came back (a time of `stall-probe
 * now`, which may be in the past: the host says how long ago it
 * started the server).  On SIGTERM it prints
 *   reads N          reads that returned the right bytes
 *   errors N         reads that failed (EIO, ...)
 *   wrong N          reads that returned other bytes
 *   longest_gap_ms X the longest time between two successful reads
 *                    (or from the last one to the end of the run)
 *   recovery_ms X    from the last mark to the end of the next
 *                    successful read (-1: none, or no mark)
 * and exits 0, or 1 if any read returned other bytes.
 *
 * Times are CLOCK_BOOTTIME, the clock of /proc/uptime, so that a shell
 * can compare its own marks with them (`stall-probe now`).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MULT UINT64_C (0x9e3779b97f4a7c15)
/* The times of the last RING successful reads, to find the first after
 * a mark that lies in the past. */
#define RING 4096

static volatile sig_atomic_t stop, marked;

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
word_at (uint64_t offset, uint64_t seed)
{
  return offset * MULT ^ seed;
}

static void
fill (unsigned char *buf, uint64_t offset, uint64_t seed)
{
  size_t i;

  for (i = 0; i < BLOCK; i += 8) {
    uint64_t w = word_at (offset + i, seed);
    int b;

    for (b = 0; b < 8; b++)
      buf[i + b] = w >> (8 * b);
  }
}

static int
make (const char *path, const char *mib_s, uint64_t seed)
{
  unsigned char buf[BLOCK];
  uint64_t size = strtoull (mib_s, NULL, 10) << 20, off;
  FILE *f = fopen (path, "wb");

  if (f == NULL || size == 0) {
    fprintf (stderr, "stall-probe: %s: %s\n", path,
             f ? "size must be at least 1 MiB" : strerror (errno));
    return 2;
  }
  for (off = 0; off < size; off += BLOCK) {
    fill (buf, off, seed);
    if (fwrite (buf, BLOCK, 1, f) != 1)
      break;
  }
  if (fclose (f) != 0 || off < size) {
    fprintf (stderr, "stall-probe: %s: write failed\n", path);
    return 2;
  }
  return 0;
}

static void
on_signal (int sig)
{
  if (sig == SIGUSR1)
    marked = 1;
  else
    stop = 1;
}

/* The time in the file MARK, or -1. */
static int64_t
read_mark (const char *mark_path)
{
  FILE *f = fopen (mark_path, "r");
  long long t = -1;

  if (f == NULL || fscanf (f, "%lld", &t) != 1)
    fprintf (stderr, "stall-probe: %s: no time in it\n", mark_path);
  if (f)
    fclose (f);
  return t;
}

static int
run (const char *path, uint64_t seed, const char *interval_s,
     const char *mark_path)
{
  static int64_t ring[RING];
  unsigned char want[BLOCK], got[BLOCK];
  int64_t interval = strtoll (interval_s, NULL, 10);
  int64_t last_ok, mark = -1, recovery = -1, longest = 0, next;
  uint64_t nblocks, rng, reads = 0, errors = 0, wrong = 0, i;
  struct sigaction sa = { .sa_handler = on_signal };
  off_t size;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd == -1 || (size = lseek (fd, 0, SEEK_END)) < BLOCK || interval < 1) {
    fprintf (stderr, "stall-probe: %s: %s\n", path,
             fd == -1 ? strerror (errno) : "too small, or bad interval");
    return 2;
  }
  nblocks = size / BLOCK;
  posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
  posix_fadvise (fd, 0, 0, POSIX_FADV_RANDOM);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGUSR1, &sa, NULL);
  rng = (uint64_t) now_ms () * MULT | 1;
  last_ok = next = now_ms ();

  while (!stop) {
    uint64_t off;
    int64_t t;

    /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    off = rng % nblocks * BLOCK;
    if (marked) {
      /* The first success at or after the mark, if it came already. */
      marked = 0;
      mark = read_mark (mark_path);
      recovery = -1;
      for (i = reads > RING ? reads - RING : 0; mark >= 0 && i < reads; i++)
        if (ring[i % RING] >= mark) {
          recovery = ring[i % RING] - mark;
          break;
        }
    }
    if (pread (fd, got, BLOCK, off) != BLOCK) {
      errors++;
      fprintf (stderr, "stall-probe: read at %" PRIu64 ": %s\n", off,
               strerror (errno));
    }
    else {
      fill (want, off, seed);
      if (memcmp (got, want, BLOCK) != 0) {
        wrong++;
        fprintf (stderr, "stall-probe: read at %" PRIu64 ": other bytes\n",
                 off);
      }
      else {
        t = now_ms ();
        ring[reads % RING] = t;
        reads++;
        if (t - last_ok > longest)
          longest = t - last_ok;
        last_ok = t;
        if (mark >= 0 && recovery < 0)
          recovery = t - mark;
      }
    }
    posix_fadvise (fd, off, BLOCK, POSIX_FADV_DONTNEED);

    next += interval;
    t = now_ms ();
    if (next > t)
      usleep ((next - t) * 1000);
    else
      next = t;
  }
  /* A stall still going on when the probe stops counts too. */
  if (now_ms () - last_ok > longest)
    longest = now_ms () - last_ok;
  printf ("reads %" PRIu64 "\nerrors %" PRIu64 "\nwrong %" PRIu64 "\n"
          "longest_gap_ms %" PRId64 "\nrecovery_ms %" PRId64 "\n",
          reads, errors, wrong, longest, recovery);
  return wrong > 0;
}

int
main (int argc, char *argv[])
{
  if (argc == 2 && strcmp (argv[1], "now") == 0) {
    printf ("%" PRId64 "\n", now_ms ());
    return 0;
  }
  if (argc == 5 && strcmp (argv[1], "make") == 0)
    return make (argv[2], argv[3], strtoull (argv[4], NULL, 0));
  if (argc == 6 && strcmp (argv[1], "run") == 0)
    return run (argv[2], strtoull (argv[3], NULL, 0), argv[4], argv[5]);
  fprintf (stderr, "usage: stall-probe make FILE MIB SEED | "
           "run FILE SEED MS MARK | now\n");
  return 2;
}
