#!/usr/bin/env bash
# Black-box check of the local stack as a user meets it: start `make dev`'s stack, call the API
# over HTTP, stop it with Ctrl-C (SIGINT), check everything stopped, start it again on the same
# data, call it again and check every route against openapi.yaml with schemathesis
# (scripts/contract.sh). Run by `make smoke` (and CI).
#
# `make smoke BASE=https://...` runs the same black-box checks against a stack that is already
# running, a deployed one say: no start or stop, no demo data. It registers a throwaway user
# (RegistrationEnabled must be true) and, for the admin's view, signs in as ADMIN_EMAIL with
# ADMIN_PASSWORD if they are set (else that step is skipped and says so), completing the second
# factor with a code computed from ADMIN_TOTP_SECRET when the admin has one.
set -euo pipefail
cd "$(dirname "$0")/.."

API=${BASE:-http://127.0.0.1:8000}
API=${API%/}
LOG=$(mktemp)
STACK=
fail() {
  echo "smoke: FAIL: $*" >&2
  echo "--- dev stack log ---" >&2
  tail -n 60 "$LOG" >&2
  [[ -n "$STACK" ]] && kill -INT -- "-$STACK" 2>/dev/null
  exit 1
}

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
  if (exec 3<>/dev/tcp/127.0.0.1/8100) 2>/dev/null; then fail "DynamoDB still listening after Ctrl-C"; fi
  if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then fail "API still listening after Ctrl-C"; fi
  local relay
  relay=$(cat .data/relay.pid 2>/dev/null || true)
  if [[ -n "$relay" ]] && kill -0 "$relay" 2>/dev/null; then
    kill "$relay" 2>/dev/null || true
    fail "the event relay still running after Ctrl-C"
  fi
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
    -H "Origin: http://localhost:4321" -H "Access-Control-Request-Method: GET" \
    -H "Access-Control-Request-Headers: authorization")
  grep -qi '^access-control-allow-origin: http://localhost:4321' <<<"$headers" || fail "CORS preflight: $headers"
}

# An admin's access token: the local stack's (make dev writes it), or a sign-in as ADMIN_EMAIL.
admin_token() {
  if [[ -z "${BASE:-}" ]]; then
    cat .data/admin-token
  elif [[ -n "${ADMIN_EMAIL:-}" && -n "${ADMIN_PASSWORD:-}" ]]; then
    ADMIN_EMAIL=$ADMIN_EMAIL ADMIN_PASSWORD=$ADMIN_PASSWORD python3 -c '
import json, os
print(json.dumps({"email": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]}))' >"$BODY.login"
    [[ $(status "$API/auth/login" -X POST -H 'content-type: application/json' -d "@$BODY.login") == 200 ]] \
      || fail "admin sign-in: $(cat "$BODY")"
    rm -f "$BODY.login"
    if grep -q '"mfa_required":true' "$BODY"; then
      # The admin has a second factor: its code, computed here from ADMIN_TOTP_SECRET.
      [[ -n "${ADMIN_TOTP_SECRET:-}" ]] || fail "the admin has a second factor: set ADMIN_TOTP_SECRET"
      local challenge code
      challenge=$(json_field challenge)
      code=$(scripts/totp "$ADMIN_TOTP_SECRET")
      [[ $(status "$API/auth/mfa" -X POST -H 'content-type: application/json' \
          -d "{\"challenge\": \"$challenge\", \"code\": \"$code\"}") == 200 ]] || fail "admin second factor: $(cat "$BODY")"
    fi
    json_field access_token
  fi
}

# The admin route's contract on any stack: no token, bad ids, an unknown user.
check_admin_errors() {
  local admin
  admin=$(admin_token)
  [[ $(status "$API/sessions/user/74") == 401 ]] || fail "no token must be 401"
  grep -q '"code":"not_authenticated"' "$BODY" || fail "401 body: $(cat "$BODY")"
  [[ -n "$admin" ]] || return 0
  [[ $(status "$API/sessions/user/abc" -H "Authorization: Bearer $admin") == 400 ]] || fail "abc must be 400"
  [[ $(status "$API/sessions/user/9007199254740991" -H "Authorization: Bearer $admin") == 404 ]] \
    || fail "an unknown user must be 404: $(cat "$BODY")"
}

json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$BODY" "$1"; }

# The README's walkthrough: register, sign in from two devices, name one, confirm the password,
# end the other, see it refused, enrol a second factor, and the admin's view of the same user.
check_walkthrough() {
  local email="alex-$RANDOM$RANDOM@example.com" chrome iphone laptop laptop_id phone user_id
  chrome='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
  iphone='Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1'
  [[ $(status "$API/auth/register" -X POST -H 'content-type: application/json' \
      -d "{\"email\": \"$email\", \"password\": \"a long enough secret\"}") == 201 ]] || fail "register: $(cat "$BODY")"
  user_id=$(json_field user_id)
  [[ $(status "$API/auth/login" -X POST -H 'content-type: application/json' -H "user-agent: $chrome" \
      -d "{\"email\": \"$email\", \"password\": \"a long enough secret\"}") == 200 ]] || fail "login: $(cat "$BODY")"
  laptop=$(json_field access_token)
  laptop_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session"]["id"])' "$BODY")
  [[ $(status "$API/auth/login" -X POST -H 'content-type: application/json' -H "user-agent: $iphone" \
      -d "{\"email\": \"$email\", \"password\": \"a long enough secret\"}") == 200 ]] || fail "login 2: $(cat "$BODY")"
  phone=$(json_field access_token)
  [[ $(status "$API/sessions" -H "Authorization: Bearer $laptop") == 200 ]] || fail "my sessions: $(cat "$BODY")"
  python3 - "$BODY" <<'PY' || fail "my sessions: $(cat "$BODY")"
import json, sys
s = json.load(open(sys.argv[1]))
assert sorted(x["device_name"] for x in s) == ["Chrome on Windows 10", "Safari on iOS 17"], s
assert [x["device_name"] for x in s if x["is_current"]] == ["Chrome on Windows 10"], s
PY
  [[ $(status "$API/sessions/$laptop_id" -X PATCH -H "Authorization: Bearer $laptop" -H 'content-type: application/json' \
      -d '{"label": "Alex'"'"'s laptop"}') == 200 ]] || fail "label: $(cat "$BODY")"
  [[ $(status "$API/auth/reauthenticate" -X POST -H "Authorization: Bearer $laptop" -H 'content-type: application/json' \
      -d '{"password": "a long enough secret"}') == 200 ]] || fail "reauthenticate: $(cat "$BODY")"
  # Only tokens issued at or after the re-authentication count as a recent sign-in.
  [[ $(status "$API/sessions?scope=others" -X DELETE -H "Authorization: Bearer $laptop") == 401 ]] \
    || fail "end others with the older token must be 401: $(cat "$BODY")"
  grep -q '"code":"reauthentication_required"' "$BODY" || fail "older token body: $(cat "$BODY")"
  [[ $(status "$API/auth/reauthenticate" -X POST -H "Authorization: Bearer $laptop" -H 'content-type: application/json' \
      -d '{"password": "a long enough secret"}') == 200 ]] || fail "reauthenticate: $(cat "$BODY")"
  laptop=$(json_field access_token)
  [[ $(status "$API/sessions?scope=others" -X DELETE -H "Authorization: Bearer $laptop") == 200 ]] || fail "end others: $(cat "$BODY")"
  [[ $(json_field revoked) == 1 ]] || fail "end others count: $(cat "$BODY")"
  [[ $(status "$API/sessions" -H "Authorization: Bearer $phone") == 401 ]] || fail "ended token must be 401: $(cat "$BODY")"
  grep -q '"code":"session_ended"' "$BODY" || fail "ended token body: $(cat "$BODY")"
  # A second factor: enrol (secret, URI, QR code), confirm with the app's first code (computed
  # here) and the password, and the password alone no longer signs in.
  local secret code recovery
  [[ $(status "$API/me/mfa/totp" -X POST -H "Authorization: Bearer $laptop") == 200 ]] || fail "enrol: $(cat "$BODY")"
  grep -q '"qr_svg":"<?xml' "$BODY" || fail "enrol: no QR code: $(cat "$BODY")"
  secret=$(json_field secret)
  code=$(scripts/totp "$secret")
  [[ $(status "$API/me/mfa/totp/confirm" -X POST -H "Authorization: Bearer $laptop" -H 'content-type: application/json' \
      -d "{\"code\": \"$code\", \"password\": \"a long enough secret\"}") == 200 ]] || fail "confirm: $(cat "$BODY")"
  python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["recovery_codes"]) == 10' "$BODY" || fail "recovery codes: $(cat "$BODY")"
  recovery=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recovery_codes"][0])' "$BODY")
  [[ $(status "$API/auth/login" -X POST -H 'content-type: application/json' \
      -d "{\"email\": \"$email\", \"password\": \"a long enough secret\"}") == 200 ]] || fail "login after enrolment: $(cat "$BODY")"
  grep -q '"mfa_required":true' "$BODY" || fail "the password alone must not sign in now: $(cat "$BODY")"
  # Changing the factor needs a recent sign-in *with* it: this session proved the password
  # alone (401 second_factor_required) until it re-authenticates with a recovery code; then new
  # recovery codes, and the factor removed.
  [[ $(status "$API/me/mfa/totp" -X DELETE -H "Authorization: Bearer $laptop") == 401 ]] \
    || fail "removing the factor without it must be 401: $(cat "$BODY")"
  grep -q '"code":"second_factor_required"' "$BODY" || fail "remove without the factor: $(cat "$BODY")"
  [[ $(status "$API/auth/reauthenticate" -X POST -H "Authorization: Bearer $laptop" -H 'content-type: application/json' \
      -d "{\"password\": \"a long enough secret\", \"recovery_code\": \"$recovery\"}") == 200 ]] \
    || fail "reauthenticate with a recovery code: $(cat "$BODY")"
  laptop=$(json_field access_token)
  [[ $(status "$API/me/mfa/recovery-codes" -X POST -H "Authorization: Bearer $laptop") == 200 ]] \
    || fail "new recovery codes: $(cat "$BODY")"
  python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))["recovery_codes"]) == 10' "$BODY" \
    || fail "new recovery codes: $(cat "$BODY")"
  [[ $(status "$API/me/mfa/totp" -X DELETE -H "Authorization: Bearer $laptop") == 204 ]] || fail "remove the factor: $(cat "$BODY")"
  # Gone: a new enrolment may begin (no session added, so the admin's view below is as it was).
  [[ $(status "$API/me/mfa/totp" -X POST -H "Authorization: Bearer $laptop") == 200 ]] \
    || fail "enrol again after removal: $(cat "$BODY")"
  # The current session, and what another backend learns of both tokens (the local stack has
  # no IAM; a deployed one takes SigV4-signed requests only).
  [[ $(status "$API/sessions/current" -H "Authorization: Bearer $laptop") == 200 ]] || fail "current session: $(cat "$BODY")"
  [[ $(json_field is_current) == True && $(json_field label) == "Alex's laptop" ]] || fail "current session: $(cat "$BODY")"
  if [[ -z "${BASE:-}" ]]; then
    [[ $(status "$API/auth/introspect" -X POST -d "token=$laptop") == 200 ]] || fail "introspect: $(cat "$BODY")"
    [[ $(json_field active) == True && $(json_field sub) == "$user_id" ]] || fail "introspect a live token: $(cat "$BODY")"
    [[ $(status "$API/auth/introspect" -X POST -d "token=$phone") == 200 ]] || fail "introspect: $(cat "$BODY")"
    grep -qx '{"active":false}' "$BODY" || fail "introspect an ended session's token: $(cat "$BODY")"
    check_events "$user_id"
    check_alert "$email"
  fi
  local admin
  admin=$(admin_token)
  if [[ -z "$admin" ]]; then
    echo "smoke: admin's view skipped (set ADMIN_EMAIL and ADMIN_PASSWORD)"
    [[ $(status "$API/.well-known/jwks.json") == 200 ]] || fail "jwks"
    return 0
  fi
  [[ $(status "$API/sessions/user/$user_id?include_inactive=true" -H "Authorization: Bearer $admin") == 200 ]] \
    || fail "admin view: $(cat "$BODY")"
  python3 - "$BODY" <<'PY' || fail "admin view: $(cat "$BODY")"
import json, sys
s = json.load(open(sys.argv[1]))
assert sorted((x["device_name"], x["is_active"], x["label"]) for x in s) == [("Chrome on Windows 10", True, "Alex's laptop"), ("Safari on iOS 17", False, None)], s
PY
  check_activity "$admin" "$laptop" "$user_id"
  [[ $(status "$API/.well-known/jwks.json") == 200 ]] || fail "jwks"
}

# The walkthrough's domain events, as the local publisher wrote them to .data/events.jsonl
# (local stack only; a deployed stack publishes to its EventBridge bus): who did what, each once.
check_events() {
  local user_id=$1
  for _ in $(seq 1 40); do
    python3 - "$user_id" <<'PY' && return 0
import json, sys
user = int(sys.argv[1])
events = [json.loads(line) for line in open(".data/events.jsonl")]
mine = [e for e in events if e.get("user_id") == user]
kinds = [e["type"] for e in mine]
want = ["user.created", "session.created", "session.ended", "user.mfa_enabled", "user.mfa_disabled"]
assert all(k in kinds for k in want), kinds
assert kinds.count("session.created") == 2, kinds
ended = [e for e in mine if e["type"] == "session.ended"]
assert [(e["data"]["reason"], e["data"]["ended_by"], e["actor"]["user_id"]) for e in ended] == [("user", "user", user)], ended
assert all(e["version"] == 1 and e["id"] and e["time"].endswith("Z") for e in mine), mine
ids = [e["id"] for e in mine]
assert len(ids) == len(set(ids)), ids
PY
    sleep 0.25
  done
  python3 - "$user_id" <<'PY' || true
import json, sys
print([e["type"] for e in map(json.loads, open(".data/events.jsonl")) if e.get("user_id") == int(sys.argv[1])])
PY
  fail "the walkthrough's events did not reach .data/events.jsonl (see .data/relay.log)"
}

# The walkthrough's phone was a new device: its user was e-mailed (locally, a file in
# .data/outbox/) a "This wasn't me" link. The phone's session has ended already ("end all
# others"), so the link marks it reported without ending anything new; a second use is 410.
check_alert() {
  local email=$1 mail token
  for _ in $(seq 1 40); do
    mail=$(grep -l "\"to\": \"$email\"" .data/outbox/*.json 2>/dev/null | head -1 || true)
    [[ -n "$mail" ]] && break
    sleep 0.25
  done
  [[ -n "$mail" ]] || fail "no new-sign-in alert for $email in .data/outbox (see .data/relay.log)"
  token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["link"].split("#token=")[1])' "$mail")
  [[ $(status "$API/auth/not-me" -X POST -H 'content-type: application/json' -d "{\"token\": \"$token\"}") == 200 ]] \
    || fail "not-me: $(cat "$BODY")"
  [[ $(json_field ended) == False && $(json_field password_change_required) == True ]] || fail "not-me: $(cat "$BODY")"
  [[ $(status "$API/auth/not-me" -X POST -H 'content-type: application/json' -d "{\"token\": \"$token\"}") == 410 ]] \
    || fail "not-me used twice: $(cat "$BODY")"
  [[ $(json_field code) == link_used ]] || fail "not-me used twice: $(cat "$BODY")"
}

# The admin's view of what happened to the walkthrough's user, and the user's own: the same
# history (it arrives from the tables' streams a moment after each change, so this waits), paged;
# and the admin route's order of answers.
check_activity() {
  local admin=$1 user=$2 user_id=$3 cursor
  for _ in $(seq 1 60); do
    [[ $(status "$API/users/$user_id/activity?limit=100" -H "Authorization: Bearer $admin") == 200 ]] \
      || fail "admin activity: $(cat "$BODY")"
    python3 - "$BODY" "$user_id" <<'PY' && break
import json, sys
entries, user = json.load(open(sys.argv[1])), int(sys.argv[2])
kinds = [e["type"] for e in entries]
assert kinds.count("session.created") == 2 and "user.mfa_disabled" in kinds, kinds
ended = [e for e in entries if e["type"] == "session.ended"]
assert [(e["data"]["reason"], e["actor"]) for e in ended] == [("user", {"type": "user", "user_id": user})], ended
times = [e["time"] for e in entries]
assert times == sorted(times, reverse=True), times
PY
    sleep 0.5
  done
  python3 - "$BODY" "$user_id" <<'PY' || fail "admin activity: $(cat "$BODY")"
import json, sys
kinds = [e["type"] for e in json.load(open(sys.argv[1]))]
assert kinds.count("session.created") == 2 and "user.mfa_disabled" in kinds, kinds
PY
  [[ $(status "$API/users/$user_id/activity?limit=1" -H "Authorization: Bearer $admin") == 200 ]] \
    || fail "admin activity page: $(cat "$BODY")"
  cursor=$(curl -s -D - -o /dev/null "$API/users/$user_id/activity?limit=1" -H "Authorization: Bearer $admin" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "x-next-cursor" {print $2}')
  [[ -n "$cursor" ]] || fail "admin activity: no X-Next-Cursor on a page of one"
  [[ $(status "$API/users/$user_id/activity?limit=1&cursor=$cursor" -H "Authorization: Bearer $admin") == 200 ]] \
    || fail "admin activity, second page: $(cat "$BODY")"
  [[ $(status "$API/me/activity" -H "Authorization: Bearer $user") == 200 ]] || fail "my activity: $(cat "$BODY")"
  grep -q '"type":"user.mfa_enabled"' "$BODY" || fail "my activity: $(cat "$BODY")"
  # 401, then 403, then 400, then 404; and a cursor of this user's is no key to another's.
  [[ $(status "$API/users/$user_id/activity") == 401 ]] || fail "activity without a token: $(cat "$BODY")"
  [[ $(status "$API/users/$user_id/activity" -H "Authorization: Bearer $user") == 403 ]] \
    || fail "activity as a plain user: $(cat "$BODY")"
  [[ $(status "$API/users/x/activity" -H "Authorization: Bearer $admin") == 400 ]] || fail "activity, bad id: $(cat "$BODY")"
  [[ $(status "$API/users/9007199254740991/activity" -H "Authorization: Bearer $admin") == 404 ]] \
    || fail "activity, unknown user: $(cat "$BODY")"
  [[ $(status "$API/users/9007199254740991/activity?cursor=$cursor" -H "Authorization: Bearer $admin") == 400 ]] \
    || fail "activity, another user's cursor: $(cat "$BODY")"
}

# The demo admin with a second factor (local stack only): the password gives a challenge, the
# challenge and a code (TOTP computed here, or a recovery code) an aal2 session; a TOTP code is
# accepted once.
check_second_factor() {
  local how=$1 challenge code body
  mfa_challenge() {
    [[ $(status "$API/auth/login" -X POST -H 'content-type: application/json' \
        -d '{"email": "ops@example.com", "password": "demo-password-123"}') == 200 ]] || fail "ops login: $(cat "$BODY")"
    [[ $(json_field mfa_required) == True ]] || fail "ops login must ask for the second factor: $(cat "$BODY")"
    json_field challenge
  }
  challenge=$(mfa_challenge)
  if [[ $how == totp ]]; then
    code=$(scripts/totp GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ)
    body="{\"challenge\": \"$challenge\", \"code\": \"$code\"}"
  else
    body="{\"challenge\": \"$challenge\", \"recovery_code\": \"$how\"}"
  fi
  [[ $(status "$API/auth/mfa" -X POST -H 'content-type: application/json' -d "$body") == 200 ]] || fail "mfa: $(cat "$BODY")"
  python3 - "$BODY" <<'PY' || fail "mfa session: $(cat "$BODY")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["access_token"] and r["session"]["aal"] == "aal2", r
assert r["session"]["amr"][0] == "pwd" and r["session"]["amr"][1] in ("otp", "recovery"), r
assert (r["session"]["amr"][1] == "recovery") == isinstance(r.get("recovery_codes_left"), int), r
PY
  [[ $how == totp ]] || return 0
  challenge=$(mfa_challenge)
  [[ $(status "$API/auth/mfa" -X POST -H 'content-type: application/json' \
      -d "{\"challenge\": \"$challenge\", \"code\": \"$code\"}") == 401 ]] || fail "a replayed code must be 401: $(cat "$BODY")"
  grep -q '"code":"invalid_code"' "$BODY" || fail "replayed code body: $(cat "$BODY")"
}

if [[ -n "${BASE:-}" ]]; then
  echo "smoke: against $API (already running)"
  check_admin_errors
  check_walkthrough
  echo "smoke: ok ($API)"
  exit 0
fi

echo "smoke: first start (fresh .data/)"
rm -rf .data
start_stack
check_api
check_walkthrough
check_second_factor totp
stop_stack
echo "smoke: second start on the same data"
start_stack
check_api
check_walkthrough
check_second_factor demob-codes
echo "smoke: the contract (schemathesis against openapi.yaml)"
# A failing contract must not leave the stack running (the next start would find its ports).
scripts/contract.sh || { kill -INT -- "-$STACK" 2>/dev/null; sleep 3; exit 1; }
stop_stack
echo "smoke: ok"
