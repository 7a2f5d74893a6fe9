#!/usr/bin/env bash
# Type-checks (clippy, warnings denied) the library for platforms CI does not
# run on: the code behind `cfg(not(target_os = "linux"))` (async-io's reactor
# instead of the workers' own epoll sets, no SO_REUSEPORT, no MSG_NOSIGNAL, the
# accept loop's room-making) is otherwise only read, never compiled.
#
# Usage: scripts/cross-check.sh [target...]
#   target...  rustup target triples (default: x86_64-apple-darwin
#              x86_64-pc-windows-gnu x86_64-unknown-freebsd)
#
# Each target needs its standard library (`rustup target add TRIPLE`); one that
# is missing is skipped with that hint. Checked without the `tls` feature:
# ring's build script needs a C compiler for the target. Nothing is linked or
# run. Uses target/cross-check/ so the host build is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(x86_64-apple-darwin x86_64-pc-windows-gnu x86_64-unknown-freebsd)
fi
installed=$(rustup target list --installed)
failed=0
for target in "${targets[@]}"; do
  if ! grep -qx "$target" <<<"$installed"; then
    echo "== $target: skipped (rustup target add $target)"
    continue
  fi
  echo "== $target"
  if ! CARGO_TARGET_DIR=target/cross-check cargo clippy --target "$target" \
      --no-default-features --features rt,server,client -- -D warnings; then
    failed=1
  fi
done
exit "$failed"
