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
# is missing is skipped with that hint. The `tls` feature is checked too where
# a C compiler for the target is installed (ring's build script compiles C):
# for Windows, MinGW's (Debian's gcc-mingw-w64-x86-64), which covers the TLS
# code all systems but Linux share; elsewhere, and without it, the check is
# without `tls`, said so. Nothing is linked or run. Uses target/cross-check/
# so the host build is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(x86_64-apple-darwin x86_64-pc-windows-gnu x86_64-unknown-freebsd)
fi
# Without rustup (a distribution's cargo), no target is installed: each is
# skipped, as the note above says.
installed=$(rustup target list --installed 2>/dev/null || true)
failed=0
for target in "${targets[@]}"; do
  if ! grep -qx "$target" <<<"$installed"; then
    echo "== $target: skipped (rustup target add $target)"
    continue
  fi
  features=rt,server,client
  if [ "$target" = x86_64-pc-windows-gnu ] && command -v x86_64-w64-mingw32-gcc >/dev/null; then
    features=$features,tls
  fi
  echo "== $target (features $features)"
  if ! CARGO_TARGET_DIR=target/cross-check cargo clippy --target "$target" \
      --no-default-features --features "$features" -- -D warnings; then
    failed=1
  fi
done
exit "$failed"
