#!/usr/bin/env bash
# The fuzz targets (issue 12): builds every target in fuzz/fuzz_targets with cargo-fuzz,
# then runs each for a bounded time over its committed corpus. Fails if any input crashes
# a target (a panic, a broken invariant, a timeout or running out of memory).
#
#   fuzz/run.sh                  every target, FUZZ_SECONDS (default 7) each
#   fuzz/run.sh redirects 120    one target for two minutes
#   FUZZ_INSTALL=1 fuzz/run.sh   install the pinned cargo-fuzz first if it is missing (CI)
#   FUZZ_SCRATCH=/tmp/found      keep the new inputs a run finds there
#
# New inputs a run finds go to a scratch directory, never into corpus/: after a long run,
# merge what adds coverage into corpus/ as fuzz/README.md says.
# A crashing input is saved under fuzz/artifacts/TARGET/; replay it with
#   fuzz/target/x86_64-unknown-linux-gnu/debug/TARGET fuzz/artifacts/TARGET/crash-…
#
# The build: `--dev` (the dev profile of fuzz/Cargo.toml: dependencies at opt-level 1,
# debug assertions and overflow checks on) and `--sanitizer none`. The crate is safe Rust,
# so what it looks for are panics, which need no sanitizer; a sanitizer would want nightly
# (RUSTC_BOOTSTRAP=1) and slow both the build and the runs. After a change in src/, --dev
# rebuilds in 17 s where cargo-fuzz's default release build (one codegen unit, opt-level 3)
# takes 3.5 min; from cold, either is a build of the whole dependency tree, 15 min and more
# on this 2-core machine (fuzz/README.md has the figures).
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-7}
only=${1:-}
[ -n "${2:-}" ] && seconds=$2

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  if [ "${FUZZ_INSTALL:-}" = 1 ]; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
  else
    echo "needs cargo-fuzz $CARGO_FUZZ_VERSION: cargo install cargo-fuzz --locked --version $CARGO_FUZZ_VERSION" >&2
    exit 1
  fi
fi

targets=$(cargo fuzz list)
if [ -n "$only" ]; then
  grep -qx "$only" <<<"$targets" || { echo "no fuzz target $only; there are: $targets" >&2; exit 1; }
  targets=$only
fi

build_flags=(--dev --sanitizer none)
start=$SECONDS
# shellcheck disable=SC2086 # one argument per target
cargo fuzz build "${build_flags[@]}" $( [ -n "$only" ] && echo "$only" )
echo "fuzz: built in $((SECONDS - start)) s"

bin_dir="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/debug"
# FUZZ_SCRATCH=DIR keeps the new inputs there (to merge into corpus/); else they go.
scratch=${FUZZ_SCRATCH:-}
if [ -z "$scratch" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
fi
passed=0
failed=0
start=$SECONDS
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t" "$scratch/$t"
  log="$scratch/$t.log"
  if "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="artifacts/$t/" "$scratch/$t" "corpus/$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    seeds=$(find "corpus/$t" -type f | wc -l)
    found=$(find "$scratch/$t" -type f | wc -l)
    printf 'fuzz: %-14s ok   %9s runs  %7s exec/s  %4s seeds, %4s new inputs\n' \
      "$t" "$runs" "$speed" "$seeds" "$found"
  else
    failed=$((failed + 1))
    printf 'fuzz: %-14s FAILED\n' "$t"
    grep -E -A3 "panicked at|ERROR: libFuzzer|Test unit written" "$log" | head -30 | sed 's/^/    /'
  fi
done
echo "fuzz: ran in $((SECONDS - start)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
