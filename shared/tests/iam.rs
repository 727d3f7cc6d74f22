//! Least privilege, checked: every function in `template.yaml` may do exactly the DynamoDB and
//! Secrets Manager actions on exactly the resources this table lists, and nothing else.

use serde_norway::Value;
use shared::domain::{Location, UserId};
use std::collections::{BTreeMap, BTreeSet};

const SESSIONS: &str = "SessionsTable";
const USERS: &str = "UsersTable";
const EMAILS: &str = "UserEmailsTable";
const BY_ACTIVITY: &str = "SessionsTable/index/by_activity";
const LIVE: &str = "SessionsTable/index/live";
const SIGNING_KEY: &str = "SigningKeySecretArn";

const REFRESH_KEY: &str = "RefreshTokenKeySecret";
const MFA_KEY: &str = "MfaKeySecret";
const CURSOR_KEY: &str = "CursorSecret";
const ORIGIN_SECRET: &str = "OriginVerifySecret";

const GET: &str = "dynamodb:GetItem";
const BATCH: &str = "dynamodb:BatchGetItem";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";
const CHECK: &str = "dynamodb:ConditionCheckItem";
const SECRET: &str = "secretsmanager:GetSecretValue";
const SESSIONS_STREAM: &str = "SessionsTable.StreamArn";
const USERS_STREAM: &str = "UsersTable.StreamArn";
const EMAILS_STREAM: &str = "UserEmailsTable.StreamArn";
const BUS: &str = "EventBus";
const ACTIVITY: &str = "ActivityTable";
const DEAD_LETTERS: &str = "EventsDeadLetterQueue";
const LINK_KEY: &str = "AlertLinkKeySecret";
const SENDER: &str = "arn:AWS::Partition:ses:AWS::Region:AWS::AccountId:identity/AlertEmailSender";
const SENDER_DOMAIN: &str =
    "arn:AWS::Partition:ses:AWS::Region:AWS::AccountId:identity/SenderDomain";

/// (function, [(action, resource)]).
const EXPECTED: &[(&str, &[(&str, &str)])] = &[
    // Reads the streams (ListStreams takes no resource but "*"), writes the activity history,
    // publishes, reports give-ups. Where alerts are sent (SendAlerts): what a user's sign-ins
    // have shown, the user's e-mail, the link key, and SES from the sender only.
    (
        "publish-events",
        &[
            ("dynamodb:DescribeStream", SESSIONS_STREAM),
            ("dynamodb:DescribeStream", USERS_STREAM),
            ("dynamodb:DescribeStream", EMAILS_STREAM),
            ("dynamodb:GetRecords", SESSIONS_STREAM),
            ("dynamodb:GetRecords", USERS_STREAM),
            ("dynamodb:GetRecords", EMAILS_STREAM),
            ("dynamodb:GetShardIterator", SESSIONS_STREAM),
            ("dynamodb:GetShardIterator", USERS_STREAM),
            ("dynamodb:GetShardIterator", EMAILS_STREAM),
            ("dynamodb:ListStreams", "*"),
            ("dynamodb:BatchWriteItem", ACTIVITY),
            ("events:PutEvents", BUS),
            ("sqs:SendMessage", DEAD_LETTERS),
            (GET, ACTIVITY),
            (UPDATE, ACTIVITY),
            (GET, USERS),
            (SECRET, LINK_KEY),
            ("ses:SendEmail", SENDER),
            ("ses:SendEmail", SENDER_DOMAIN),
        ],
    ),
    // Ends and marks the one session a link names; no read, no other table.
    (
        "report-sign-in",
        &[
            (UPDATE, SESSIONS),
            (SECRET, LINK_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "get-user-sessions",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (QUERY, BY_ACTIVITY),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, CURSOR_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "get-user-activity",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (QUERY, ACTIVITY),
            (UPDATE, SESSIONS),
            (SECRET, CURSOR_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "list-my-activity",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (QUERY, ACTIVITY),
            (UPDATE, SESSIONS),
            (SECRET, CURSOR_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "list-my-sessions",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (QUERY, BY_ACTIVITY),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, CURSOR_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "admin-revoke-session",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (CHECK, USERS),
            (CHECK, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "admin-revoke-user-sessions",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (GET, USERS),
            (UPDATE, USERS),
            (CHECK, USERS),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "update-user",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (GET, USERS),
            (UPDATE, USERS),
            (CHECK, USERS),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "register",
        &[
            (UPDATE, USERS),
            (PUT, USERS),
            (PUT, EMAILS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "login",
        &[
            (GET, EMAILS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (GET, USERS),
            (UPDATE, USERS),
            (CHECK, USERS),
            (GET, SESSIONS),
            (PUT, SESSIONS),
            (PUT, EMAILS),
            (QUERY, LIVE),
            (CHECK, SESSIONS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
            (SECRET, REFRESH_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "login-mfa",
        &[
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (GET, USERS),
            (UPDATE, USERS),
            (CHECK, USERS),
            (GET, SESSIONS),
            (PUT, SESSIONS),
            (QUERY, LIVE),
            (CHECK, SESSIONS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
            (SECRET, REFRESH_KEY),
            (SECRET, MFA_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "refresh",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
            (SECRET, REFRESH_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "logout",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "change-password",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (UPDATE, USERS),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "revoke-my-session",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "revoke-other-sessions",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, USERS),
            (QUERY, LIVE),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "rename-session",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "reauthenticate",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (GET, USERS),
            (UPDATE, USERS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
            (SECRET, REFRESH_KEY),
            (SECRET, MFA_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "enrol-totp",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (GET, USERS),
            (UPDATE, USERS),
            (SECRET, MFA_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "confirm-totp",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (GET, USERS),
            (UPDATE, USERS),
            (SECRET, MFA_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "remove-totp",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (UPDATE, USERS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "regenerate-recovery-codes",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (UPDATE, USERS),
            (SECRET, MFA_KEY),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "get-current-session",
        &[
            (BATCH, SESSIONS),
            (BATCH, USERS),
            (UPDATE, SESSIONS),
            (SECRET, ORIGIN_SECRET),
        ],
    ),
    (
        "introspect",
        &[(BATCH, SESSIONS), (BATCH, USERS), (UPDATE, SESSIONS)],
    ),
    ("jwks", &[]),
];

/// Functions whose only session write is their caller's `last_activity`.
const ACTIVITY_ONLY_WRITERS: &[&str] = &[
    "get-user-sessions",
    "list-my-sessions",
    "get-user-activity",
    "list-my-activity",
    "enrol-totp",
    "confirm-totp",
    "remove-totp",
    "regenerate-recovery-codes",
    "get-current-session",
    "introspect",
];

fn template() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// `!GetAtt SessionsTable.Arn` → `SessionsTable`, `!Sub "${SessionsTable.Arn}/index/x"` →
/// `SessionsTable/index/x`, `!Ref Param` → `Param`; anything else verbatim (so `*` shows).
fn resource_name(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace("${", "").replace('}', "").replace(".Arn", ""),
        // `!Sub [template, {variables}]`: the template.
        Value::Sequence(parts) if !parts.is_empty() => resource_name(&parts[0]),
        Value::Tagged(t) => resource_name(&t.value),
        other => format!("{other:?}"),
    }
}

/// A function's policy documents, each with the condition it is granted under (`!If [cond,
/// document, !Ref AWS::NoValue]`), if any.
fn documents(function: &Value) -> Vec<(Value, Option<String>)> {
    list(&function["Properties"]["Policies"])
        .into_iter()
        .map(|p| match &p {
            Value::Tagged(t) if t.tag == "If" => {
                let parts = list(&t.value);
                let condition = parts[0].as_str().map(str::to_owned);
                (parts[1].clone(), condition)
            }
            _ => (p, None),
        })
        .collect()
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(items) => items.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

#[test]
fn every_function_has_exactly_the_permissions_it_needs() {
    let t = template();
    let mut actual: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut conditions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let grants = actual.entry(name.clone()).or_default();
        for (policy, condition) in documents(resource) {
            assert!(
                policy.get("Statement").is_some(),
                "{name}: only inline statements, no managed policies"
            );
            // The conditional grants: CloudFront's origin secret, when there is one, and the
            // publisher's alerts, where they are sent.
            if let Some(condition) = condition.as_deref()
                && name == "publish-events"
            {
                assert_eq!(condition, "SendAlerts");
            } else if let Some(condition) = condition {
                assert_eq!(condition, "UseCloudFront", "{name}");
                assert_eq!(
                    format!("{:?}", policy["Statement"])
                        .matches(ORIGIN_SECRET)
                        .count(),
                    1,
                    "{name}"
                );
            }
            for statement in list(&policy["Statement"]) {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{name}");
                for action in list(&statement["Action"]) {
                    let action = action.as_str().unwrap().to_owned();
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                    for r in list(&statement["Resource"]) {
                        let r = resource_name(&r);
                        // The one action without resource-level permissions.
                        let any_ok = action == "dynamodb:ListStreams" && r == "*";
                        assert!(any_ok || !r.contains('*'), "{name}: wildcard resource");
                        grants.insert((action.clone(), r));
                    }
                }
                if statement.get("Condition").is_some() {
                    conditions
                        .entry(name.clone())
                        .or_default()
                        .push(statement.clone());
                }
            }
        }
    }
    let expected: BTreeMap<String, BTreeSet<(String, String)>> = EXPECTED
        .iter()
        .map(|(f, grants)| {
            (
                f.to_string(),
                grants
                    .iter()
                    .map(|(a, r)| (a.to_string(), r.to_string()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(actual, expected);

    // The publisher sends e-mail from the stack's sender address only (the domain identity
    // alone would let it send as anyone at that domain).
    let ses = conditions
        .get("publish-events")
        .and_then(|statements| {
            statements.iter().find(|s| {
                list(&s["Action"])
                    .iter()
                    .any(|a| a.as_str() == Some("ses:SendEmail"))
            })
        })
        .expect("ses:SendEmail must be conditioned");
    assert_eq!(
        resource_name(&ses["Condition"]["StringEquals"]["ses:FromAddress"]),
        "AlertEmailSender"
    );

    // The listing functions write nothing but last_activity on the sessions table.
    for f in ACTIVITY_ONLY_WRITERS {
        let statements = conditions
            .get(*f)
            .unwrap_or_else(|| panic!("{f}: UpdateItem must be conditioned"));
        let update = statements
            .iter()
            .find(|s| {
                list(&s["Action"])
                    .iter()
                    .any(|a| a.as_str() == Some(UPDATE))
            })
            .unwrap();
        let attrs: Vec<String> =
            list(&update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
        assert_eq!(attrs, ["user_id", "session_id", "last_activity"], "{f}");
    }
}

#[test]
fn secrets_are_read_at_cold_start_by_exactly_the_functions_that_need_them() {
    let t = template();
    let globals = format!("{:?}", t["Globals"]);
    for secret in [
        "SIGNING_KEY",
        "REFRESH_TOKEN_KEY",
        "MFA_KEY",
        "CURSOR_SECRET",
        "ORIGIN_VERIFY_SECRET",
        "ALERT_LINK_KEY",
        "resolve:",
    ] {
        assert!(!globals.contains(secret), "{secret} must not be global");
    }
    // A secret's value is resolved into nothing but CloudFront's origin header.
    for (id, resource) in t["Resources"].as_mapping().unwrap() {
        let text = format!("{resource:?}");
        if text.contains("resolve:secretsmanager") {
            assert_eq!(
                id.as_str(),
                Some("Distribution"),
                "a secret resolved into {id:?}"
            );
        }
    }
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let env = format!("{:?}", resource["Properties"]["Environment"]);
        let signs = ["login", "login-mfa", "refresh", "reauthenticate"].contains(&name);
        assert_eq!(env.contains("SIGNING_KEY_SECRET_ARN"), signs, "{name}");
        assert_eq!(
            env.contains("REFRESH_TOKEN_KEY_SECRET_ARN"),
            signs,
            "{name}"
        );
        let factor = [
            "login-mfa",
            "reauthenticate",
            "enrol-totp",
            "confirm-totp",
            "regenerate-recovery-codes",
        ]
        .contains(&name);
        assert_eq!(env.contains("MFA_KEY_SECRET_ARN"), factor, "{name}");
        let pages = [
            "get-user-sessions",
            "list-my-sessions",
            "get-user-activity",
            "list-my-activity",
        ]
        .contains(&name);
        assert_eq!(env.contains("CURSOR_SECRET_ARN"), pages, "{name}");
        let links = ["publish-events", "report-sign-in"].contains(&name);
        assert_eq!(env.contains("ALERT_LINK_KEY_SECRET_ARN"), links, "{name}");
        // Every function that records an address (all but jwks) tells CloudFront apart, but
        // introspect: other backends call it directly, signed with IAM; and the publisher
        // serves no requests.
        assert_eq!(
            env.contains("ORIGIN_VERIFY_SECRET_ARN"),
            !["jwks", "introspect", "publish-events"].contains(&name),
            "{name}"
        );
        assert!(
            !env.contains("resolve:secretsmanager"),
            "{name}: no secret values in configuration"
        );
    }
    // The outputs never expose a secret.
    let outputs = format!("{:?}", t["Outputs"]);
    assert!(!outputs.contains("Secret"), "{outputs}");
}

/// Every statement of `function` that grants `action` on `resource`.
fn grants(t: &Value, function: &str, action: &str, resource: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        if r["Metadata"]["BuildProperties"]["Binary"].as_str() != Some(function) {
            continue;
        }
        for (policy, _) in documents(r) {
            for statement in list(&policy["Statement"]) {
                let acts = list(&statement["Action"]);
                let res: Vec<String> = list(&statement["Resource"])
                    .iter()
                    .map(resource_name)
                    .collect();
                if acts.iter().any(|a| a.as_str() == Some(action))
                    && res.iter().any(|r| r == resource)
                {
                    found.push(statement);
                }
            }
        }
    }
    assert!(!found.is_empty(), "{function}: no {action} on {resource}");
    found
}

/// The values a statement's condition gives `key` under `operator`.
fn condition(statement: &Value, operator: &str, key: &str) -> Option<BTreeSet<String>> {
    let values = statement.get("Condition")?.get(operator)?.get(key)?;
    Some(
        list(values)
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    )
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The attribute names of a session item with every optional field set.
fn session_attributes() -> BTreeSet<String> {
    use shared::domain::{EndReason, Session};
    let policy = shared::domain::SessionPolicy {
        idle_timeout_seconds: 60,
        absolute_lifetime_seconds: 60,
        retention_seconds: 60,
        activity_write_interval_seconds: 60,
    };
    let mut s = Session::start(
        UserId::of(74),
        "a".repeat(27),
        shared::domain::device::describe("curl/8"),
        "192.0.2.1",
        0,
        &policy,
    );
    s.revoked_at = Some(1);
    s.revoked_by = Some(1);
    s.revoked_reason = Some(EndReason::Admin);
    s.refresh_family = Some("f".into());
    s.refresh_rotated_at = Some(1);
    s.label = Some("l".into());
    s.location = Some(Location {
        country: "DE".into(),
        region: None,
        city: None,
        latitude: Some("52.5".into()),
        longitude: Some("13.4".into()),
    });
    // A sign-in's own; risk flags are only ever added by a refresh.
    s.signin_location = s.location.clone();
    let mut names: BTreeSet<String> = shared::store::session_item(&s)
        .unwrap()
        .into_keys()
        .collect();
    s.revoked_at = None;
    names.extend(shared::store::session_item(&s).unwrap().into_keys());
    names
}

/// The attribute names of a sign-in challenge with every optional field set.
fn challenge_attributes() -> BTreeSet<String> {
    let challenge = shared::domain::challenge::Challenge {
        email: "mfa x".into(),
        user_id: UserId::of(2),
        login_email: "a@example.com".into(),
        ip: "192.0.2.1".into(),
        user_agent_hash: "h".into(),
        device_name: Some("d".into()),
        device_type: Some(shared::domain::DeviceType::Web),
        location: Some(Location {
            country: "DE".into(),
            region: None,
            city: None,
            latitude: None,
            longitude: None,
        }),
        credential_epoch: 0,
        expires_at: 0,
        ttl: 0,
        attempts: 0,
    };
    let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&challenge).unwrap();
    item.into_keys().collect()
}

/// The attribute names of a new user item with every optional field it can have set.
fn user_attributes() -> BTreeSet<String> {
    let user = shared::domain::User {
        user_id: UserId::of(74),
        email: "a@example.com".into(),
        display_name: "A".into(),
        role: shared::domain::Role::User,
        password_hash: Some("h".into()),
        disabled: false,
        created_at: 0,
        credential_epoch: 0,
        known_networks: vec!["n".into()],
        mfa_enabled: true,
        // A sign-up records its user as the one who made it (for `user.created`).
        changed_by: Some(74),
        // Written by later changes (an epoch move), never with a new user.
        epoch_reason: None,
    };
    let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&user).unwrap();
    item.into_keys().collect()
}

/// Sign-in, re-authentication, sign-up and labels write only the keys and attributes they
/// touch: IAM refuses anything else, even to a function whose code was subverted.
#[test]
fn the_writes_of_sign_in_sign_up_reauthentication_and_labels_are_narrowed() {
    let t = template();
    let all_values = "ForAllValues:StringEquals";
    let attributes = |s: &Value| {
        condition(s, all_values, "dynamodb:Attributes")
            .or_else(|| condition(s, "ForAllValues:StringLike", "dynamodb:Attributes"))
    };
    // Every write of these functions names the attributes it may touch.
    for function in [
        "login",
        "login-mfa",
        "reauthenticate",
        "register",
        "rename-session",
    ] {
        for action in [PUT, UPDATE, DELETE] {
            for table in [SESSIONS, USERS, EMAILS] {
                let Some((_, granted)) = EXPECTED.iter().find(|(f, _)| *f == function) else {
                    panic!("{function}");
                };
                if !granted.contains(&(action, table)) {
                    continue;
                }
                for statement in grants(&t, function, action, table) {
                    assert!(
                        attributes(&statement).is_some(),
                        "{function}: {action} on {table} without an attribute condition"
                    );
                }
            }
        }
    }
    // A new session's attributes, exactly those of the item the code writes.
    for function in ["login", "login-mfa"] {
        let put = &grants(&t, function, PUT, SESSIONS)[0];
        assert_eq!(attributes(put), Some(session_attributes()), "{function}");
    }
    // A sign-in challenge's attributes, exactly those of the item the code writes.
    let put = &grants(&t, "login", PUT, EMAILS)[0];
    assert_eq!(attributes(put), Some(challenge_attributes()));
    let put = &grants(&t, "register", PUT, USERS)[0];
    assert_eq!(attributes(put), Some(user_attributes()));
    // No sign-in, re-authentication or label write reaches the global epoch (partition 0).
    for (function, action) in [
        ("login", PUT),
        ("login", UPDATE),
        ("login-mfa", PUT),
        ("login-mfa", UPDATE),
        ("reauthenticate", UPDATE),
        ("rename-session", UPDATE),
    ] {
        for statement in grants(&t, function, action, SESSIONS) {
            assert_eq!(
                condition(
                    &statement,
                    "ForAllValues:StringNotEquals",
                    "dynamodb:LeadingKeys"
                ),
                Some(set(&["0"])),
                "{function} {action}"
            );
        }
    }
    // The emails table: the throttle's counters, or (sign-in) the challenges, nothing else;
    // a challenge's writes name exactly its attributes.
    for (function, action) in [
        ("login", PUT),
        ("login", UPDATE),
        ("login", DELETE),
        ("login-mfa", UPDATE),
        ("login-mfa", DELETE),
    ] {
        for statement in grants(&t, function, action, EMAILS) {
            let keys = condition(
                &statement,
                "ForAllValues:StringLike",
                "dynamodb:LeadingKeys",
            );
            if keys == Some(set(&["mfa *"])) {
                assert_eq!(
                    attributes(&statement),
                    Some(challenge_attributes()),
                    "{function}"
                );
            } else {
                assert_eq!(keys, Some(set(&["throttle *"])), "{function} {action}");
            }
        }
    }
    for function in ["login", "login-mfa", "reauthenticate", "confirm-totp"] {
        for action in [UPDATE, DELETE] {
            for statement in grants(&t, function, action, EMAILS)
                .into_iter()
                .filter(|s| {
                    condition(s, "ForAllValues:StringLike", "dynamodb:LeadingKeys")
                        != Some(set(&["mfa *"]))
                })
            {
                assert_eq!(
                    condition(
                        &statement,
                        "ForAllValues:StringLike",
                        "dynamodb:LeadingKeys"
                    ),
                    Some(set(&["throttle *"])),
                    "{function} {action}"
                );
                assert_eq!(
                    attributes(&statement),
                    Some(set(&[
                        "email",
                        "window_start",
                        "attempts",
                        "ttl",
                        "blocked_at"
                    ]))
                );
            }
        }
    }
    let claim = &grants(&t, "register", PUT, EMAILS)[0];
    assert_eq!(
        condition(claim, "ForAllValues:StringNotLike", "dynamodb:LeadingKeys"),
        Some(set(&["throttle *"]))
    );
    assert_eq!(attributes(claim), Some(set(&["email", "user_id"])));
    // The user-id counter is item 0 of the users table; a new user never is.
    let counter = &grants(&t, "register", UPDATE, USERS)[0];
    assert_eq!(
        condition(counter, all_values, "dynamodb:LeadingKeys"),
        Some(set(&["0"]))
    );
    assert_eq!(attributes(counter), Some(set(&["user_id", "next_user_id"])));
    let new_user = &grants(&t, "register", PUT, USERS)[0];
    assert_eq!(
        condition(
            new_user,
            "ForAllValues:StringNotEquals",
            "dynamodb:LeadingKeys"
        ),
        Some(set(&["0"]))
    );
    // Re-authentication and labels: the session attributes their updates name.
    let reauth = &grants(&t, "reauthenticate", UPDATE, SESSIONS)[0];
    assert_eq!(
        attributes(reauth),
        Some(set(&[
            "user_id",
            "session_id",
            "auth_time",
            "auth_generation",
            "refresh_generation",
            "refresh_rotated_at",
            "amr",
            "last_activity",
            "revoked_at",
            "expires_at",
        ]))
    );
    // A code confirmed with the password touches the second factor's use, nothing else of the
    // user (never their password hash, role or epoch).
    let factor_use = &grants(&t, "reauthenticate", UPDATE, USERS)[0];
    assert_eq!(
        attributes(factor_use),
        Some(set(&[
            "user_id",
            "totp_secret",
            "totp_last_step",
            "recovery_codes",
            "recovery_codes_used",
        ]))
    );
    // Enrolment writes the second factor's attributes only, and who changed it (never the
    // password hash, role or epoch): beginning, the pending secret; confirming, the factor.
    let begin = &grants(&t, "enrol-totp", UPDATE, USERS)[0];
    let pending = ["user_id", "totp_pending", "totp_pending_at", "totp_secret"];
    assert_eq!(attributes(begin), Some(set(&pending)));
    let confirm = &grants(&t, "confirm-totp", UPDATE, USERS)[0];
    let factor = [
        "user_id",
        "totp_pending",
        "totp_pending_at",
        "totp_secret",
        "totp_last_step",
        "recovery_codes",
        "recovery_codes_used",
        // Who changed it, for the `user.mfa_*` events.
        "changed_by",
    ];
    assert_eq!(attributes(confirm), Some(set(&factor)));
    // Removing one takes away exactly the factor's attributes; regenerating replaces the
    // recovery codes of a factor that is on.
    let remove = &grants(&t, "remove-totp", UPDATE, USERS)[0];
    assert_eq!(attributes(remove), Some(set(&factor)));
    let regenerate = &grants(&t, "regenerate-recovery-codes", UPDATE, USERS)[0];
    let codes = [
        "user_id",
        "totp_secret",
        "recovery_codes",
        "recovery_codes_used",
    ];
    assert_eq!(attributes(regenerate), Some(set(&codes)));
    let label = &grants(&t, "rename-session", UPDATE, SESSIONS)[0];
    assert_eq!(
        attributes(label),
        Some(set(&[
            "user_id",
            "session_id",
            "label",
            "last_activity",
            "revoked_at",
            "expires_at",
        ]))
    );
}
