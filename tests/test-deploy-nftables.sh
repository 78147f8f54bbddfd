#!/usr/bin/env bash
# tools/sandbag-server/nftables/sandbag.nft, loaded as shipped in a private network
# namespace: connections over the cap of one prefix (IPv4 /32 and /24,
# IPv6 /64, /56 and /48) are refused by the kernel, and nbdkit never
# accepts them, while a client of another prefix connects and reads;
# closing connections frees the cap; a burst of new connections from
# one address beyond the rate limit is refused.
source "$(dirname "$0")/functions.sh"
set -e -x

requires_root
requires nft --version
requires unshare --net true
requires ip -V
requires nbdsh --version

ruleset=$abs_top_srcdir/tools/sandbag-server/nftables/sandbag.nft
head -c $((1 << 20)) /dev/urandom > "$tmp/disk"
export tmp ruleset

unshare --net bash -e -x -c '
ip link set lo up
for a in 10.0.0.1 10.1.1.1 10.1.1.2 10.1.1.3 10.1.2.1 10.9.9.9 10.9.8.1; do
  ip addr add "$a/32" dev lo
done
for a in 2001:db8:ffff::1 2001:db8:1:100::1 2001:db8:1:101::1 \
         2001:db8:1:1ff::1 2001:db8:1:200::1 2001:db8:1:300::1 \
         2001:db8:1:400::1 2001:db8:2::1; do
  ip -6 addr add "$a/128" dev lo nodad
done
nft -f "$ruleset"
nft list table inet sandbag > "$tmp/loaded"
# nbdkit alone (no ratetier): every refusal here is the kernel'"'"'s.
nbdkit -f -v -p 10809 "$SANDBAG_PLUGIN" file="$tmp/disk" 2> "$tmp/nbdkit.log" &
pid=$!
trap "kill $pid; wait $pid" EXIT
python3 - <<PY
import os, socket, struct, time
import nbd

tmp = os.environ["tmp"]
image = open(f"{tmp}/disk", "rb").read()
held, accepted = [], 0

def connect(source, server, tries=1):
    """Connect from SOURCE; the socket, or None if refused."""
    global accepted
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    s = socket.socket(family)
    s.bind((source, 0))
    for i in range(tries):
        try:
            s.connect((server, 10809))
            accepted += 1
            return s
        except ConnectionRefusedError:
            if i + 1 == tries:
                s.close()
                return None
            time.sleep(0.1)

def server_for(source):
    return "2001:db8:ffff::1" if ":" in source else "10.0.0.1"

# Wait for nbdkit.
first = connect("10.9.9.9", "10.0.0.1", tries=100)
assert first is not None, "nbdkit did not start"
first.close()

def hold(source, n):
    """Open N connections from SOURCE and keep them; how many opened."""
    got = 0
    for _ in range(n):
        s = connect(source, server_for(source))
        if s is None:
            break
        held.append(s)
        got += 1
    return got

def reads_ok(source):
    """A real client of SOURCE connects and reads."""
    global accepted
    s = connect(source, server_for(source))
    assert s is not None, f"{source} refused"
    h = nbd.NBD()
    h.connect_socket(s.detach())
    assert h.pread(4096, 8192) == image[8192:12288]
    h.shutdown()
    return True

# IPv4: 16 per address, 32 per /24; another /24 is not affected.
assert hold("10.1.1.1", 20) == 16
assert hold("10.1.1.2", 20) == 16
assert hold("10.1.1.3", 5) == 0
assert reads_ok("10.1.2.1")
# IPv6: 16 per /64, 32 per /56, 64 per /48; another /48 is not affected.
assert hold("2001:db8:1:100::1", 20) == 16
assert hold("2001:db8:1:101::1", 20) == 16
assert hold("2001:db8:1:1ff::1", 5) == 0        # same /56, full
assert hold("2001:db8:1:200::1", 20) == 16      # other /56s of the /48
assert hold("2001:db8:1:300::1", 20) == 16
assert hold("2001:db8:1:400::1", 5) == 0        # the /48 is full
assert reads_ok("2001:db8:2::1")

# Closing connections frees the cap.
for s in held[:16]:
    s.close()
del held[:16]
for _ in range(100):
    s = connect("10.1.1.3", "10.0.0.1")
    if s is not None:
        held.append(s)
        break
    time.sleep(0.1)
else:
    raise SystemExit("10.1.1.3 still refused after 10.1.1.1 closed")

# The rate limit: a burst of 32 new connections from a fresh address
# passes, more in a row are refused (4 per second refill: a loop of 200
# would have to take 40 s to slip through).  Each connection is reset
# at once (SO_LINGER 0), so that it no longer counts against the cap.
results = []
for _ in range(200):
    s = connect("10.9.8.1", "10.0.0.1")
    results.append(s is not None)
    if s is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
assert all(results[:32]), results[:32]
assert not all(results), "no new connection was refused"
print(f"rate: {results.count(True)} of 200 accepted")

time.sleep(1)   # nbdkit logs each accepted connection as it starts it
log = open(f"{tmp}/nbdkit.log").read()
seen = log.count("accepted connection")
print(f"connections: {accepted} accepted by the kernel, {seen} seen by nbdkit")
assert seen == accepted, (seen, accepted)
PY
nft list table inet sandbag > "$tmp/after"
'

cat "$tmp/after"
# Every level refused something, counted in its rule.
for set in rate4_32 conn4_32 conn4_24 conn6_64 conn6_56 conn6_48; do
  grep -E "@$set .* counter packets [1-9]" "$tmp/after"
done
