#!/usr/bin/env bash
# sandbag: the parameters in --help are exactly those documented in the
# man page's PARAMETERS section, and every one is accepted by config.
source "$(dirname "$0")/functions.sh"
set -e -x

pod=$abs_top_srcdir/plugins/sandbag/nbdkit-sandbag-plugin.pod

nbdkit "$SANDBAG_PLUGIN" --help > "$tmp/help"
cat "$tmp/help"
# Parameter lines of config_help are "key=<VALUE>   text".
sed -n 's/^\([a-z-]*\)=<.*/\1/p' "$tmp/help" | sort > "$tmp/help.keys"
# Man page items are "=item B<key=>I<...>" (or "[B<key=>]I<...>").
sed -n '/^=head1 PARAMETERS/,/^=head1 /p' "$pod" |
  sed -n 's/^=item \[\{0,1\}B<\([a-z-]*\)=>.*/\1/p' | sort > "$tmp/pod.keys"
cat "$tmp/help.keys"
[ "$(wc -l < "$tmp/help.keys")" -ge 8 ]
diff -u "$tmp/help.keys" "$tmp/pod.keys"

# The defaults stated in --help are the ones the man page states.
grep -F 'default 1)' "$tmp/help"
grep -F '(default 4096)' "$tmp/help"
grep -F '(default 32M)' "$tmp/help"
grep -F '(default 1000)' "$tmp/help"
grep -F 'Defaults: minimum 1, preferred 4096, maximum 32M' "$pod"
grep -F '(default 1000, at most 10000)' "$pod"

# The version is the project's.
nbdkit "$SANDBAG_PLUGIN" --version | grep -E '^sandbag [0-9]+\.[0-9]+\.[0-9]+$'
