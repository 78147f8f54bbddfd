#!/usr/bin/env bash
# sandbag: read-only whatever nbdkit's flags (no -r here): the export is
# advertised read-only, and a write, trim or zero sent anyway gets an
# EPERM error reply while the connection stays usable and the image is
# unchanged.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

head -c 1M /dev/urandom > "$tmp/image"
cp "$tmp/image" "$tmp/original"

cat > "$tmp/check.py" <<'PY'
import os
image = open(os.path.join(os.environ["tmp"], "original"), "rb").read()
assert h.is_read_only()
assert not h.can_trim() and not h.can_zero() and not h.can_flush()
assert not h.can_fua() and not h.can_fast_zero()
# Send the commands anyway: libnbd would refuse them itself otherwise.
h.set_strict_mode(0)
attempts = [("write", lambda: h.pwrite(b"\xaa" * 4096, 0)),
            ("write-fua", lambda: h.pwrite(b"\xaa" * 512, 8192,
                                           nbd.CMD_FLAG_FUA)),
            ("trim", lambda: h.trim(65536, 0)),
            ("zero", lambda: h.zero(65536, 0)),
            ("fast-zero", lambda: h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)),
            ("flush", lambda: h.flush())]
for what, attempt in attempts:
    try:
        attempt()
    except nbd.Error as e:
        assert e.errno in ("EPERM", "EINVAL"), (what, e)
        print(what, "refused:", e.errno)
    else:
        raise AssertionError(what + " succeeded")
    # The connection is still usable and the data unchanged.
    assert h.pread(65536, 0) == image[:65536], what
    assert h.pread(512, 8192) == image[8192:8704], what
PY

nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" \
  --run 'nbdsh -u "$uri" -c - < "$tmp/check.py"' > "$tmp/out"
cat "$tmp/out"
# Write, trim and zero get EPERM in particular (nbdkit's reply to any
# write on a read-only export); flush, never advertised, gets EINVAL.
grep '^write refused: EPERM' "$tmp/out"
grep '^trim refused: EPERM' "$tmp/out"
grep '^zero refused: EPERM' "$tmp/out"
cmp "$tmp/image" "$tmp/original"

mkdir "$tmp/dir"
mv "$tmp/image" "$tmp/dir/disk"
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" \
  --run 'nbdsh -u "nbd+unix:///disk?socket=$unixsocket" -c - < "$tmp/check.py"'
cmp "$tmp/dir/disk" "$tmp/original"

# Multi-conn is advertised (safe: read-only), unless turned off.
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" \
  --run 'nbdsh -u "nbd+unix:///disk?socket=$unixsocket" \
           -c "assert h.can_multi_conn()"'
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" multi-conn=false \
  --run 'nbdsh -u "nbd+unix:///disk?socket=$unixsocket" \
           -c "assert not h.can_multi_conn()"'
