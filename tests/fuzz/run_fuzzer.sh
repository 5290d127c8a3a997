#!/usr/bin/env bash
# Runs one libFuzzer target for a while over its seed corpus, as ctest does.
# Usage: tests/fuzz/run_fuzzer.sh FUZZER_BINARY SEED_CORPUS_DIR SECONDS [ARTIFACT_DIR]
#   CSSH_FUZZ_SECONDS overrides SECONDS (e.g. for an overnight run of the fuzz_full tests).
# The seed corpus is only read: inputs the run finds go to a temporary directory (keep them with
# CSSH_FUZZ_KEEP=DIR). A crash, leak, UB report, timeout or out-of-memory fails the run; the
# input that caused it is written to ARTIFACT_DIR (default: ./fuzz-artifacts/<fuzzer>/) and its
# path printed: add it to the seed corpus with the fix.
set -euo pipefail

fuzzer=$1
seeds=$2
seconds=${CSSH_FUZZ_SECONDS:-$3}
name=$(basename "$fuzzer")
artifacts=${4:-$PWD/fuzz-artifacts/$name}
mkdir -p "$artifacts"

work=${CSSH_FUZZ_KEEP:-}
if [[ -z "$work" ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

[[ -d "$seeds" ]] || { echo "run_fuzzer: no seed corpus at $seeds" >&2; exit 2; }
nseeds=$(find "$seeds" -type f | wc -l)
echo "run_fuzzer: $name for ${seconds}s over $nseeds seeds; artifacts in $artifacts"

# -timeout: one input taking this long is a hang. -rss_limit_mb: a parser must not balloon.
# -max_len: inputs up to 64 KiB (config files and Engine answers can be that big).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds"
