#!/usr/bin/env bash
# sandbag: pinned versions.  NAME@VERSION always means the same bytes;
# NAME resolves, when a client connects, to the current version, whose
# pinned name the description gives (and NBD_INFO_NAME, for the default
# export); a connection keeps its version through later publishes; a
# pruned version is refused, never answered with other bytes; metadata
# that is missing or wrong refuses the version.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

vol=$tmp/vol
mkdir "$vol"
export vol
head -c 300000 /dev/urandom > "$tmp/v1"
head -c 500000 /dev/urandom > "$tmp/v2"
sha1=$(sha256sum < "$tmp/v1" | cut -d' ' -f1)
sha2=$(sha256sum < "$tmp/v2" | cut -d' ' -f1)
export sha1 sha2

test "$("$SANDBAG_PUBLISH" publish --version=1 "$vol" debian "$tmp/v1")" = \
  debian@1
test "$(readlink "$vol/debian")" = debian@1
test -f "$vol/.debian@1.meta"
# Published versions are read-only files.
test "$(stat -c %a "$vol/debian@1")" = 444

cat > "$tmp/versions.py" <<'PY'
import json, os, subprocess, sys
import nbd

sock, vol, tmp = sys.argv[1], sys.argv[2], os.environ["tmp"]
v1 = open(tmp + "/v1", "rb").read()
v2 = open(tmp + "/v2", "rb").read()

def connect(name):
    h = nbd.NBD()
    h.set_full_info(True)
    h.set_export_name(name)
    h.connect_unix(sock)
    return h

def whole(h):
    return b"".join(h.pread(min(65536, h.get_size() - o), o)
                    for o in range(0, h.get_size(), 65536))

def refused(name):
    try:
        connect(name)
    except nbd.Error as e:
        assert e.errno == "ENOENT", (name, e)
        return
    raise AssertionError("%s was served" % name)

def publish(version, image):
    out = subprocess.check_output(
        [os.environ["SANDBAG_PUBLISH"], "publish", "--version=" + version,
         vol, "debian", tmp + "/" + image], text=True)
    assert out == "debian@%s\n" % version, out

# The plain name: the current version, named in the description.
old = connect("debian")
d = old.get_export_description()
assert d.startswith("debian@1, 300000 bytes, published "), d
assert d.endswith(", sha256 " + os.environ["sha1"]), d
assert whole(old) == v1
# The default export's canonical name is the pinned name.
h = connect("")
assert h.get_canonical_export_name() == "debian@1"
assert whole(h) == v1

publish("2", "v2")
new = connect("debian")
assert new.get_export_description().startswith("debian@2, 500000 bytes")
assert whole(new) == v2
assert whole(old) == v1                 # the old connection keeps v1
assert whole(connect("debian@1")) == v1 # and v1 stays servable
assert whole(connect("debian@2")) == v2
assert connect("").get_canonical_export_name() == "debian@2"

# Listing: the link and both versions, never the metadata files.
listing = json.loads(subprocess.check_output(
    ["nbdinfo", "--list", "--json", "nbd+unix://?socket=" + sock]))
names = {e["export-name"]: e["description"] for e in listing["exports"]}
assert sorted(names) == ["debian", "debian@1", "debian@2"], names
assert names["debian"].startswith("debian@2, ")
assert names["debian@1"].startswith("debian@1, ")

# Pruning with a retention that has not run out keeps debian@1 ...
subprocess.check_call([os.environ["SANDBAG_PUBLISH"], "prune",
                       "--retention=1h", vol, "debian"])
assert whole(connect("debian@1")) == v1
# ... and once it has, removes it: refused, never other bytes, while
# the connection already reading it reads on.
subprocess.check_call([os.environ["SANDBAG_PUBLISH"], "prune",
                       "--retention=0", vol, "debian"])
assert not os.path.exists(vol + "/debian@1")
assert not os.path.exists(vol + "/.debian@1.meta")
refused("debian@1")
assert whole(old) == v1
assert whole(connect("debian")) == v2
print("versions ok")
PY
nbdkit -U - "$SANDBAG_PLUGIN" dir="$vol" default=debian \
  --run 'python3 "$tmp/versions.py" "$unixsocket" "$vol"'

# Hostile layouts: every one refuses the version, logged with a reason.
hostile ()
{
  local name=$1 expected=$2
  # '@' in the path of an nbd+unix URI must be written %40.
  if uri_name=${name//@/%40} nbdkit -U - "$SANDBAG_PLUGIN" dir="$vol" \
       --run 'nbdsh -u "nbd+unix:///$uri_name?socket=$unixsocket" -c pass' \
       2> "$tmp/err"; then
    echo "$0: $name was served" >&2
    exit 1
  fi
  grep -F -- "$expected" "$tmp/err"
}

cp "$vol/.debian@2.meta" "$tmp/meta.good"
chmod u+w "$vol/.debian@2.meta"
sed -i 's/^size 500000$/size 500001/' "$vol/.debian@2.meta"
hostile debian@2 "version metadata gives another size"
hostile debian "version metadata gives another size"
sed -i 's/^name debian$/name other/' "$vol/.debian@2.meta"
hostile debian@2 "version metadata names another version"
printf 'x%.0s' $(seq 2000) > "$vol/.debian@2.meta"
hostile debian@2 "metadata larger than 1024 bytes"
rm "$vol/.debian@2.meta"
hostile debian@2 "version metadata missing or unreadable"
ln -s ../meta.good "$vol/.debian@2.meta"
hostile debian@2 "version metadata missing or unreadable"
rm "$vol/.debian@2.meta"
cp "$tmp/meta.good" "$vol/.debian@2.meta"
# A pinned name is never served through a link.
ln -s debian@2 "$vol/debian@3"
hostile debian@3 "symbolic link refused"
hostile 'debian@' "empty version"
hostile 'debian@-1' "version does not start with a letter or digit"
# Restored, it is served again.
nbdkit -U - "$SANDBAG_PLUGIN" dir="$vol" \
  --run 'nbdsh -u "nbd+unix:///debian%402?socket=$unixsocket" \
           -c "assert h.get_size() == 500000"'
