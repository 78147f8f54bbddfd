#!/usr/bin/env bash
# ratetier: IPv6 clients are counted by their /64 (ratetier-ipv6-prefix).
# In a private network namespace, loopback gets three addresses, two in
# one /64 and one in another; clients bound to each connect to nbdkit
# on [::1].  The scheduler trace must show the first two sharing one
# count and the third starting from zero.
source "$(dirname "$0")/functions.sh"
set -e -x

requires_root
requires nbdsh --version
requires unshare --net true
requires ip -V

truncate -s 1M "$tmp/disk"
export tmp

unshare --net bash -e -x -c '
ip link set lo up
for a in 2001:db8:0:1::a 2001:db8:0:1::b 2001:db8:0:2::a; do
  ip -6 addr add "$a/128" dev lo nodad
done
nbdkit -f -i ::1 -p 10809 --log=stderr -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  2>"$tmp/log" &
pid=$!
trap "kill $pid; wait $pid" EXIT
python3 - <<PY
import nbd, socket, time

def read_from(source, blocks):
    s = socket.socket(socket.AF_INET6)
    s.bind((source, 0))
    deadline = time.monotonic() + 30
    while True:
        try:
            s.connect(("::1", 10809))
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    h = nbd.NBD()
    h.connect_socket(s.detach())
    for i in range(blocks):
        h.pread(4096, i * 4096)
    h.shutdown()

read_from("2001:db8:0:1::a", 5)
read_from("2001:db8:0:1::b", 1)     # same /64: same client
read_from("2001:db8:0:2::a", 1)     # another /64
PY
'

grep 'sched: admit' "$tmp/log" | sed -n '1p;6p;7p' |
  sed 's/.*client=\([^ ]*\) .*delivered=\([0-9]*\).*/\1=\2/' > "$tmp/seen"
cat "$tmp/seen"
test "$(tr '\n' ' ' < "$tmp/seen")" = \
  "2001:db8:0:1::/64=0 2001:db8:0:1::/64=5 2001:db8:0:2::/64=0 "
