"""GET /sessions/user/{user_id} as a Python Lambda handler: the benchmark's peer.

Written the way a team coming from the old FastAPI backend would write it for Lambda: boto3 and
PyJWT, clients built once at import, the same checks in the same order as the Rust function
(401, 403, 400, 404) and the same response shape, DynamoDB reads one after another.
Run by `make bench` under the official runtime interface client (awslambdaric) through the
bench's Runtime API; not part of the service.
"""

import datetime
import json
import os
import re
import time

import boto3
import jwt
from boto3.dynamodb.types import TypeDeserializer

_DDB = boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT"))
_SESSIONS = os.environ["SESSIONS_TABLE"]
_USERS = os.environ["USERS_TABLE"]
_KEYS = {k["kid"]: jwt.PyJWK(k) for k in json.loads(os.environ["JWT_PUBLIC_KEYS"])["keys"]}
_ISSUER = os.environ.get("TOKEN_ISSUER", "device-sessions-api")
_AUDIENCE = os.environ.get("TOKEN_AUDIENCE", "device-sessions-api")
_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", 7 * 86400))
_USER_ID = re.compile(r"[1-9][0-9]{0,15}")
_DESERIALIZER = TypeDeserializer()


def _item(raw):
    return {k: _DESERIALIZER.deserialize(v) for k, v in raw.items()}


def _json(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _error(status, detail, code):
    return _json(status, {"detail": detail, "code": code})


def _rfc3339(ts):
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _status(s, now):
    if "revoked_at" in s:
        return "revoked", int(s["revoked_at"])
    if now >= int(s["expires_at"]):
        return "expired", int(s["expires_at"])
    if now >= int(s["last_activity"]) + _IDLE_SECONDS:
        return "idle", int(s["last_activity"]) + _IDLE_SECONDS
    return "active", None


def _session_response(s, now):
    status, ended = _status(s, now)
    return {
        "id": s["session_id"],
        "user_id": int(s["user_id"]),
        "device_name": s["device_name"],
        "device_type": s["device_type"],
        "browser": s["browser"],
        "ip_address": s["ip_address"],
        "created_at": _rfc3339(s["created_at"]),
        "last_activity": _rfc3339(s["last_activity"]),
        "is_active": status == "active",
        "os": s["os"],
        "user_agent": s["user_agent"],
        "expires_at": _rfc3339(s["expires_at"]),
        "is_current": False,
        "status": status,
        "ended_at": _rfc3339(ended) if ended else None,
        "ended_reason": s.get("revoked_reason"),
        "label": s.get("label"),
        "location": s.get("location"),
    }


def _get(table, key):
    out = _DDB.get_item(TableName=table, Key=key, ConsistentRead=True)
    return _item(out["Item"]) if "Item" in out else None


def handler(event, context):
    headers = event.get("headers") or {}
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return _error(401, "Not authenticated.", "not_authenticated")
    token = auth[7:].strip()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "at+jwt" or header.get("alg") != "EdDSA":
            raise jwt.InvalidTokenError("wrong header")
        claims = jwt.decode(
            token,
            _KEYS[header["kid"]],
            algorithms=["EdDSA"],
            audience=_AUDIENCE,
            issuer=_ISSUER,
            leeway=30,
        )
    except (jwt.InvalidTokenError, KeyError):
        return _error(401, "Could not validate credentials.", "invalid_token")
    now = int(time.time())
    caller_id = int(claims["sub"])

    session = _get(
        _SESSIONS,
        {"user_id": {"N": str(caller_id)}, "session_id": {"S": claims["sid"]}},
    )
    if session is None or _status(session, now)[0] != "active":
        return _error(401, "The session has ended; sign in again.", "session_ended")
    caller = _get(_USERS, {"user_id": {"N": str(caller_id)}})
    if caller is None:
        return _error(401, "The session has ended; sign in again.", "session_ended")
    if caller.get("disabled") or caller.get("role") != "admin":
        return _error(403, "Administrator role required.", "admin_required")

    raw = (event.get("pathParameters") or {}).get("user_id", "")
    if not _USER_ID.fullmatch(raw) or int(raw) >= 2**53:
        return _error(400, "user_id must be a positive integer below 2^53", "invalid_user_id")
    user_id = int(raw)
    if user_id == caller_id:
        return _error(400, "Use GET /sessions to list your own sessions.", "own_user_id")
    if _get(_USERS, {"user_id": {"N": str(user_id)}}) is None:
        return _error(404, "User not found.", "user_not_found")

    out = _DDB.query(
        TableName=_SESSIONS,
        IndexName="by_activity",
        KeyConditionExpression="user_id = :u AND last_activity > :idle_cutoff",
        FilterExpression="attribute_not_exists(revoked_at) AND expires_at > :now",
        ExpressionAttributeValues={
            ":u": {"N": str(user_id)},
            ":idle_cutoff": {"N": str(now - _IDLE_SECONDS)},
            ":now": {"N": str(now)},
        },
        ScanIndexForward=False,
        Limit=101,
    )
    sessions = [_session_response(_item(i), now) for i in out.get("Items", [])[:50]]
    return _json(200, sessions)
