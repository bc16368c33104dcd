#!/usr/bin/env bash
# Soak: minutes of mixed load on loopback — API reads, token create and revoke, page views
# of signed-in browsers, sign-ins — against the release build, then the figures: errors
# (must be 0), the server's memory at the end against the start (within 10%), and its open
# file descriptors and database connections at the end against the start (no leak).
# Writes bench/out/soak.md.
#
#   bench/soak.sh                        # 5 minutes on SQLite
#   DB=postgres bench/soak.sh            # on PostgreSQL (a fresh database, dropped after)
#   DURATION=60 CLIENTS=16 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-300}
CLIENTS=${CLIENTS:-16}
DB=${DB:-sqlite}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18282}
BASE="http://127.0.0.1:$PORT"
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d)
BIN=target/release/tokenwarden
PASSWORD='soak test password 0123'
SERVER_PID=""
PG_DB=""

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PG_DB" ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> building (release): the server and the soak driver"
cargo build --release --quiet
cargo build --release --quiet --example soak

if [ "$DB" = postgres ]; then
  PG_DB="tw_soak_$$"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  export DATABASE_URL="${PG_ADMIN_URL%/*}/$PG_DB"
else
  export DATABASE_URL="$WORK/soak.db"
fi

"$BIN" migrate >/dev/null
printf '%s' "$PASSWORD" | "$BIN" user create --login soak --name "Soak Admin" --email soak@example.edu \
  --account-role "Account Admin" --password-stdin >/dev/null
TOKEN=$("$BIN" token create --login soak --purpose "soak driver")

# Every request of the soak comes from 127.0.0.1: the sign-in budgets are raised so the
# throttle, tested elsewhere, does not count as an error here.
TOKENWARDEN_LOG=warn TOKENWARDEN_BIND=127.0.0.1:$PORT \
  TOKENWARDEN_SESSION_KEY="soak session key, long enough to derive from" \
  TOKENWARDEN_LOGIN_ATTEMPTS_PER_IP=1000000 TOKENWARDEN_LOGIN_ATTEMPTS_PER_LOGIN=1000000 \
  "$BIN" serve > "$OUT/soak-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
fds() { ls "/proc/$SERVER_PID/fd" | wc -l; }
db_conns() {
  if [ "$DB" = postgres ]; then
    psql "$PG_ADMIN_URL" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$PG_DB'"
  else
    # SQLite: the database file's open descriptors (one per pooled connection, and the WAL's).
    ls -l "/proc/$SERVER_PID/fd" 2>/dev/null | grep -c "$WORK/soak.db" || true
  fi
}

echo "==> warming up (20 s)"
target/release/examples/soak "$BASE" 20 "$CLIENTS" "$TOKEN" soak "$PASSWORD" > "$OUT/soak-warmup.txt"
RSS_START=$(rss_kb); FDS_START=$(fds); CONNS_START=$(db_conns)

echo "==> soaking for $DURATION s with $CLIENTS clients and two sign-ins a second"
target/release/examples/soak "$BASE" "$DURATION" "$CLIENTS" "$TOKEN" soak "$PASSWORD" > "$OUT/soak-run.txt"
sleep 2
RSS_END=$(rss_kb); FDS_END=$(fds); CONNS_END=$(db_conns)

figure() { awk -v k="$1" '$1 == k {print $2}' "$OUT/soak-run.txt"; }
ERRORS=$(figure errors)
RSS_CHANGE=$(awk -v a="$RSS_START" -v b="$RSS_END" 'BEGIN {printf "%+.1f", (b - a) * 100 / a}')
{
  echo "| figure | value |"
  echo "| --- | --- |"
  echo "| database | $DB |"
  echo "| duration, clients | $DURATION s, $CLIENTS (+ 2 sign-ins/s) |"
  for k in api_reads token_creates token_revokes page_views sign_ins errors; do echo "| $k | $(figure "$k") |"; done
  echo "| server RSS start → end | $((RSS_START / 1024)) MB → $((RSS_END / 1024)) MB ($RSS_CHANGE %) |"
  echo "| open file descriptors start → end | $FDS_START → $FDS_END |"
  echo "| database connections start → end | $CONNS_START → $CONNS_END |"
} | tee "$OUT/soak.md"
grep -q '^first_error' "$OUT/soak-run.txt" && grep '^first_error' "$OUT/soak-run.txt"

FAILED=0
[ "$ERRORS" = 0 ] || { echo "FAIL: $ERRORS errors"; FAILED=1; }
awk -v c="$RSS_CHANGE" 'BEGIN {exit !(c <= 10 && c >= -10)}' || { echo "FAIL: memory moved $RSS_CHANGE %"; FAILED=1; }
[ "$FDS_END" -le $((FDS_START + 2)) ] || { echo "FAIL: file descriptors grew"; FAILED=1; }
[ "$CONNS_END" -le "$CONNS_START" ] || [ "$CONNS_END" -le 8 ] || { echo "FAIL: database connections grew"; FAILED=1; }
exit $FAILED
