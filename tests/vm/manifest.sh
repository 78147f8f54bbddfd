# shellcheck shell=sh
# manifest.sh DIR: what the tree at DIR holds, one line per fact,
# sorted by path:
#   PATH|f MODE LINKS SIZE      a regular file
#   PATH|sha256 SUM             its contents
#   PATH|d MODE                 a directory
#   PATH|l -> TARGET            a symbolic link
# The host makes the manifest of a tree (vm_manifest) and the guest
# compares a mounted copy with it (check_manifest), both with this
# script: the host with its own find, stat and sha256sum, the guest with
# busybox's, whose output formats agree for these options.  ext4's
# lost+found is left out.
cd "$1" || exit 1
{
  find . -path ./lost+found -prune -o -type f -exec stat -c '%n|f %a %h %s' {} +
  find . -path ./lost+found -prune -o -type f -exec sha256sum {} + |
    sed 's/^\([0-9a-f]*\)  \(.*\)$/\2|sha256 \1/'
  find . -path ./lost+found -prune -o -type d -exec stat -c '%n|d %a' {} +
  find . -path ./lost+found -prune -o -type l -exec sh -c '
    for link; do echo "$link|l -> $(readlink "$link")"; done' sh {} +
} | LC_ALL=C sort
