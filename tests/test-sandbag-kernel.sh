#!/usr/bin/env bash
# sandbag: the Linux kernel as client.  ext4 and erofs images built from
# a generated tree (nested directories, many small files, multi-megabyte
# files, symbolic links, a hard link) are served in dir= mode, exposed
# with nbdfuse, mounted with mount -o loop,ro, and compared with the
# source tree file by file.
source "$(dirname "$0")/functions.sh"
set -e -x
requires_root
requires mkfs.ext4 -V
requires mkfs.erofs --help
requires nbdfuse --version
requires test -c /dev/fuse

tree=$tmp/tree
python3 - "$tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(4096)
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
# Many small files in nested directories.
for d in range(20):
    for i in range(100):
        sub = os.path.join(root, "small", "d%02d" % d, "e%d" % (i % 3))
        write(os.path.join(sub, "f%03d" % i), rng.randbytes(rng.randrange(0, 6000)))
write(os.path.join(root, "a/b/c/d/e/f/g/deep.txt"), b"deep\n")
# A few multi-megabyte files, one with a hole in the middle.
write(os.path.join(root, "big/blob1"), rng.randbytes(3 << 20))
write(os.path.join(root, "big/blob2"), rng.randbytes((5 << 20) + 123))
with open(os.path.join(root, "big/sparse"), "wb") as f:
    f.write(rng.randbytes(1 << 20))
    f.seek(6 << 20)
    f.write(rng.randbytes(1 << 20))
write(os.path.join(root, "names/space name.txt"), b"spaces\n")
write(os.path.join(root, "names/\u00fcn\u00efc\u00f8d\u00e9.txt"), b"utf-8\n")
os.makedirs(os.path.join(root, "empty-dir"))
# Symbolic links: relative, absolute and dangling, to a directory.
os.makedirs(os.path.join(root, "links"))
os.symlink("../big/blob1", os.path.join(root, "links/rel"))
os.symlink("/nonexistent/target", os.path.join(root, "links/abs-dangling"))
os.symlink("../small/d03", os.path.join(root, "links/to-dir"))
os.symlink("rel", os.path.join(root, "links/chain"))
# A hard link.
os.makedirs(os.path.join(root, "hard"))
os.link(os.path.join(root, "big/blob1"), os.path.join(root, "hard/blob1-again"))
os.chmod(os.path.join(root, "big/blob2"), 0o600)
os.chmod(os.path.join(root, "a/b"), 0o750)
PY

mkdir "$tmp/images"
mkfs.ext4 -q -F -b 4096 -d "$tree" "$tmp/images/root.ext4" 64M
mkfs.erofs --quiet "$tmp/images/root.erofs" "$tree"

start_nbdkit "$tmp/nbdkit.pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" \
  dir="$tmp/images"

# What a tree looks like, entry by entry: type, mode, size of regular
# files, target of symbolic links.
listing ()
{
  (cd "$1" && find . -path ./lost+found -prune -o \
     \( -type f -printf '%p f %m %s\n' \) -o \
     \( -type l -printf '%p l %l\n' \) -o \
     \( -type d -printf '%p d %m\n' \) | LC_ALL=C sort)
}
listing "$tree" > "$tmp/tree.list"

for fs in ext4 erofs; do
  mnt=$tmp/mnt-$fs
  expose_and_mount "nbd+unix:///root.$fs?socket=$tmp/sock" \
    "$tmp/fuse-$fs/disk" "$mnt"
  findmnt "$mnt"
  # Every regular file's contents (symlinks compared as links).
  diff -r --no-dereference -x lost+found "$tree" "$mnt"
  # Every entry's type, mode, size and link target.
  listing "$mnt" > "$tmp/$fs.list"
  diff -u "$tmp/tree.list" "$tmp/$fs.list"
  # The hard link is one inode with two names.
  [ "$(stat -c %i "$mnt/big/blob1")" = "$(stat -c %i "$mnt/hard/blob1-again")" ]
  [ "$(stat -c %h "$mnt/big/blob1")" = 2 ]
  # Through a symbolic link, too.
  cmp "$tree/big/blob1" "$mnt/links/chain"
done
