#!/usr/bin/env bash
# sandbag: block sizes are advertised (defaults and parameters) and
# enforced: a read or cache request longer than the maximum, or not
# aligned to the minimum, gets EINVAL and the connection stays usable;
# a long block status request is answered, not refused.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

# 40 MiB: room for requests over the default 32M maximum.
truncate -s 40M "$tmp/image"
head -c 1M /dev/urandom | dd of="$tmp/image" bs=1M seek=3 conv=notrunc iflag=fullblock status=none
head -c 1M /dev/urandom | dd of="$tmp/image" bs=1M seek=39 conv=notrunc iflag=fullblock status=none

cat > "$tmp/check.py" <<'PY'
import os
image = open(os.path.join(os.environ["tmp"], "image"), "rb").read()
minimum, preferred, maximum = map(int, os.environ["EXPECT"].split())
assert h.get_block_size(nbd.SIZE_MINIMUM) == minimum
assert h.get_block_size(nbd.SIZE_PREFERRED) == preferred
assert h.get_block_size(nbd.SIZE_MAXIMUM) == maximum
h.set_strict_mode(0)            # let oversize requests reach the server

def usable():
    assert h.pread(preferred, 3 << 20) == image[3 << 20:(3 << 20) + preferred]

def einval(what, f):
    try:
        f()
    except nbd.Error as e:
        assert e.errno == "EINVAL", (what, e)
    else:
        raise AssertionError(what + " was not refused")
    usable()

assert h.pread(maximum, 0) == image[:maximum]
h.cache(maximum, 0)
einval("read over maximum", lambda: h.pread(maximum + minimum, 0))
einval("read far over maximum", lambda: h.pread(40 << 20, 0))
einval("cache over maximum", lambda: h.cache(maximum + minimum, 0))
if minimum > 1:
    einval("unaligned read offset", lambda: h.pread(minimum, 1))
    einval("unaligned read length", lambda: h.pread(minimum + 1, 0))
    einval("unaligned cache", lambda: h.cache(minimum, minimum // 2))

# Block status over the whole image is answered (perhaps in part).
seen = []
def cb(metacontext, offset, entries, err):
    seen.extend(entries)
h.block_status(40 << 20, 0, cb)
assert len(seen) >= 2 and seen[0] > 0
usable()
print("ok", minimum, preferred, maximum)
PY

EXPECT="1 4096 33554432" nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" \
  --run 'nbdsh --base-allocation -u "$uri" -c - < "$tmp/check.py"'
EXPECT="512 65536 1048576" nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" \
  minimum=512 preferred=64K maximum=1M \
  --run 'nbdsh --base-allocation -u "$uri" -c - < "$tmp/check.py"'
EXPECT="4096 4096 4096" nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" \
  minimum=4K preferred=4K maximum=4K \
  --run 'nbdsh --base-allocation -u "$uri" -c - < "$tmp/check.py"'
