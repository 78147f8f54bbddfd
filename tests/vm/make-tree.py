# make-tree.py DIR [SCALE]: the generated tree the VM tests serve, the
# same every time: nested directories of small files, multi-megabyte
# files (one sparse), names with spaces and UTF-8, symbolic links
# (relative, absolute and dangling, to a directory, chained), a hard
# link, an empty directory and unusual modes.  SCALE (default 1)
# multiplies the number of small files.
import os
import random
import sys

root = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rng = random.Random(4096)


def write(path, data):
    path = os.path.join(root, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


os.makedirs(root, exist_ok=True)
os.chmod(root, 0o755)
for d in range(5 * scale):
    for i in range(40):
        write("small/d%02d/e%d/f%03d" % (d, i % 3, i),
              rng.randbytes(rng.randrange(0, 6000)))
write("a/b/c/d/e/f/g/deep.txt", b"deep\n")
write("big/blob1", rng.randbytes(3 << 20))
write("big/blob2", rng.randbytes((2 << 20) + 123))
with open(os.path.join(root, "big/sparse"), "wb") as f:
    f.write(rng.randbytes(1 << 20))
    f.seek(6 << 20)
    f.write(rng.randbytes(1 << 20))
write("names/space name.txt", b"spaces\n")
write("names/\u00fcn\u00efc\u00f8d\u00e9.txt", b"utf-8\n")
os.makedirs(os.path.join(root, "empty-dir"))
os.makedirs(os.path.join(root, "links"))
os.symlink("../big/blob1", os.path.join(root, "links/rel"))
os.symlink("/nonexistent/target", os.path.join(root, "links/abs-dangling"))
os.symlink("../small/d03", os.path.join(root, "links/to-dir"))
os.symlink("rel", os.path.join(root, "links/chain"))
os.makedirs(os.path.join(root, "hard"))
os.link(os.path.join(root, "big/blob1"), os.path.join(root, "hard/blob1-again"))
os.chmod(os.path.join(root, "big/blob2"), 0o600)
os.chmod(os.path.join(root, "a/b"), 0o750)
