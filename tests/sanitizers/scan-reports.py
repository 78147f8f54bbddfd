#!/usr/bin/python3
"""Turn sanitizer and valgrind log files into verdict lines for
scripts/test.sh: one "FAIL report:FILE" per file with a report (the
report is printed to stderr), one "PASS reports:DIR" if there were none.

  scan-reports.py LOGDIR             AddressSanitizer/UBSan logs (asan.PID,
                                     ubsan.PID) from log_path=
  scan-reports.py --valgrind LOGDIR  valgrind logs (vg.PID)

AddressSanitizer and UBSan errors always count.  A LeakSanitizer report
counts when one of its leaked blocks was allocated on a path through
sandbag's own code (a frame in our sources or modules): the sanitizer
runtime is preloaded into the uninstrumented nbdkit, and through it into
the shell nbdkit starts for --run, so it also sees their exit-time
leftovers (nbdkit 1.32 can exit with a connection thread still running
and its connection struct unfreed), which are not ours to fix.

A valgrind log counts when its ERROR SUMMARY is not zero (definite leaks
are errors there, see --errors-for-leak-kinds in tests/sanitizers/nbdkit).
A log with no summary belongs to a child that exec'd a program valgrind
does not follow (the --run shell) and is ignored.

A server killed with SIGKILL writes no report and no summary at all, so
the tests note each such kill in a killed.PID file of the same directory
(record_kill in tests/functions.sh and tests/functions.py; scripts/test.sh
passes the directory as SANDBAG_REPORT_DIR): each one counts as a failure,
since whatever that server would have reported is lost.
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A frame in our code: our modules or programs by name, our sources by
# absolute path or by the relative path meson compiles them with.
OURS = re.compile(r"nbdkit-(sandbag-plugin|ratetier-filter|heatmap-filter)\.so|"
                  r"sandbag-heatmap|/unit-[a-z0-9-]+|/fuzz-[a-z0-9-]+|"
                  r"(^|[ /])\.\./(plugins|filters|tests)/|"
                  + re.escape(TOP + "/"))


def leak_blocks(text):
    """Yield the stack (list of frame lines) of each leaked block."""
    block = None
    for line in text.splitlines():
        if re.match(r"(Direct|Indirect) leak of", line):
            if block is not None:
                yield block
            block = []
        elif block is not None:
            if re.match(r"\s*#\d+ ", line):
                block.append(line)
            elif line.strip() == "" and block:
                yield block
                block = None
    if block:
        yield block


def asan_verdict(text):
    """Return a reason to fail, or None."""
    if "runtime error:" in text:
        return "undefined behaviour"
    for m in re.finditer(r"ERROR: (\w+Sanitizer): ([^\n]*)", text):
        if m.group(1) != "LeakSanitizer":
            return f"{m.group(1)}: {m.group(2)}"
    if "LeakSanitizer" in text:
        for block in leak_blocks(text):
            if any(OURS.search(f) for f in block):
                return "memory leak in sandbag code"
        return None
    if text.strip():
        return "unrecognised sanitizer output"
    return None


def valgrind_verdict(text):
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    if m and int(m.group(1)) > 0:
        return f"valgrind: {m.group(1)} errors"
    return None


def main():
    args = sys.argv[1:]
    vg = args and args[0] == "--valgrind"
    if vg:
        args = args[1:]
    logdir = args[0]
    bad = 0
    for name in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, name)
        with open(path, errors="replace") as f:
            text = f.read()
        if name.startswith("killed."):
            why = "server killed with SIGKILL, so it left no report"
        else:
            why = valgrind_verdict(text) if vg else asan_verdict(text)
        if why:
            bad += 1
            print(f"FAIL report:{path}")
            sys.stderr.write(f"===== {path}: {why}\n{text}\n")
    if not bad:
        print(f"PASS reports:{logdir}")


if __name__ == "__main__":
    main()
