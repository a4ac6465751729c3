#!/usr/bin/env bash
# Runs every check of the repository on a fresh machine: installs what is missing,
# then format, lint, fuzz smoke runs, the runnable examples and all tests.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

FUZZ_SECONDS="${FUZZ_SECONDS:-15}"

step "tools"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if ! command -v node >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs >/dev/null
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
node --version
cargo --version

step "format"
cargo fmt --all -- --check

step "clippy (default features and all features)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "fuzz smoke runs (${FUZZ_SECONDS}s per target)"
(
  cd fuzz
  cargo +nightly fuzz build -O
  for target in $(cargo +nightly fuzz list); do
    echo "fuzz target: $target"
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 2>&1 | tail -n 3
  done
)

step "examples"
cargo run --quiet -p cai-examples --bin quickstart
cargo run --quiet --release -p cai-crypto --features ring --example stream_1gib

step "JavaScript reference module"
node --test cai-crypto/js/

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
step "tests (portable backend)"
cargo test -p cai-crypto 2>&1 | tee "$log"
step "tests (all features)"
cargo test --workspace --all-features 2>&1 | tee -a "$log"

# One closing line over every test binary and doctest run above.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i; exit (f > 0 || p == 0) }' "$log"
