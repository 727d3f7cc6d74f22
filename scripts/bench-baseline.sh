#!/usr/bin/env bash
# Builds an earlier commit's functions the way `make bench` builds this one's (release, locked)
# into target/baseline/<commit>/, for `bench --baseline-bin-dir`, and prints that directory.
#   scripts/bench-baseline.sh <commit> [function ...]   (default: get-user-sessions jwks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rev=$(git rev-parse --short "${1:?usage: bench-baseline.sh <commit> [function ...]}")
shift
if [ $# -gt 0 ]; then functions=("$@"); else functions=(get-user-sessions jwks); fi
out="$root/target/baseline/$rev"
missing=0
for f in "${functions[@]}"; do [ -x "$out/$f" ] || missing=1; done
if [ "$missing" = 1 ]; then
  tree="$root/target/baseline/src-$rev"
  rm -rf "$tree"
  git worktree prune
  git worktree add --quiet --detach "$tree" "$rev"
  trap 'git worktree remove --force "$tree"' EXIT
  # The same target directory: dependencies built for this checkout are reused. The earlier
  # binaries land in target/release/ too, so they are copied out at once, and `make bench`
  # builds this checkout's again before it measures (cargo re-links fresh binaries).
  (cd "$tree" && CARGO_TARGET_DIR="$root/target" cargo build --release --locked \
    $(printf -- '-p %s ' "${functions[@]}") >&2)
  mkdir -p "$out"
  for f in "${functions[@]}"; do cp "$root/target/release/$f" "$out/$f"; done
fi
echo "$out"
