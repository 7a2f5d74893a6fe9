#!/usr/bin/env bash
# Keep what fuzzing found: rebuild each target's committed fuzz/corpus/<target>/found/
# as the smallest set of inputs (libFuzzer's -merge) that reaches code the
# hand-written seeds in fuzz/corpus/<target>/ do not, drawn from found/ itself and
# from the git-ignored fuzz/artifacts/corpus/<target>/ that scripts/fuzz.sh fills.
# Then commit found/: tests/fuzz_corpus.rs replays it on stable in CI.
#
# Usage: scripts/fuzz-keep.sh [target...]   (default: every target)
#
# Coverage here is edges (and the stack depth cargo-fuzz's build also
# tracks), without hit counts or value profile: counting those too keeps four
# times as many inputs for little more code reached.
# An input that crashes (or times out) in the merge stops the script before
# found/ is touched: libFuzzer's merge would leave it out and carry on, and
# the committed find that now fails would go unnoticed.
# Needs what scripts/fuzz.sh needs (nightly, cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(server_stream client_response chunked roundtrip server_driver client_driver)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for target in "${targets[@]}"; do
    seeds="fuzz/corpus/$target"
    found="$seeds/found"
    mkdir -p "$found" "fuzz/artifacts/corpus/$target"
    # The seeds go in first, so only inputs adding to them are merged in;
    # then what found/ holds, then the new finds: what was kept before stays
    # (unless the seeds now reach its code), and a new find is kept only for
    # code neither reaches, so the committed folder changes little.
    merged="$work/$target"
    mkdir -p "$merged"
    find "$seeds" -maxdepth 1 -type f -exec cp {} "$merged/" \;
    for more in "$found" "fuzz/artifacts/corpus/$target"; do
        cargo +nightly fuzz run "$target" "$merged" "$more" -- \
            -merge=1 -use_counters=0 -use_value_profile=0 -dict=fuzz/http.dict \
            >"$work/$target.log" 2>&1 || {
            cat "$work/$target.log"
            exit 1
        }
        # Every input ran in the first inner process, none crashing.
        if ! grep -q "MERGE-OUTER: successful in 1 attempt(s)" "$work/$target.log"; then
            kept="fuzz/artifacts/$target-merge.log"
            mkdir -p fuzz/artifacts
            cp "$work/$target.log" "$kept"
            echo "fuzz-keep.sh: an input of $more failed in the merge (a crash or a timeout;" \
                "the log is in $kept): $found left as it was" >&2
            exit 1
        fi
    done
    find "$found" -maxdepth 1 -type f -delete
    for input in "$merged"/*; do
        name="$(basename "$input")"
        [ -e "$seeds/$name" ] || cp "$input" "$found/"
    done
    echo "$target: $(find "$found" -type f | wc -l) inputs kept beyond the seeds"
done
