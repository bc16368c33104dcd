#!/usr/bin/env bash
# Benchmark: builds in release, seeds 1,000,000 tokens with `tokenwarden seed`, starts the
# server, and measures with wrk on loopback. Every throughput figure is also given as a ratio
# to the app's own /healthz measured in the same run. Writes bench/out/results.md.
#
#   bench/run.sh                 # SQLite, then the API figure on PostgreSQL too
#   SKIP_PG=1 bench/run.sh       # SQLite only
#   DURATION=20s bench/run.sh    # longer runs
#   ROUNDS=5 bench/run.sh        # more rounds of figures 1, 2, 6 and 7 and their baselines (default 3)
#
# Needs: wrk and sqlite3 (apt-get install wrk sqlite3), a PostgreSQL server at 127.0.0.1:5432 for figure 6.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number of at least 1" >&2; exit 1; }
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18181}
BASE="http://127.0.0.1:$PORT"
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d)
BIN=target/release/tokenwarden
PASSWORD='benchmark password 0123'
SERVER_PID=""
FAILED=0

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }

echo "==> building (release)"
cargo build --release --quiet

tw() { "$BIN" "$@"; }

# wrk_run NAME PATH [wrk args...]: prints "rps p50_ms non2xx errors" and keeps the raw output.
# URL_BASE overrides the server's address (the nginx figures go through nginx).
wrk_run() {
  local name=$1 path=$2; shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "${URL_BASE:-$BASE}$path" > "$OUT/wrk-$name.txt" 2>&1
  local rps p50 non2xx errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$name.txt")
  p50=$(awk '$1=="50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$OUT/wrk-$name.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$OUT/wrk-$name.txt"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors:/ {gsub(",",""); print $4+$6+$8+$10}' "$OUT/wrk-$name.txt"); errors=${errors:-0}
  echo "$rps ${p50:-0} $non2xx $errors"
}

start_server() {
  local db=$1
  DATABASE_URL=$db TOKENWARDEN_LOG=warn TOKENWARDEN_BIND=127.0.0.1:$PORT \
    TOKENWARDEN_SESSION_KEY="benchmark session key, long enough to derive from" \
    TOKENWARDEN_LOGIN_ATTEMPTS_PER_IP=20 "$BIN" serve > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the server did not start" >&2; cat "$OUT/server.log" >&2; exit 1
}

stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# A signed-in cookie for LOGIN, as a browser gets it.
session_cookie() {
  local jar=$WORK/jar-$1 token
  rm -f "$jar"
  token=$(curl -fs -c "$jar" -b "$jar" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -fs -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
    --data-urlencode "login=$1" --data-urlencode "password=$PASSWORD" "$BASE/login"
  awk '$6=="tw_session" {print "tw_session=" $7}' "$jar"
}

# The 99th percentile of a wrk run, in ms.
p99() { awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$OUT/wrk-$1.txt"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# met or missed; a figure that was not measured (nginx missing, SKIP_PG) is neither.
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN{ if (v !~ /^[0-9.]+$/) print "not measured"; else if (op==">=") print (v>=t)?"met":"missed"; else print (v<t)?"met":"missed" }'; }
# median VALUES...: the middle one (the lower of the two middle ones for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# rounds VALUES...: "a, b, c" with no decimals, for the table
rounds() { printf '%s\n' "$@" | awk '{printf "%s%d", (NR > 1 ? ", " : ""), $1 + 0.5}'; }
check() { # check LABEL NON2XX ERRORS
  if [ "$2" != "0" ] || [ "$3" != "0" ]; then echo "!! $1: $2 non-2xx responses, $3 socket errors" >&2; FAILED=1; fi
}

prepare() { # prepare DATABASE_URL: seeds and creates the benchmark users; sets SEED_SECONDS, API_TOKEN
  local db=$1 started
  started=$(date +%s.%N)
  tw --database-url "$db" seed --users 100000 --tokens-per-user 10 --without-history > "$WORK/seed.txt"
  SEED_SECONDS=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  for spec in "bench-student:student:" "bench-heavy:teacher:" "bench-admin::Account Admin" \
    "bench-robot::Account Admin"; do
    IFS=: read -r login role account <<<"$spec"
    args=(user create --login "$login" --name "Bench ${login#bench-}" --email "$login@example.edu" --password-stdin)
    [ -n "$role" ] && args+=(--role "$role")
    [ -n "$account" ] && args+=(--account-role "$account")
    printf '%s\n' "$PASSWORD" | tw --database-url "$db" "${args[@]}" > /dev/null
  done
  # The audit log a million tokens leave behind: each one's creation, at its time; and an
  # administrator's script (bench-robot) that changed each seeded person twice over two
  # years, and bench-heavy three times: 200,003 events by one actor. In the order the app
  # would have written them, after the four benchmark users' own creations, which the
  # script needs to exist (the seed writes tokens only, and its time above is theirs alone).
  local people="SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE login NOT LIKE 'bench-%'"
  local robot="(SELECT id FROM users WHERE login = 'bench-robot')" heavy="(SELECT id FROM users WHERE login = 'bench-heavy')"
  case $db in
    postgres*) ago() { echo "date_trunc('second', now() AT TIME ZONE 'UTC') - make_interval(secs => $1)"; } ;;
    *) ago() { echo "datetime('now', '-' || ($1) || ' seconds')"; } ;;
  esac
  local history="INSERT INTO audit_events (occurred_at, actor_id, subject_user_id, token_id, action, details)
    SELECT at, actor, subject, token, action, details FROM (
      SELECT created_at AS at, user_id AS actor, user_id AS subject, id AS token, 'token.created' AS action,
        'Created' AS details FROM access_tokens
      UNION ALL
      SELECT $(ago '(p.n * 2 + t.i) * 315'), $robot, p.id, NULL, 'user.updated', 'Email changed'
        FROM ($people) p CROSS JOIN (SELECT 0 AS i UNION ALL SELECT 1) t
      UNION ALL
      SELECT $(ago 'd.i * 2592000'), $robot, $heavy, NULL, 'user.updated', 'Email changed'
        FROM (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3) d
    ) history ORDER BY at, token"
  started=$(date +%s.%N)
  case $db in
    # Vacuumed and checkpointed before anything is measured: else autovacuum and the
    # checkpoint of 1.2 million new rows run during the first figures, and one API request
    # waited a second for them (503) in a run of 2026-12-06.
    postgres*) psql "$db" -qc "$history" -qc "VACUUM ANALYZE audit_events" -qc "CHECKPOINT" > /dev/null ;;
    *) sqlite3 "$db" "$history" ;;
  esac
  echo "    their audit history took $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s" >&2
  API_TOKEN=$(tw --database-url "$db" token create --login bench-student --purpose "Benchmark client" --expires-in-days 30)
  for i in $(seq 2 20); do tw --database-url "$db" token create --login bench-student --purpose "Student token $i" --expires-in-days 60 > /dev/null; done
  seq 1 1000 | xargs -P 1 -I{} "$BIN" --database-url "$db" token create --login bench-heavy --purpose "Heavy token {}" --expires-in-days 365 > /dev/null
  # A service that tokens guard, and a student's token for it.
  SERVICE_CREDENTIAL=$(tw --database-url "$db" service create --slug gradebook --name Gradebook \
    --scope "read=Read grades" --rule "GET /grades/*=gradebook:read")
  SERVICE_TOKEN=$(tw --database-url "$db" token create --login bench-student --purpose "Gradebook client" \
    --expires-in-days 30 --scope gradebook:read)
}

# nginx on 3 ports: an upstream that answers 200 itself, a plain proxy to it, and the
# README's auth_request configuration in front of it (asking tokenwarden at $PORT).
NGINX_PID=""
start_nginx() {
  local dir=$WORK/nginx
  mkdir -p "$dir/logs"
  sed -e "s/listen 80;/listen 127.0.0.1:$((PORT + 2));/" \
      -e "s/127.0.0.1:8080/127.0.0.1:$PORT/" \
      -e "s/127.0.0.1:9000/127.0.0.1:$((PORT + 3))/" docs/gateways/nginx.conf > "$dir/site.conf"
  cat > "$dir/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  server { listen 127.0.0.1:$((PORT + 3)); location / { return 200 "grades\n"; } }
  # The same proxying as the README's site, without auth_request: only that differs.
  server { listen 127.0.0.1:$((PORT + 1)); location / { proxy_pass http://127.0.0.1:$((PORT + 3)); } }
  include $dir/site.conf;
}
NGINX
  nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$((PORT + 1))/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "nginx did not start" >&2; cat "$dir/logs/error.log" >&2; exit 1
}
stop_nginx() { [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=""; }

# The account-wide views an administrator opens, each measured cold (its first request
# after the server restarted, with the OS's page cache dropped where this user may) and
# warm (the median of five requests after that), through HTTP with an admin's cookie.
# A week of the dashboard's chart, eight weeks back: Monday to Sunday.
WEEK=$(date -u -d "-$(( $(date -u +%u) - 1 + 56 )) days" +%F)
WEEK_END=$(date -u -d "$WEEK +6 days" +%F)
# The last year, for the revocations of bench-robot, who made none in it.
YEAR_AGO=$(date -u -d "-1 year" +%F)
ADMIN_VIEWS=(
  "/admin"
  "/admin/tokens"
  "/admin/tokens?show=active"
  "/admin/tokens?show=no_expiry"
  "/admin/tokens?show=expiring&days=7"
  "/admin/tokens?show=expiring&days=30"
  "/admin/tokens?show=expiring&from=90&days=365"
  "/admin/tokens?show=unused&days=90"
  "/admin/tokens?show=never_used"
  "/admin/tokens?show=pending"
  "/admin/tokens?show=expired"
  "/admin/tokens?owner=student_only"
  "/admin/tokens?owner=teacher"
  "/admin/tokens?owner=account_role"
  "/admin/tokens?show=no_expiry&owner=account_role"
  "/admin/tokens?show=expiring&days=7&owner=account_role"
  "/admin/tokens?show=unused&days=90&owner=student_only"
  "/admin/tokens?show=never_used&owner=account_role"
  "/admin/tokens?show=pending&owner=teacher"
  "/admin/tokens?show=expired&owner=observer"
  "/admin/users"
  "/admin/users?q=smith"
  "/admin/users?q=teacher%2004242"
  "/admin/users?q=ab"
  "/admin/users?sort=newest"
  "/admin/users?q=smith&sort=newest"
  "/admin/audit"
  "/admin/audit?action=token.created"
  "/admin/audit?actor=bench-admin"
  "/admin/audit?subject=bench-heavy"
  "/admin/audit?action=token.revocations"
  "/admin/audit?action=token.created&from=$WEEK&to=$WEEK_END"
  "/admin/audit?from=$WEEK&to=$WEEK_END"
  "/admin/audit?actor=bench-heavy&from=$WEEK&to=$WEEK_END"
  "/admin/audit?actor=bench-robot&subject=bench-heavy"
  "/admin/audit?actor=bench-robot&subject=bench-heavy&action=user.updated"
  "/admin/audit?actor=bench-robot&action=token.revocations&from=$YEAR_AGO"
  "PROFILE"
)

# ms of one request
one_ms() { curl -fs -o /dev/null -w '%{time_total}' -H "Cookie: $2" "$BASE$1" | awk '{printf "%.1f", $1*1000}'; }

drop_caches() { sync; { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null && echo dropped || echo kept; }

# Before a figure's rounds: what the loads before them wrote is on disk, PostgreSQL's
# buffers included (settle [DATABASE_URL]). Else the kernel flushes it, and PostgreSQL
# checkpoints it, during the rounds; on a slow disk a request then waits on them (in two
# runs of 2026-12-06, right after pgbench's own load, requests of figure 6 waited a
# second and were answered 503).
settle() {
  case ${1:-} in postgres*) psql "$1" -qc "CHECKPOINT" > /dev/null ;; esac
  sync
}

# admin_views DATABASE_URL LABEL: appends "| view | cold | warm |" rows to $OUT/views-LABEL.md
admin_views() {
  local db=$1 label=$2 cookie path cold warm caches slow=0
  : > "$OUT/views-$label.md"
  for view in "${ADMIN_VIEWS[@]}"; do
    path=$view; [ "$view" = PROFILE ] && path="/admin/users/$HEAVY_ID"
    stop_server; caches=$(drop_caches); start_server "$db"
    cookie=$ADMIN_COOKIE
    cold=$(one_ms "$path" "$cookie") || {
      echo "!! $path failed" >&2; FAILED=1; slow=$((slow + 1))
      echo "| \`$path\` | failed | |" >> "$OUT/views-$label.md"; continue
    }
    warm=$(for _ in 1 2 3 4 5; do one_ms "$path" "$cookie"; echo; done | sort -n | sed -n 3p)
    awk -v c="$cold" -v w="$warm" 'BEGIN{exit !(c>=250 || w>=50)}' && slow=$((slow + 1))
    echo "| \`$path\` | $cold ms | $warm ms |" >> "$OUT/views-$label.md"
  done
  VIEWS_CACHES=$caches
  VIEWS_SLOW=$slow
}

echo "==> SQLite: seeding 1,000,000 tokens"
SQLITE_DB=$WORK/bench.db
prepare "$SQLITE_DB"
echo "    seed took ${SEED_SECONDS}s"
start_server "$SQLITE_DB"
HEAVY_ID=$(sqlite3 "$SQLITE_DB" "select id from users where login='bench-heavy'" 2>/dev/null || true)
if [ -z "$HEAVY_ID" ]; then
  HEAVY_ID=$(curl -fs -H "Cookie: $(session_cookie bench-admin)" "$BASE/admin/users?q=bench-heavy" | grep -o 'href="/admin/users/[0-9]*"' | head -1 | grep -o '[0-9]*')
fi
STUDENT_COOKIE=$(session_cookie bench-student)
ADMIN_COOKIE=$(session_cookie bench-admin)

settle
echo "==> measuring (each run $DURATION, $CONNS connections; the ratios' figures in $ROUNDS rounds)"
# The figures given as a ratio to /healthz are measured in turn, round after round: this
# machine's speed drifts by 10% and more within a minute (the API measured during the login
# flood came out 27% faster than the quiet API a minute before it), and one figure beside
# one /healthz moves with that drift. Each ratio is the median of its rounds' ratios, each
# against its own round's /healthz; each absolute figure the median of its rounds.
H=(); HP=(); A=(); AP=(); AR=(); P=(); PP=(); PR=(); V=(); VP=(); VR=()
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p50 n e < <(wrk_run "healthz-$round" /healthz); check healthz "$n" "$e"; H+=("$rps"); HP+=("$p50")
  read -r rps p50 n e < <(wrk_run "api-$round" /api/v1/users/self -H "Authorization: Bearer $API_TOKEN")
  check api "$n" "$e"; A+=("$rps"); AP+=("$p50"); AR+=("$(ratio "$rps" "${H[-1]}")")
  read -r rps p50 n e < <(wrk_run "tokens-page-$round" /settings/tokens -H "Cookie: $STUDENT_COOKIE")
  check tokens-page "$n" "$e"; P+=("$rps"); PP+=("$p50"); PR+=("$(ratio "$rps" "${H[-1]}")")
  read -r rps p50 n e < <(wrk_run "verify-$round" "/auth/verify?service=gradebook" -H "Authorization: Bearer $SERVICE_TOKEN" \
    -H "X-Original-Method: GET" -H "X-Original-URI: /grades/42")
  check verify "$n" "$e"; V+=("$rps"); VP+=("$p50"); VR+=("$(ratio "$rps" "${H[-1]}")")
done
H_RPS=$(median "${H[@]}"); H_P50=$(median "${HP[@]}")
A_RPS=$(median "${A[@]}"); A_P50=$(median "${AP[@]}"); A_RATIO=$(median "${AR[@]}")
P_RPS=$(median "${P[@]}"); P_P50=$(median "${PP[@]}"); P_RATIO=$(median "${PR[@]}")
V_RPS=$(median "${V[@]}"); V_P50=$(median "${VP[@]}"); V_RATIO=$(median "${VR[@]}")
read -r U_RPS U_P50 U_N U_E < <(wrk_run profile "/admin/users/$HEAVY_ID" -H "Cookie: $ADMIN_COOKIE"); check profile "$U_N" "$U_E"
# The latency an administrator sees: one client, one request after another.
read -r U1_RPS U1_P50 U1_N U1_E < <(THREADS=1 CONNS=1 wrk_run profile-one "/admin/users/$HEAVY_ID" -H "Cookie: $ADMIN_COOKIE"); check profile-one "$U1_N" "$U1_E"

# API throughput while another client floods the login form with wrong passwords, against
# the quiet API measured just before it (the machine drifts within a minute).
read -r Q_RPS _ n e < <(wrk_run api-before-flood /api/v1/users/self -H "Authorization: Bearer $API_TOKEN")
check api-before-flood "$n" "$e"
FLOOD_TOKEN=$(curl -fs -c "$WORK/flood" -b "$WORK/flood" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
FLOOD_COOKIE=$(awk '$6=="tw_session" {print "tw_session=" $7}' "$WORK/flood")
cat > "$WORK/flood.lua" <<LUA
wrk.method = "POST"
wrk.body = "login=bench-student&password=wrong+guess&csrf_token=$FLOOD_TOKEN"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "$FLOOD_COOKIE"
LUA
wrk -t1 -c16 -d"$DURATION" -s "$WORK/flood.lua" "$BASE/login" > "$OUT/wrk-flood.txt" 2>&1 &
FLOOD_PID=$!
sleep 0.5
read -r F_RPS F_P50 F_N F_E < <(wrk_run api-during-flood /api/v1/users/self -H "Authorization: Bearer $API_TOKEN"); check api-during-flood "$F_N" "$F_E"
wait "$FLOOD_PID" || true
FLOOD_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-flood.txt")
RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")

echo "==> the services' doors"
cat > "$WORK/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$SERVICE_TOKEN"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf 'gradebook:%s' "$SERVICE_CREDENTIAL" | base64 -w0)"
LUA
read -r I_RPS I_P50 I_N I_E < <(wrk_run introspect /oauth/introspect -s "$WORK/introspect.lua"); check introspect "$I_N" "$I_E"
I_P99=$(p99 introspect)
grep -q '"active":true' <(curl -fs -u "gradebook:$SERVICE_CREDENTIAL" -d "token=$SERVICE_TOKEN" "$BASE/oauth/introspect") || { echo "!! introspection says inactive" >&2; FAILED=1; }
if command -v nginx >/dev/null; then
  start_nginx
  read -r NP_RPS NP_P50 NP_N NP_E < <(URL_BASE="http://127.0.0.1:$((PORT + 1))" wrk_run nginx-plain /grades/42); check nginx-plain "$NP_N" "$NP_E"
  read -r NA_RPS NA_P50 NA_N NA_E < <(URL_BASE="http://127.0.0.1:$((PORT + 2))" wrk_run nginx-auth /grades/42 -H "Authorization: Bearer $SERVICE_TOKEN"); check nginx-auth "$NA_N" "$NA_E"
  stop_nginx
fi
echo "==> the account-wide views, cold and warm (SQLite)"
admin_views "$SQLITE_DB" sqlite
SQLITE_VIEWS_SLOW=$VIEWS_SLOW
stop_server

PG_LINE="| 6. \`GET /api/v1/users/self\`, PostgreSQL, 1,000,000 tokens | skipped (SKIP_PG=1) | | ≥ 0.6× | |"
if [ -z "${SKIP_PG:-}" ]; then
  echo "==> PostgreSQL: seeding 1,000,000 tokens"
  PG_DB=tw_bench_$$
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" -qc "CREATE DATABASE $PG_DB" >/dev/null
  # Loopback: no TLS, as for every other figure (libpq would otherwise negotiate it and
  # spend a tenth of the server's time in OpenSSL).
  PG_URL="${PG_ADMIN_URL%/*}/$PG_DB?sslmode=disable"
  SQLITE_SEED_SECONDS=$SEED_SECONDS
  prepare "$PG_URL"
  PG_SEED_SECONDS=$SEED_SECONDS
  SEED_SECONDS=$SQLITE_SEED_SECONDS
  start_server "$PG_URL"
  HEAVY_ID=$(psql "$PG_URL" -Atc "select id from users where login='bench-heavy'")
  ADMIN_COOKIE=$(session_cookie bench-admin)
  read -r GH_RPS _ GH_N GH_E < <(wrk_run pg-healthz /healthz); check pg-healthz "$GH_N" "$GH_E"
  # The honest ceiling for one query per request: PostgreSQL's own read-only benchmark,
  # prepared statements, the same connections, the same server, in the same run; in turn
  # with the API, round after round, as the SQLite figures are.
  PGB_DB=tw_pgbench_$$
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PGB_DB" -qc "CREATE DATABASE $PGB_DB" >/dev/null
  pgbench -i -q -s 10 "${PG_ADMIN_URL%/*}/$PGB_DB" > /dev/null 2>&1
  settle "$PG_URL"
  G=(); GP=(); GB=(); GR=()
  for round in $(seq 1 "$ROUNDS"); do
    read -r rps p50 n e < <(wrk_run "pg-api-$round" /api/v1/users/self -H "Authorization: Bearer $API_TOKEN")
    check pg-api "$n" "$e"; G+=("$rps"); GP+=("$p50")
    tps=$(pgbench -S -M prepared -c "$CONNS" -j "$THREADS" -T "${DURATION%s}" "${PG_ADMIN_URL%/*}/$PGB_DB" 2>/dev/null \
      | awk '/^tps/ {print int($3); exit}')
    GB+=("${tps:-0}"); GR+=("$(ratio "$rps" "${tps:-0}")")
  done
  G_RPS=$(median "${G[@]}"); G_P50=$(median "${GP[@]}"); PGB_TPS=$(median "${GB[@]}"); G_RATIO=$(median "${GR[@]}")
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PGB_DB WITH (FORCE)" >/dev/null
  echo "==> the account-wide views, cold and warm (PostgreSQL)"
  admin_views "$PG_URL" postgresql
  PG_VIEWS_SLOW=$VIEWS_SLOW
  stop_server
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
  PG_LINE="| 6. \`GET /api/v1/users/self\`, PostgreSQL, 1,000,000 tokens, against \`pgbench -S -M prepared\` ($PGB_TPS tps, -c$CONNS; rounds $(rounds "${GB[@]}")) | $G_RPS req/s (p50 ${G_P50} ms; rounds $(rounds "${G[@]}")) | ${G_RATIO}× (rounds $(IFS=/; echo "${GR[*]}")) | ≥ 0.6× | $(verdict "$G_RATIO" 0.6 ">=") |"
fi

F_RATIO=$(ratio "$F_RPS" "$Q_RPS"); NA_RATIO=$(ratio "${NA_RPS:-0}" "${NP_RPS:-0}")
NGINX_FIGURE="${NA_RPS:-} req/s against ${NP_RPS:-}"; [ -n "${NA_RPS:-}" ] || NGINX_FIGURE="nginx is not installed"
RSS_MB=$(awk -v k="$RSS_KB" 'BEGIN{printf "%.1f", k/1024}')

{
  echo "Run on $(nproc) cores, $(date -u +%Y-%m-%d), wrk -t$THREADS -c$CONNS -d$DURATION on loopback; the baseline and"
  echo "figures 1, 2, 6 and 7 are medians of $ROUNDS rounds measured in turn, each ratio the median of its rounds' ratios."
  echo
  echo "| figure | absolute | ratio | target | |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| baseline \`GET /healthz\` | $H_RPS req/s (p50 ${H_P50} ms; rounds $(rounds "${H[@]}")) | 1.00× | | |"
  echo "| 1. \`GET /api/v1/users/self\`, valid token, 1,000,000 tokens (SQLite) | $A_RPS req/s (p50 ${A_P50} ms; rounds $(rounds "${A[@]}")) | ${A_RATIO}× (rounds $(IFS=/; echo "${AR[*]}")) | ≥ 0.6× | $(verdict "$A_RATIO" 0.6 ">=") |"
  echo "| 2. Access Tokens page, signed in, 20 tokens | $P_RPS req/s (p50 ${P_P50} ms; rounds $(rounds "${P[@]}")) | ${P_RATIO}× (rounds $(IFS=/; echo "${PR[*]}")) | ≥ 0.3× | $(verdict "$P_RATIO" 0.3 ">=") |"
  echo "| 3. admin user-profile page, 1,000 tokens: one admin | median ${U1_P50} ms ($U1_RPS req/s) | | < 20 ms | $(verdict "$U1_P50" 20 "<") |"
  echo "| 3'. the same page under load ($CONNS connections) | median ${U_P50} ms ($U_RPS req/s) | | | |"
  echo "| 4. API while another client floods the login form ($FLOOD_RPS login req/s) | $F_RPS req/s (quiet, just before: $Q_RPS) | ${F_RATIO}× of quiet | ≥ 0.8× | $(verdict "$F_RATIO" 0.8 ">=") |"
  echo "| 5a. \`tokenwarden seed\` of 1,000,000 tokens | ${SEED_SECONDS} s | | < 60 s | $(verdict "$SEED_SECONDS" 60 "<") |"
  [ -n "${PG_SEED_SECONDS:-}" ] && echo "| 5a'. the same seed on PostgreSQL | ${PG_SEED_SECONDS} s | | | |"
  echo "| 5b. peak RSS of the server under load | ${RSS_MB} MB | | < 64 MB | $(verdict "$RSS_MB" 64 "<") |"
  echo "$PG_LINE"
  echo "| 7. \`GET /auth/verify\` (forward auth), valid token, 1,000,000 tokens (SQLite) | $V_RPS req/s (p50 ${V_P50} ms; rounds $(rounds "${V[@]}")) | ${V_RATIO}× (rounds $(IFS=/; echo "${VR[*]}")) | ≥ 0.5× | $(verdict "$V_RATIO" 0.5 ">=") |"
  echo "| 8. through nginx with \`auth_request\` to tokenwarden, against the same nginx proxying without it | $NGINX_FIGURE | ${NA_RATIO}× | ≥ 0.5× | $(verdict "$NA_RATIO" 0.5 ">=") |"
  echo "| 9. \`POST /oauth/introspect\` (RFC 7662) | $I_RPS req/s (p50 ${I_P50} ms, p99 ${I_P99} ms) | $(ratio "$I_RPS" "$H_RPS")× | | |"
  echo
  echo "The account-wide views at 100,000 users and 1,000,000 tokens, signed in as an Account Admin:"
  echo "cold is a view's first request after a server restart (OS page cache ${VIEWS_CACHES:-kept}), warm the"
  echo "median of the next five. Target: under 250 ms cold and 50 ms warm."
  echo
  echo "| view | SQLite cold | SQLite warm | PostgreSQL cold | PostgreSQL warm |"
  echo "| --- | --- | --- | --- | --- |"
  if [ -s "$OUT/views-postgresql.md" ]; then
    paste -d'|' <(cut -d'|' -f1-4 "$OUT/views-sqlite.md") <(cut -d'|' -f3-5 "$OUT/views-postgresql.md")
  else
    sed 's/$/ | |/' "$OUT/views-sqlite.md"
  fi
  echo
  echo "Views over target: SQLite ${SQLITE_VIEWS_SLOW:-?}, PostgreSQL ${PG_VIEWS_SLOW:-skipped}."
} | tee "$OUT/results.md"

if [ "$FAILED" != 0 ]; then echo "errors during the run: see $OUT/wrk-*.txt" >&2; exit 1; fi
