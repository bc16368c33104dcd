#!/usr/bin/env bash
# The API against its own OpenAPI document: starts the app on a fresh SQLite database,
# creates an Account Admin and a teacher with a token each, and runs Schemathesis (every
# check but positive_data_acceptance) with each token. Exits non-zero on any failure, on a
# panic in the server log, or if the server died.
#
#   tests/schemathesis/run.sh target/debug/tokenwarden
#
# Needs python3 and Schemathesis (pinned in .ci/run: pip install schemathesis==4.32.5).
# SCHEMATHESIS: the command (default: schemathesis on PATH).
# SCHEMATHESIS_MAX_EXAMPLES: test cases per operation and phase (default 100: the whole
#   script then takes about a minute and a half on 2 cores).
# SCHEMATHESIS_SEED: the seed (default fixed, so that CI repeats itself; "random" for a new
#   one each run: Schemathesis prints it, to replay a failure).
# SCHEMATHESIS_ARGS: more options for `schemathesis run`, split on spaces (e.g.
#   "--continue-on-failure" to see every failure of an operation, not just its first).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/tokenwarden" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
SEED=${SCHEMATHESIS_SEED:-20261201}
ST=$(command -v "${SCHEMATHESIS:-schemathesis}") ||
  { echo "${SCHEMATHESIS:-schemathesis} not found: pip install schemathesis==4.32.5" >&2; exit 2; }
case $ST in /*) ;; *) ST=$PWD/$ST ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokenwarden-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="$WORK/tokenwarden.db"
export TOKENWARDEN_BIND=127.0.0.1:0
export TOKENWARDEN_LOG=info
export TOKENWARDEN_LOG_FORMAT=text
# The leak-report endpoint allows 10 reports a minute per address: at that rate Schemathesis
# would see almost only 429s and test nothing of what lies behind them.
export TOKENWARDEN_LEAK_REPORTS_PER_IP=100000
TOKENWARDEN_SESSION_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
export TOKENWARDEN_SESSION_KEY

"$BIN" migrate >/dev/null
PASSWORD='a long password for schemathesis 123'
printf '%s' "$PASSWORD" | "$BIN" user create --login admin --name "Ada Admin" \
  --email admin@example.edu --account-role "Account Admin" --password-stdin >/dev/null
printf '%s' "$PASSWORD" | "$BIN" user create --login tess --name "Tess Teacher" \
  --email tess@example.edu --role teacher --password-stdin >/dev/null
ADMIN_TOKEN=$("$BIN" token create --login admin --purpose "schemathesis (admin)")
TEACHER_TOKEN=$("$BIN" token create --login tess --purpose "schemathesis (teacher)")

"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*tokenwarden is listening port=\([0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$WORK/server.log" >&2; echo "the server did not say its port" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT"
echo "tokenwarden on $BASE (database $DATABASE_URL)"

# The run's own tokens, by id and by the tail of their hint: hooks.py keeps Schemathesis
# from revoking them halfway (see there).
ids_and_tails=$(python3 - "$BASE" "$ADMIN_TOKEN" "$TEACHER_TOKEN" <<'PY'
import json, sys, urllib.request
base, *tokens = sys.argv[1:]
ids = []
for t in tokens:
    req = urllib.request.Request(base + "/api/v1/users/self/user_generated_tokens",
                                 headers={"Authorization": "Bearer " + t})
    with urllib.request.urlopen(req) as r:
        ids += [str(tok["id"]) for tok in json.load(r)]
print(",".join(ids), ",".join(t[-4:] for t in tokens))
PY
)
export TW_PROTECTED_TOKEN_IDS=${ids_and_tails% *}
export TW_PROTECTED_TOKEN_TAILS=${ids_and_tails#* }
export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"

seed_args=()
[ "$SEED" = random ] || seed_args=(--seed "$SEED")
read -r -a extra_args <<<"${SCHEMATHESIS_ARGS:-}"
requests() { grep -c '"[A-Z]* /api/' "$WORK/server.log" || true; }

status=0
for who in admin teacher; do
  if [ "$who" = admin ]; then token=$ADMIN_TOKEN; else token=$TEACHER_TOKEN; fi
  echo
  echo "==> schemathesis with the ${who}'s token"
  before=$(requests)
  started=$SECONDS
  # From the temporary folder: Schemathesis keeps its example database in the working one.
  if ! (cd "$WORK" && "$ST" run "$BASE/api/v1/openapi.json" \
      --checks all --exclude-checks positive_data_acceptance \
      -H "Authorization: Bearer $token" \
      --max-examples "$MAX_EXAMPLES" "${seed_args[@]}" \
      --workers 1 --request-timeout 10 --output-sanitize true "${extra_args[@]}"); then
    status=1
    echo "schemathesis found failures with the ${who}'s token" >&2
  fi
  echo "${who}: $(($(requests) - before)) API requests in $((SECONDS - started)) s"
done

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "the server died during the run:" >&2
  tail -n 50 "$WORK/server.log" >&2
  status=1
fi
# The app's own errors (an unexpected failure is logged at ERROR by tokenwarden::error), and
# any panic. Not actix's: it logs every malformed request it refuses at ERROR.
if grep -E 'panicked| ERROR tokenwarden' "$WORK/server.log" >&2; then
  echo "the server panicked or logged an unexpected error (above)" >&2
  status=1
fi
exit "$status"
