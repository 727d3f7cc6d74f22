#!/usr/bin/env bash
# The local stack: Dynoxide (DynamoDB) on :8100 persisting to .data/, the tables, demo data, and
# every route on http://localhost:8000 (the port the admin panel and the old backend use) through
# `cargo lambda watch`. Ctrl-C stops all of it.
#   scripts/dev.sh         run the stack (what `make dev` calls, after installing the tools)
#   scripts/dev.sh token   print a fresh admin token for a running stack
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="$PWD/.tools"
DYNAMODB_PORT=8100
# Where the local DynamoDB listens: loopback, or 0.0.0.0 for `sam local` containers to reach it.
DYNAMODB_BIND=${DYNAMODB_BIND:-127.0.0.1}
API_PORT=8000
export PATH="$TOOLS/venv/bin:$TOOLS/bin:$PATH"
# The same settings the functions get from [workspace.metadata.lambda.env] in Cargo.toml.
export APP_ENV=local SESSIONS_TABLE=sessions USERS_TABLE=users USER_EMAILS_TABLE=user-emails \
  ACTIVITY_TABLE=activity
export DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT" AWS_REGION=us-east-1
# Access tokens live an hour locally (15 minutes by default): the admin token below is one.
export ACCESS_TOKEN_TTL_SECONDS=3600

cli() { cargo run --quiet --locked -p sessions-cli -- "$@"; }

if [[ "${1:-}" == "token" ]]; then
  cli token --user 1 --minutes 60 --user-agent "curl (make token)"
  exit 0
fi

mkdir -p .data
started=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "local stack stopped"
}
trap cleanup EXIT INT TERM

if dynoxide healthcheck --port "$DYNAMODB_PORT" >/dev/null 2>&1; then
  echo "DynamoDB (Dynoxide) already running on :$DYNAMODB_PORT, using it"
else
  if (exec 3<>"/dev/tcp/127.0.0.1/$DYNAMODB_PORT") 2>/dev/null; then
    echo "port $DYNAMODB_PORT is taken by something that is not Dynoxide; free it and retry" >&2
    exit 1
  fi
  dynoxide --host "$DYNAMODB_BIND" --port "$DYNAMODB_PORT" --db-path .data/dynamodb.sqlite \
    >.data/dynoxide.log 2>&1 &
  started+=("$!")
  for _ in $(seq 1 100); do
    dynoxide healthcheck --port "$DYNAMODB_PORT" >/dev/null 2>&1 && break
    sleep 0.1
  done
  dynoxide healthcheck --port "$DYNAMODB_PORT" >/dev/null 2>&1 \
    || { echo "Dynoxide did not start; see .data/dynoxide.log" >&2; exit 1; }
  echo "DynamoDB (Dynoxide) on :$DYNAMODB_PORT, data in .data/dynamodb.sqlite"
fi

echo "building the functions and the CLI (first run takes a few minutes)..."
cargo build --quiet --locked --workspace --bins
cli create-tables
cli seed
TOKEN=$(cli token --user 1 --minutes 60 --user-agent "curl (make dev)")
printf '%s\n' "$TOKEN" >.data/admin-token
cli render-events --out .data/events
# The publisher's local stand-in: every write's domain events, from the tables' streams, and
# new-sign-in alerts as files. The binary itself, not `cli` (a function: `$!` would be its
# subshell, and killing that would leave the relay running after Ctrl-C).
"${CARGO_TARGET_DIR:-target}/debug/sessions-cli" relay-events --out .data/events.jsonl \
  --checkpoint .data/events.checkpoint.json --outbox .data/outbox \
  >.data/relay.log 2>&1 &
started+=("$!")
echo "$!" >.data/relay.pid

cat <<BANNER

  Device Sessions API is starting on http://localhost:$API_PORT

  Admin token (user 1, valid 60 minutes; \`make token\` prints a new one), also in .data/admin-token:

    $TOKEN

  An admin with a second factor (TOTP) signs in in two steps: ops@example.com, password
  demo-password-123, TOTP secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ (dev-only; add it to an
  authenticator app, or \`scripts/totp GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\` prints the code),
  recovery codes demoa-codes ... demoj-codes.

  Try it:

    curl -s -H "Authorization: Bearer \$(cat .data/admin-token)" http://localhost:$API_PORT/sessions/user/74

  Domain events (docs/events.md), one JSON object per line: tail -f .data/events.jsonl
  New-sign-in alerts (e-mails on AWS), one JSON file each: .data/outbox/
  Replay an event file (tokens filled in): cargo lambda invoke get-user-sessions --data-file .data/events/get-user-sessions/200-admin-lists-user-74.json
  Ctrl-C stops the API and DynamoDB.

BANNER

cargo lambda watch --quiet --disable-cors --invoke-address 127.0.0.1 --invoke-port "$API_PORT" &
started+=("$!")
wait "${started[-1]}"
