#!/usr/bin/env bash
# Runs every check of the repository on a fresh machine: installs what is missing,
# then format, lint, fuzz smoke runs, the runnable examples and all tests.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
# A cold CI run gains nothing from incremental caches; they only take disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "tools"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if ! command -v node >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs >/dev/null
fi
# cai-rtc's real-browser test (cai-rtc/tests/browser.rs): Debian's Chromium, and
# playwright-core (pinned by cai-rtc/tests/browser/package-lock.json) to drive it. With
# CAI_REQUIRE_BROWSER set the test fails, rather than skips, if any of them is missing.
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
(cd cai-rtc/tests/browser && npm ci --no-audit --no-fund --loglevel=error)
export CAI_REQUIRE_BROWSER=1
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
node --version
/usr/bin/chromium --version 2>/dev/null
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
node --test cai-rtc/js/

log="$(mktemp)"
pg_dir=""
smtp_pid=""
smtp_dir=""
s3_pid=""
cleanup() {
  rm -f "$log"
  if [ -n "$s3_pid" ]; then
    kill "$s3_pid" 2>/dev/null || true
    wait "$s3_pid" 2>/dev/null || true
  fi
  if [ -n "$smtp_pid" ]; then
    kill "$smtp_pid" 2>/dev/null || true
    wait "$smtp_pid" 2>/dev/null || true
  fi
  [ -z "$smtp_dir" ] || rm -rf "$smtp_dir"
  if [ -n "$pg_dir" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

# cai-store's PostgreSQL tests need a real server: Debian's binaries, a throwaway
# cluster in a temporary directory, listening only on 127.0.0.1 on a free port, stopped
# by the trap above. The tests read CAI_TEST_POSTGRES_URL and fail without it.
step "PostgreSQL server for cai-store (127.0.0.1 only)"
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
pg_bin="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")"
as_pg=()
pg_dir="$(mktemp -d)"
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root.
  chown postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U cai --auth=trust -E UTF8 --no-sync >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=300 -c fsync=off" \
  start >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U cai cai_test
export CAI_TEST_POSTGRES_URL="postgres://cai@127.0.0.1:$pg_port/cai_test"
# pg_dump of the server's own version, for cai-store's content-at-rest test.
export PATH="$pg_bin:$PATH"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$pg_port"

# cai-auth's SMTP tests need a real SMTP server: scripts/smtp_sink.py (aiosmtpd) on
# 127.0.0.1, a free port, writing each message it receives into a temporary directory;
# stopped by the trap above. The tests read CAI_TEST_SMTP_ADDR/_DIR and fail without.
step "SMTP sink for cai-auth (127.0.0.1 only)"
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
smtp_dir="$(mktemp -d)"
python3 scripts/smtp_sink.py "$smtp_dir/mail" >"$smtp_dir/addr" &
smtp_pid=$!
for _ in $(seq 50); do [ -s "$smtp_dir/addr" ] && break; sleep 0.1; done
export CAI_TEST_SMTP_ADDR="$(head -n 1 "$smtp_dir/addr")" CAI_TEST_SMTP_DIR="$smtp_dir/mail"
[ -n "$CAI_TEST_SMTP_ADDR" ] || { echo "the SMTP sink did not start"; exit 1; }
echo "SMTP sink on $CAI_TEST_SMTP_ADDR"

# cai-store's S3 blob tests need an S3-compatible server: moto in server mode on
# 127.0.0.1, a free port, in memory; stopped by the trap above. The tests read
# CAI_TEST_S3_ENDPOINT and fail without it.
step "S3-compatible server (moto) for cai-store (127.0.0.1 only)"
python3 -c 'import moto.server, flask' 2>/dev/null || python3 -m pip install --quiet 'moto[server]'
s3_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m moto.server -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
s3_pid=$!
export CAI_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
for _ in $(seq 100); do
  curl -s -o /dev/null "$CAI_TEST_S3_ENDPOINT/" && break
  sleep 0.1
done
curl -s -o /dev/null "$CAI_TEST_S3_ENDPOINT/" || { echo "moto did not start"; exit 1; }
echo "moto on $CAI_TEST_S3_ENDPOINT"

step "tests (portable backend)"
cargo test -p cai-crypto 2>&1 | tee "$log"
step "tests (all features)"
cargo test --workspace --all-features 2>&1 | tee -a "$log"

# What the run left on disk: CI machines have a limited disk, and a cold run once filled it.
echo "target/ after the run: $(du -sh target 2>/dev/null | cut -f1)"

# One closing line over every test binary and doctest run above.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i; exit (f > 0 || p == 0) }' "$log"
