//! Least privilege, checked: every function in `template.yaml` may do exactly the DynamoDB and
//! Secrets Manager actions on exactly the resources this table lists, and nothing else.

use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};

const SESSIONS: &str = "SessionsTable";
const USERS: &str = "UsersTable";
const EMAILS: &str = "UserEmailsTable";
const BY_ACTIVITY: &str = "SessionsTable/index/by_activity";
const SIGNING_KEY: &str = "SigningKeySecretArn";

const GET: &str = "dynamodb:GetItem";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";
const CHECK: &str = "dynamodb:ConditionCheckItem";
const SECRET: &str = "secretsmanager:GetSecretValue";

/// (function, [(action, resource)]).
const EXPECTED: &[(&str, &[(&str, &str)])] = &[
    (
        "get-user-sessions",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    (
        "list-my-sessions",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    (
        "admin-revoke-session",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (UPDATE, SESSIONS),
            (CHECK, USERS),
        ],
    ),
    (
        "admin-revoke-user-sessions",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    (
        "update-user",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (UPDATE, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    ("register", &[(UPDATE, USERS), (PUT, USERS), (PUT, EMAILS)]),
    (
        "login",
        &[
            (GET, EMAILS),
            (PUT, EMAILS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (GET, USERS),
            (UPDATE, USERS),
            (PUT, SESSIONS),
            (QUERY, SESSIONS),
            (CHECK, SESSIONS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
        ],
    ),
    (
        "refresh",
        &[(GET, USERS), (UPDATE, SESSIONS), (SECRET, SIGNING_KEY)],
    ),
    (
        "logout",
        &[(GET, SESSIONS), (GET, USERS), (UPDATE, SESSIONS)],
    ),
    (
        "change-password",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (UPDATE, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    (
        "revoke-my-session",
        &[(GET, SESSIONS), (GET, USERS), (UPDATE, SESSIONS)],
    ),
    (
        "revoke-other-sessions",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (QUERY, BY_ACTIVITY),
            (UPDATE, SESSIONS),
        ],
    ),
    (
        "rename-session",
        &[(GET, SESSIONS), (GET, USERS), (UPDATE, SESSIONS)],
    ),
    (
        "reauthenticate",
        &[
            (GET, SESSIONS),
            (GET, USERS),
            (GET, EMAILS),
            (PUT, EMAILS),
            (UPDATE, EMAILS),
            (DELETE, EMAILS),
            (UPDATE, SESSIONS),
            (SECRET, SIGNING_KEY),
        ],
    ),
    ("jwks", &[]),
];

/// Functions whose only session write is their caller's `last_activity`.
const ACTIVITY_ONLY_WRITERS: &[&str] = &["get-user-sessions", "list-my-sessions"];

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
        Value::Tagged(t) => resource_name(&t.value),
        other => format!("{other:?}"),
    }
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
        for policy in list(&resource["Properties"]["Policies"]) {
            assert!(
                policy.get("Statement").is_some(),
                "{name}: only inline statements, no managed policies"
            );
            for statement in list(&policy["Statement"]) {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{name}");
                for action in list(&statement["Action"]) {
                    let action = action.as_str().unwrap().to_owned();
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                    for r in list(&statement["Resource"]) {
                        let r = resource_name(&r);
                        assert!(!r.contains('*'), "{name}: wildcard resource");
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
fn only_the_signing_functions_know_where_the_signing_key_is() {
    let t = template();
    let globals = format!("{:?}", t["Globals"]);
    assert!(
        !globals.contains("SIGNING_KEY"),
        "the signing key must not be global"
    );
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let env = format!("{:?}", resource["Properties"]["Environment"]);
        let signs = ["login", "refresh", "reauthenticate"].contains(&name);
        assert_eq!(env.contains("SIGNING_KEY_SECRET_ARN"), signs, "{name}");
        assert!(
            !env.contains("resolve:secretsmanager"),
            "{name}: no secret values in configuration"
        );
    }
    // The outputs never expose a secret.
    let outputs = format!("{:?}", t["Outputs"]);
    assert!(!outputs.contains("Secret"), "{outputs}");
}
