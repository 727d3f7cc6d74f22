#!/usr/bin/env bash
# Black-box check of the local stack as a user meets it: start `make dev`'s stack, call the API
# over HTTP, stop it with Ctrl-C (SIGINT), check everything stopped, start it again on the same
# data, call it again. Run by `make smoke` (and CI).
set -euo pipefail
cd "$(dirname "$0")/.."

API=http://127.0.0.1:9000
LOG=$(mktemp)
fail() { echo "smoke: FAIL: $*" >&2; echo "--- dev stack log ---" >&2; tail -n 60 "$LOG" >&2; exit 1; }

start_stack() {
  # setsid: the stack gets its own process group, so SIGINT reaches it as Ctrl-C would.
  setsid scripts/dev.sh >"$LOG" 2>&1 &
  STACK=$!
  for _ in $(seq 1 900); do
    if curl -s -o /dev/null "$API/sessions/user/74" 2>/dev/null; then return 0; fi
    kill -0 "$STACK" 2>/dev/null || fail "the stack exited early"
    sleep 1
  done
  fail "the API did not come up"
}

stop_stack() {
  kill -INT -- "-$STACK" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$STACK" 2>/dev/null || break; sleep 1; done
  kill -0 "$STACK" 2>/dev/null && fail "the stack did not stop on Ctrl-C"
  if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then fail "DynamoDB still listening after Ctrl-C"; fi
  if (exec 3<>/dev/tcp/127.0.0.1/9000) 2>/dev/null; then fail "API still listening after Ctrl-C"; fi
}

# status URL [curl args...]: prints the status code; the body goes to $BODY.
BODY=$(mktemp)
status() { local url=$1; shift; curl -s -o "$BODY" -w '%{http_code}' "$@" "$url"; }

check_api() {
  local token
  token=$(cat .data/admin-token)
  [[ $(status "$API/sessions/user/74" -H "Authorization: Bearer $token") == 200 ]] || fail "GET 74: $(cat "$BODY")"
  python3 - "$BODY" <<'PY' || fail "contract: $(cat "$BODY")"
import json, re, sys
sessions = json.load(open(sys.argv[1]))
assert isinstance(sessions, list) and len(sessions) == 3, sessions
stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
for s in sessions:
    assert isinstance(s["id"], str) and len(s["id"]) >= 22
    assert type(s["user_id"]) is int and s["user_id"] == 74
    assert s["device_type"] in ("web", "mobile")
    for k in ("device_name", "browser", "ip_address"):
        assert isinstance(s[k], str) and s[k], k
    assert stamp.match(s["created_at"]) and stamp.match(s["last_activity"])
    assert s["is_active"] is True
assert sessions[0]["device_name"] == "Chrome on Windows 10", sessions[0]
PY
  [[ $(status "$API/sessions/user/74") == 401 ]] || fail "no token must be 401"
  grep -q '"code":"not_authenticated"' "$BODY" || fail "401 body: $(cat "$BODY")"
  [[ $(status "$API/sessions/user/abc" -H "Authorization: Bearer $token") == 400 ]] || fail "abc must be 400"
  [[ $(status "$API/sessions/user/9999" -H "Authorization: Bearer $token") == 404 ]] || fail "9999 must be 404"
  [[ $(status "$API/sessions/user/74?include_inactive=true" -H "Authorization: Bearer $token") == 200 ]] || fail "include_inactive"
  python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 4' "$BODY" || fail "include_inactive must list 4"
  local headers
  headers=$(curl -s -D - -o /dev/null -X OPTIONS "$API/sessions/user/74" \
    -H "Origin: http://localhost:5173" -H "Access-Control-Request-Method: GET" \
    -H "Access-Control-Request-Headers: authorization")
  grep -qi '^access-control-allow-origin: http://localhost:5173' <<<"$headers" || fail "CORS preflight: $headers"
}

echo "smoke: first start (fresh .data/)"
rm -rf .data
start_stack
check_api
stop_stack
echo "smoke: second start on the same data"
start_stack
check_api
stop_stack
echo "smoke: ok"
