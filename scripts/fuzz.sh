#!/usr/bin/env bash
# Fuzz every target of fuzz/ in turn with cargo-fuzz (libFuzzer).
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]
#   seconds-per-target  how long to fuzz each target (default 60)
#   target...           which targets (default: server_stream client_response
#                       chunked roundtrip server_driver client_driver)
#
# Needs the nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Each target starts from its committed seed corpus
# in fuzz/corpus/<target>/ plus what earlier runs found, and uses the dictionary
# fuzz/http.dict. New inputs that reach new code go to the git-ignored
# fuzz/artifacts/corpus/<target>/; scripts/fuzz-keep.sh then keeps those that
# reach code nothing committed reaches in fuzz/corpus/<target>/found/, for the
# stable replay in CI (libFuzzer reads that folder too). A crash stops that
# target (the others still run, then the script exits non-zero) and leaves its
# input in fuzz/artifacts/<target>/; reproduce it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-...`, or on
# stable by copying it into the corpus and running
# `cargo test --test fuzz_corpus`, which replays every corpus file through the
# same target code (fuzz/targets/mod.rs).
#
# A single allocation past 64 MiB is a crash too (libFuzzer's default allows
# 2 GiB): inputs are at most 4 KiB, so only a size taken from what the peer
# declares (a Content-Length, a chunk size) could ask for that much.
#
# One process on one core (no -fork or -jobs), at nice 10; set FUZZ_NICE=0 to
# run at normal priority. An input that runs past 30 s is a hang, kept as a
# crash (libFuzzer's default waits 20 minutes; the driver targets' own timer
# fires at 10 s, the proto targets have none).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
case "$seconds" in
    '' | *[!0-9]*) echo "fuzz.sh: seconds-per-target must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(server_stream client_response chunked roundtrip server_driver client_driver)
fi

failed=()
crashed=()
started="$(mktemp)"
trap 'rm -f "$started"' EXIT
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    found="fuzz/artifacts/corpus/$target"
    mkdir -p "$found"
    # cargo-fuzz fails alike for a crash and a failed build: a crash is
    # told by the input libFuzzer writes to fuzz/artifacts/<target>/ (named
    # for its bytes, so one crashing again rewrites its file).
    mkdir -p "fuzz/artifacts/$target"
    touch "$started"
    if ! nice -n "${FUZZ_NICE:-10}" cargo +nightly fuzz run "$target" "$found" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" \
        -timeout=30 \
        -malloc_limit_mb=64 \
        -dict=fuzz/http.dict \
        -print_final_stats=1; then
        if [ -n "$(find "fuzz/artifacts/$target" -maxdepth 1 -type f -newer "$started")" ]; then
            crashed+=("$target")
        else
            failed+=("$target")
        fi
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "== did not run: ${failed[*]} (a build failure? the output is above)"
fi
if [ ${#crashed[@]} -gt 0 ]; then
    echo "== crashed: ${crashed[*]} (inputs in fuzz/artifacts/<target>/)"
fi
if [ ${#failed[@]} -gt 0 ] || [ ${#crashed[@]} -gt 0 ]; then
    exit 1
fi
