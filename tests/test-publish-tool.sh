#!/usr/bin/env bash
# sandbag-publish: what it refuses and why, idempotent republishing,
# --move, and pruning by retention (never a version still current, never
# a file it does not understand).
source "$(dirname "$0")/functions.sh"
set -e -x

pub=$SANDBAG_PUBLISH
vol=$tmp/vol
mkdir "$vol"
head -c 4096 /dev/urandom > "$tmp/a"
head -c 8192 /dev/urandom > "$tmp/b"

# expect STATUS MESSAGE CMD...: CMD exits with STATUS, saying MESSAGE.
expect ()
{
  local status=$1 message=$2 r=0
  shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" || r=$?
  if [ "$r" -ne "$status" ]; then
    echo "$0: expected exit $status, got $r: $*" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
  grep -F -- "$message" "$tmp/err"
}

expect 1 "no command given" "$pub"
expect 1 "unknown command" "$pub" frobnicate
expect 1 "publish needs DIR, NAME and IMAGE" "$pub" publish "$vol" x
expect 1 'could not parse duration "soon"' \
  "$pub" publish --retention=soon "$vol" x "$tmp/a"
expect 2 'name "a@b" refused' "$pub" publish "$vol" a@b "$tmp/a"
expect 2 'name ".hidden" refused' "$pub" publish "$vol" .hidden "$tmp/a"
expect 2 "name \"a,b\" refused: it contains '@' or ','" \
  "$pub" publish "$vol" a,b "$tmp/a"
expect 2 'version "-x" refused' "$pub" publish --version=-x "$vol" x "$tmp/a"
expect 2 "not a regular file" "$pub" publish "$vol" x /dev/null
expect 2 "$tmp/missing" "$pub" publish "$vol" x "$tmp/missing"
# An unversioned image of that name is never replaced.
cp "$tmp/a" "$vol/plain"
expect 2 "is not a version link (an unversioned image?)" \
  "$pub" publish "$vol" plain "$tmp/b"
cmp "$tmp/a" "$vol/plain"

# Publishing; the same bytes again under the current version is a no-op.
test "$("$pub" publish --version=1 "$vol" vol "$tmp/a")" = vol@1
test "$("$pub" publish --version=1 "$vol" vol "$tmp/a")" = vol@1
# Other bytes under an existing pinned name: refused, nothing changes.
expect 2 "vol@1 exists with other content" \
  "$pub" publish --version=1 "$vol" vol "$tmp/b"
cmp "$tmp/a" "$vol/vol@1"
test "$("$pub" publish --version=2 "$vol" vol "$tmp/b")" = vol@2
# A superseded version cannot become current again by republishing.
expect 2 "vol@1 was published before and is not current" \
  "$pub" publish --version=1 "$vol" vol "$tmp/a"
test "$(readlink "$vol/vol")" = vol@2

# The default label is the publish time.
label=$("$pub" publish "$vol" timed "$tmp/a")
[[ $label =~ ^timed@[0-9]{8}T[0-9]{6}Z$ ]]

# --move renames the image in, and only within one file system.
cp "$tmp/b" "$vol/incoming"
test "$("$pub" publish --move --version=m "$vol" moved "$vol/incoming")" = \
  moved@m
test ! -e "$vol/incoming"
cmp "$tmp/b" "$vol/moved@m"

# No temporary file is left behind by any of this.
test -z "$(find "$vol" -name '*.tmp.*' -o -name '*.link.*')"

# list shows each version's state.
"$pub" list --retention=1h "$vol" vol > "$tmp/list"
grep -E '^vol@1 retained,superseded=[0-9]+,expires=[0-9]+ 4096 ' "$tmp/list"
grep -E '^vol@2 current 8192 ' "$tmp/list"

# prune: retention not run out keeps vol@1; the current one always stays.
"$pub" prune --retention=1h "$vol" vol
test -f "$vol/vol@1"
"$pub" prune --retention=0 "$vol" vol > "$tmp/pruned"
grep -F "removed vol@1" "$tmp/pruned"
test ! -e "$vol/vol@1" && test ! -e "$vol/.vol@1.meta"
test -f "$vol/vol@2"
# publish prunes by default (with its own --retention).
test "$("$pub" publish --retention=0 --version=3 "$vol" vol "$tmp/a")" = \
  vol@3
test ! -e "$vol/vol@2"

# A version whose metadata is corrupt is reported and kept.
test "$("$pub" publish --retention=0 --version=4 "$vol" vol "$tmp/b")" = \
  vol@4
chmod u+w "$vol/.vol@4.meta"
echo garbage > "$vol/.vol@4.meta"
test "$("$pub" publish --version=5 --no-prune "$vol" vol "$tmp/a")" = vol@5
"$pub" prune --retention=0 "$vol" vol 2> "$tmp/err"
grep -F "vol@4 kept: not a sandbag version 1 metadata file" "$tmp/err"
test -f "$vol/vol@4"
# Old metadata without its image (an interrupted prune) is removed.
cp "$vol/.vol@5.meta" "$vol/.vol@9.meta"
touch -d '2 minutes ago' "$vol/.vol@9.meta"
"$pub" prune --retention=0 "$vol" vol > "$tmp/pruned"
grep -F "removed orphaned metadata .vol@9.meta" "$tmp/pruned"
test ! -e "$vol/.vol@9.meta"

# A link of NAME to something else is not ours to prune or replace.
ln -s plain "$vol/alias"
expect 2 'is a link to "plain", not to a version of alias' \
  "$pub" publish "$vol" alias "$tmp/a"

# prune --all: every NAME that links to a version of itself, and
# nothing else (not the link to "plain", not unversioned images).
expect 1 "prune --all needs DIR and no NAME" "$pub" prune --all "$vol" vol
test "$("$pub" publish --no-prune --version=1 "$vol" other "$tmp/a")" = \
  other@1
test "$("$pub" publish --no-prune --version=2 "$vol" other "$tmp/b")" = \
  other@2
"$pub" prune --all --retention=0 "$vol" > "$tmp/pruned" 2> "$tmp/err"
grep -F "removed other@1" "$tmp/pruned"
test "$(grep -c '^removed' "$tmp/pruned")" -eq 1
grep -F "vol@4 kept" "$tmp/err"
test ! -e "$vol/other@1"
for f in other@2 vol@5 moved@m plain; do test -f "$vol/$f"; done
test "$(readlink "$vol/alias")" = plain
