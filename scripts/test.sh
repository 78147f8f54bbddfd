#!/bin/bash
# Run sandbag's whole test suite: install what it needs, build with
# -Werror, run every test, and end with the line "N passed, N failed".
#
# Every test is a core test: a test that skips counts as failed unless
# SANDBAG_ALLOW_SKIP=1 is set (never in CI).
#
# Environment:
#   BUILDDIR            build directory (default: build-test under the source)
#   SANDBAG_ALLOW_SKIP  1 to report skips instead of failing them
#   SANDBAG_TEST_JOBS   tests run at once (default 2)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"

# nbdsh and the tests' Python must be Debian's, which has the nbd module.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

builddir=${BUILDDIR:-$top/build-test}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$top" --werror
fi
ninja -C "$builddir"

status=0
meson test -C "$builddir" --print-errorlogs \
  --num-processes "${SANDBAG_TEST_JOBS:-2}" || status=$?

python3 - "$builddir/meson-logs/testlog.json" "${SANDBAG_ALLOW_SKIP:-0}" <<'PY'
import json, sys
log, allow_skip = sys.argv[1], sys.argv[2] == "1"
passed = failed = skipped = 0
for line in open(log):
    r = json.loads(line)
    if r["result"] == "OK":
        passed += 1
    elif r["result"] == "SKIP" and allow_skip:
        skipped += 1
    else:
        if r["result"] == "SKIP":
            print(f"core test skipped (counted as failed): {r['name']}")
        failed += 1
tail = f", {skipped} skipped" if allow_skip else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed else 0)
PY
