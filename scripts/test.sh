#!/bin/bash
# Run sandbag's whole test suite: install what it needs, build with
# -Werror, run every test, and end with the line "N passed, N failed".
#
# Stages (SANDBAG_STAGES, default all five, in this order):
#   plain     build-test: every test, modules built as shipped.
#   asan      build-asan: gcc with AddressSanitizer + UndefinedBehavior-
#             Sanitizer; every test again, nbdkit (not instrumented itself)
#             loading the instrumented modules with the sanitizer runtime
#             preloaded through tests/sanitizers/nbdkit.  Every sanitizer
#             report found afterwards counts as one failure.
#   valgrind  the core tests in SANDBAG_VALGRIND_TESTS again, nbdkit under
#             valgrind memcheck; each process with an error or a definite
#             leak counts as one failure.
#   fuzz      build-fuzz: clang libFuzzer harnesses (tests/fuzz); replay
#             the seed corpora and regression cases, then fuzz each target
#             for SANDBAG_FUZZ_SECONDS.  A crash counts as one failure.
#   package   build-package: the Debian packages built, checked with
#             lintian, installed into a clean Debian 12 root (debootstrap,
#             cached in build-package) and used there; one verdict per
#             step (tests/package/run-package-test.sh).  Needs Debian's
#             archive.
#
# Every test is a core test: a test that skips counts as failed unless
# SANDBAG_ALLOW_SKIP=1 is set (never in CI).
#
# Environment:
#   BUILDDIR               plain build directory (default: build-test)
#   SANDBAG_STAGES         stages to run (default "plain asan valgrind fuzz
#                          package")
#   SANDBAG_ALLOW_SKIP     1 to report skips instead of failing them
#   SANDBAG_TEST_JOBS      tests run at once (default 2)
#   SANDBAG_FUZZ_SECONDS   fuzzing time per target (default 30)
#   SANDBAG_VALGRIND_TESTS meson test names for the valgrind stage
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"

# nbdsh and the tests' Python must be Debian's, which has the nbd module.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

stages=${SANDBAG_STAGES:-plain asan valgrind fuzz package}
jobs=${SANDBAG_TEST_JOBS:-2}
allow_skip=${SANDBAG_ALLOW_SKIP:-0}

# One line per verdict, "PASS name" / "FAIL name" / "SKIP name", counted
# at the end.
results=$(mktemp "${TMPDIR:-/tmp}/sandbag-results.XXXXXX")
trap 'rm -f "$results"' EXIT

# The meson logs of the stages run, for the hostile suite's figures.
test_logs=()

verdict ()
{
  echo "$1 $2" >> "$results"
}

# collect LABEL BUILDDIR LOGBASE: add each test of one meson run (its
# log BUILDDIR/meson-logs/LOGBASE.json) to $results.
#
# meson reports a TAP test as passed when only some of its subtests were
# skipped (g_test_skip prints "ok N ... # SKIP"), so a unit test that
# skipped part of its work would pass unseen.  Here a TAP test (meson
# introspect says which) with any skipped subtest is a SKIP, which counts
# as a failure unless SANDBAG_ALLOW_SKIP=1.
collect ()
{
  local tap
  tap=$(meson introspect --tests "$2" 2>/dev/null) || tap='[]'
  python3 - "$1" "$2/meson-logs/$3.json" "$tap" >> "$results" <<'PY'
import json, re, sys
label, log, tests = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tap = {t["name"] for t in tests if t.get("protocol") == "tap"}
# A TAP test point with a SKIP directive (TAP 13: "# SKIP", any case).
skipped_point = re.compile(r"^ok\b[^#]*#\s*skip", re.I | re.M)
try:
    lines = open(log).readlines()
except OSError:
    print(f"FAIL {label}:no-test-log")
    sys.exit(0)
for line in lines:
    r = json.loads(line)
    word = {"OK": "PASS", "SKIP": "SKIP"}.get(r["result"], "FAIL")
    name = r["name"]
    if (word == "PASS" and name.rpartition(" / ")[2] in tap and
            skipped_point.search(r.get("stdout") or "")):
        word = "SKIP"
        for m in skipped_point.finditer(r["stdout"]):
            sys.stderr.write(f"{label}:{name}: skipped subtest: "
                             f"{r['stdout'][m.start():].splitlines()[0]}\n")
    print(f"{word} {label}:{name}")
PY
}

# meson_setup DIR ARGS...: configure DIR once.
meson_setup ()
{
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$top" "$@"
  fi
}

# --- plain -----------------------------------------------------------------
stage_plain ()
{
  local builddir=${BUILDDIR:-$top/build-test}
  meson_setup "$builddir" --werror
  ninja -C "$builddir"
  meson test -C "$builddir" --print-errorlogs --num-processes "$jobs" \
    --logbase plain || true
  collect plain "$builddir" plain
  test_logs+=("$builddir/meson-logs/plain.txt")
}

# --- asan ------------------------------------------------------------------
stage_asan ()
{
  local builddir=$top/build-asan
  local logdir=$builddir/sanitizer-logs
  local libasan libubsan

  CC=gcc meson_setup "$builddir" --werror \
    -Db_sanitize=address,undefined -Db_lundef=false
  ninja -C "$builddir"

  # nbdkit is not instrumented: preload the runtimes that match the
  # modules (gcc's), and make dlclose a no-op so that reports at exit
  # still name functions in the unloaded modules.
  libasan=$(gcc -print-file-name=libasan.so)
  libubsan=$(gcc -print-file-name=libubsan.so)
  gcc -shared -fPIC -O2 -o "$builddir/nodlclose.so" \
    "$top/tests/sanitizers/nodlclose.c"

  rm -rf "$logdir"
  mkdir -p "$logdir"
  # --timeout-multiplier 0.3: a test that hangs under the sanitizer
  # (as heatmap's exit once did) fails in minutes, not in 45.
  # SANDBAG_REPORT_DIR: where tests note a server they had to kill
  # with SIGKILL (it writes no report); the scanner counts each note.
  SANDBAG_NBDKIT_WRAPPER_DIR=$top/tests/sanitizers \
  SANDBAG_REPORT_DIR=$logdir \
  SANDBAG_SHUTDOWN_SECONDS=30 \
  SANDBAG_WRAP=asan \
  SANDBAG_SAN_PRELOAD="$libasan $libubsan $builddir/nodlclose.so" \
  ASAN_OPTIONS="log_path=$logdir/asan:halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1" \
  UBSAN_OPTIONS="log_path=$logdir/ubsan:halt_on_error=1:print_stacktrace=1" \
    meson test -C "$builddir" --print-errorlogs --num-processes "$jobs" \
      --timeout-multiplier 0.3 --logbase asan || true
  collect asan "$builddir" asan
  test_logs+=("$builddir/meson-logs/asan.txt")

  # Every report file is a failure, except leak reports in which every
  # leaked block was allocated by nbdkit's own (uninstrumented, stripped)
  # code: nbdkit 1.32 can exit with a connection thread still running and
  # its connection struct unfreed, which is not ours to fix.
  python3 "$top/tests/sanitizers/scan-reports.py" "$logdir" >> "$results"
}

# --- valgrind --------------------------------------------------------------
# The core tests: the plugin's data path, extents and snapshots, the
# heatmap's accounting, and the hostile suite's protocol abuse.  Each
# runs in seconds without valgrind; a missing name fails the stage.
# (Not test-sandbag-refused or -list: valgrind 3.19 does not know
# openat2, so sandbag falls back to refusing every symlink, and those
# tests check that a symlink inside the directory is served.)
default_valgrind_tests="\
test-sandbag-size test-sandbag-contents test-sandbag-extents \
test-sandbag-snapshot \
test-sandbag-readonly test-sandbag-blocksize test-heatmap-counts \
test-hostile-garbage test-hostile-requests"

stage_valgrind ()
{
  local builddir=${BUILDDIR:-$top/build-test}
  local logdir=$builddir/valgrind-logs
  local want=() t
  local -A have

  meson_setup "$builddir" --werror
  ninja -C "$builddir"
  # Run only the chosen tests that exist; a missing one is a failure, so
  # that renaming a core test cannot silently drop it from this stage.
  while read -r t; do have[$t]=1; done < <(meson test -C "$builddir" --list 2>/dev/null | sed 's/^.* \/ //')
  for t in ${SANDBAG_VALGRIND_TESTS:-$default_valgrind_tests}; do
    if [ -n "${have[$t]:-}" ]; then
      want+=("$t")
    else
      echo "valgrind stage: no test named $t"
      verdict FAIL "valgrind:$t:missing"
    fi
  done
  [ ${#want[@]} -gt 0 ] || return 0

  gcc -shared -fPIC -O2 -o "$builddir/nodlclose.so" \
    "$top/tests/sanitizers/nodlclose.c"
  rm -rf "$logdir"
  mkdir -p "$logdir"
  SANDBAG_NBDKIT_WRAPPER_DIR=$top/tests/sanitizers \
  SANDBAG_REPORT_DIR=$logdir \
  SANDBAG_SHUTDOWN_SECONDS=60 \
  SANDBAG_WRAP=valgrind \
  SANDBAG_VG_PRELOAD=$builddir/nodlclose.so \
  SANDBAG_VG_LOGDIR=$logdir \
  SANDBAG_VG_SUPP=$top/tests/sanitizers/valgrind.supp \
    meson test -C "$builddir" --print-errorlogs --num-processes "$jobs" \
      --timeout-multiplier 5 --logbase valgrind "${want[@]}" || true
  collect valgrind "$builddir" valgrind
  test_logs+=("$builddir/meson-logs/valgrind.txt")
  python3 "$top/tests/sanitizers/scan-reports.py" --valgrind "$logdir" \
    >> "$results"
}

# --- fuzz ------------------------------------------------------------------
stage_fuzz ()
{
  local builddir=$top/build-fuzz
  local seconds=${SANDBAG_FUZZ_SECONDS:-30}

  CC=clang meson_setup "$builddir" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false
  # Only the harnesses: the fuzz build exists for them.
  ninja -C "$builddir" $(ninja -C "$builddir" -t targets all |
                         sed -n 's|^\(tests/fuzz/fuzz-[a-z0-9-]*\): .*|\1|p' |
                         sort -u)
  # Replay seeds and regression cases (the 'fuzz' meson suite).
  meson test -C "$builddir" --suite fuzz --no-rebuild --print-errorlogs \
    --num-processes "$jobs" --logbase fuzz-replay || true
  collect fuzz "$builddir" fuzz-replay
  # Then fuzz each target for a bounded time.
  # (It prints each target's figures on stderr.)
  "$top/tests/fuzz/run-fuzzers.sh" "$builddir" "$seconds" >> "$results" || true
}

# --- package ---------------------------------------------------------------
stage_package ()
{
  local start=$SECONDS
  "$top/tests/package/run-package-test.sh" "$top/build-package" \
    >> "$results" || true
  echo "package stage: $((SECONDS - start)) s"
}

for stage in $stages; do
  case "$stage" in
    plain|asan|valgrind|fuzz|package)
      echo "=== stage $stage ==="
      "stage_$stage" ;;
    *)
      echo "$0: unknown stage $stage" >&2
      verdict FAIL "stage:$stage" ;;
  esac
done

# The hostile suite's figures (connections held off, peak threads and
# RSS, the well-behaved client's reads during each attack), one row per
# case and stage, for the record.
if [ ${#test_logs[@]} -gt 0 ]; then
  python3 "$top/tests/hostile/summary.py" "${test_logs[@]}" || true
fi

python3 - "$results" "$allow_skip" <<'PY'
import sys
results, allow_skip = sys.argv[1], sys.argv[2] == "1"
passed = failed = skipped = 0
for line in open(results):
    word, _, name = line.strip().partition(" ")
    if word == "PASS":
        passed += 1
    elif word == "SKIP" and allow_skip:
        skipped += 1
    else:
        if word == "SKIP":
            print(f"core test skipped (counted as failed): {name}")
        else:
            print(f"failed: {name}")
        failed += 1
tail = f", {skipped} skipped" if allow_skip else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed else 0)
PY
