#!/usr/bin/env bash
# sandbag: NBD_OPT_LIST in dir= mode lists exactly the servable images,
# sorted, with descriptions "SIZE bytes, modified TIME[; TEXT]"; changes
# to the directory show without a restart; list-limit= caps the list.
source "$(dirname "$0")/functions.sh"
set -e -x
requires mkfifo --version

d=$tmp/images
mkdir "$d"
head -c 1M /dev/urandom > "$d/a.img"
head -c 12345 /dev/urandom > "$d/b.img"
touch -d 2026-01-02T03:04:05Z "$d/a.img"
touch -d 2025-12-31T23:59:59Z "$d/b.img"
# Sidecar text with newlines, runs of blanks, an escape sequence, a
# semicolon and an invalid UTF-8 byte.
printf 'Debian 12\n\n  root fs;\terofs \033[2J caf\xc3\xa9 \xff\n' \
  > "$d/.a.img.description"
# Longer than the 256 bytes read.
printf '%0300d' 0 > "$d/.b.img.description"
ln -s a.img "$d/inside"                 # stays inside: listed
ln -s /etc/passwd "$d/escape"           # leads outside: not listed
ln -s ../outside "$d/up"
head -c 512 /dev/zero > "$tmp/outside"
ln -s missing "$d/dangling"
mkfifo "$d/fifo"
mkdir "$d/subdir"
: > "$d/.hidden"
: > "$d/$(printf 'ctl\001name')"

start_nbdkit "$tmp/nbdkit.pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" dir="$d"

cat > "$tmp/check.py" <<'PY'
import json, re, subprocess, sys
sock, expected = sys.argv[1], json.loads(sys.argv[2])
out = subprocess.run(["nbdinfo", "--list", "--json",
                      "nbd+unix://?socket=" + sock],
                     check=True, capture_output=True, text=True).stdout
exports = json.loads(out)["exports"]
names = [e["export-name"] for e in exports]
assert names == sorted(expected), (names, expected)
form = re.compile(r"^(\d+) bytes, modified "
                  r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(?:; (.*))?$")
for e in exports:
    m = form.match(e["description"])
    assert m, e["description"]
    size, when, text = expected[e["export-name"]]
    assert int(m.group(1)) == e["export-size"] == size, e
    assert m.group(2) == when, e
    assert m.group(3) == text, (m.group(3), text)
print("listed", names)
PY

a="[1048576, \"2026-01-02T03:04:05Z\", \"Debian 12 root fs; erofs [2J caf\u00e9 ?\"]"
# A sidecar belongs to a name: the link "inside" has none of its own.
i='[1048576, "2026-01-02T03:04:05Z", null]'
b="[12345, \"2025-12-31T23:59:59Z\", \"$(printf '%0256d' 0)\"]"
python3 "$tmp/check.py" "$tmp/sock" "{\"a.img\": $a, \"b.img\": $b, \"inside\": $i}"

# Images added and removed take effect without a restart.
head -c 4096 /dev/urandom > "$d/c.img"
touch -d 2026-11-24T00:00:00Z "$d/c.img"
rm "$d/b.img"
c='[4096, "2026-11-24T00:00:00Z", null]'
python3 "$tmp/check.py" "$tmp/sock" "{\"a.img\": $a, \"c.img\": $c, \"inside\": $i}"

# The description of one export (NBD_INFO_DESCRIPTION) is the same.
desc=$(nbdinfo --json "nbd+unix:///c.img?socket=$tmp/sock" |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["exports"][0]["description"])')
[ "$desc" = "4096 bytes, modified 2026-11-24T00:00:00Z" ]

# list-limit= caps the number listed; the first in name order are kept
# here since the directory is small enough to be examined whole.
kill_nbdkit "$tmp/nbdkit.pid"
start_nbdkit "$tmp/nbdkit2.pid" -U "$tmp/sock2" "$SANDBAG_PLUGIN" dir="$d" \
  list-limit=2
n=$(nbdinfo --list --json "nbd+unix://?socket=$tmp/sock2" |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["exports"]))')
[ "$n" = 2 ]

# file= mode lists the default export, with its description (the
# sidecar sits next to the image).
nbdkit -U - "$SANDBAG_PLUGIN" file="$d/a.img" \
  --run 'nbdinfo --list --json "$uri"' > "$tmp/file.json"
python3 - "$tmp/file.json" <<'PY'
import json, sys
exports = json.load(open(sys.argv[1]))["exports"]
assert [e["export-name"] for e in exports] == [""], exports
assert exports[0]["description"] == ("1048576 bytes, modified "
    "2026-01-02T03:04:05Z; Debian 12 root fs; erofs [2J caf\u00e9 ?"), exports
PY
