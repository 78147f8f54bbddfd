# request-stats.py LOG FIRST LAST NAME: what a client asked for, from
# the lines FIRST..LAST (1-based, inclusive) of an nbdkit log filter's
# logfile: the number of reads and bytes, the read sizes, how many
# connections carried reads, the most reads one connection (and all of
# them) had in flight at once, and the share of sequential reads (those
# starting at most 8 KiB before where one of the last 256 reads ended,
# or right there).  Prints one line of figures, then "NAME: KEY VALUE"
# lines for the tests to check.
import collections
import re
import sys

log, first, last, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = re.compile(r"connection=(\d+) (\w+) id=(\d+) "
                   r"(?:offset=0x([0-9a-f]+) count=0x([0-9a-f]+))?")
done = re.compile(r"connection=(\d+) \.\.\.(\w+) id=(\d+) ")

reads = 0
total = 0
sizes = collections.Counter()
others = collections.Counter()
inflight = collections.defaultdict(set)
max_inflight = 0
max_total = 0
connections = set()
ends = collections.deque(maxlen=256)   # where recent reads ended
sequential = 0

with open(log) as f:
    for number, line in enumerate(f, 1):
        if number < first or number > last:
            continue
        m = done.search(line)
        if m:
            inflight[m[1]].discard(m[3])
            continue
        m = start.search(line)
        if not m or m[2] in ("Connect", "Disconnect"):
            continue
        if m[2] != "Read":
            others[m[2]] += 1
            continue
        conn, offset, count = m[1], int(m[4], 16), int(m[5], 16)
        reads += 1
        total += count
        sizes[count] += 1
        connections.add(conn)
        inflight[conn].add(m[3])
        max_inflight = max(max_inflight, len(inflight[conn]))
        max_total = max(max_total, sum(len(s) for s in inflight.values()))
        if any(end - 8192 <= offset <= end for end in ends):
            sequential += 1
        ends.append(offset + count)


def kib(n):
    return "%g KiB" % (n / 1024)


common = ", ".join("%s x%d" % (kib(s), c) for s, c in sizes.most_common(4))
print("%s: %d reads, %s; sizes: %s; largest %s; connections used: %d; "
      "most in flight: %d on one connection, %d in all; sequential: %d%%%s"
      % (name, reads, kib(total), common or "-",
         kib(max(sizes)) if sizes else "-", len(connections), max_inflight,
         max_total,
         100 * sequential // max(reads, 1),
         "; other requests: " + ", ".join("%s x%d" % kv for kv in others.items())
         if others else ""))
print("%s: reads %d" % (name, reads))
print("%s: bytes %d" % (name, total))
print("%s: max_inflight %d" % (name, max_inflight))
print("%s: largest %d" % (name, max(sizes) if sizes else 0))
