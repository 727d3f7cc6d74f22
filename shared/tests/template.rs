//! `template.yaml` and the code must agree: the tables the local stack creates, and the
//! functions, routes and router config every tool serves.

use serde_norway::Value;
use shared::domain::UserId;
use shared::tables::{self, TableDef};
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn str_of(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

fn key_schema(v: &Value) -> Vec<(String, String)> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                str_of(&k["AttributeName"]).to_owned(),
                str_of(&k["KeyType"]).to_owned(),
            )
        })
        .collect()
}

fn expected_keys(partition: &str, sort: Option<&str>) -> Vec<(String, String)> {
    let mut keys = vec![(partition.to_owned(), "HASH".to_owned())];
    if let Some(s) = sort {
        keys.push((s.to_owned(), "RANGE".to_owned()));
    }
    keys
}

fn check_table(t: &Value, def: &TableDef) {
    let table = &t["Resources"][def.logical_id];
    assert_eq!(
        str_of(&table["Type"]),
        "AWS::DynamoDB::Table",
        "{}",
        def.logical_id
    );
    let p = &table["Properties"];
    assert_eq!(str_of(&p["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(
        key_schema(&p["KeySchema"]),
        expected_keys(def.partition.name, def.sort.map(|s| s.name)),
        "{} key schema",
        def.logical_id
    );
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    want.insert((def.partition.name.into(), def.partition.ty.into()));
    want.extend(def.sort.map(|s| (s.name.into(), s.ty.into())));
    for index in def.indexes.iter().chain(def.local_indexes) {
        want.insert((index.partition.name.into(), index.partition.ty.into()));
        want.extend(index.sort.map(|s| (s.name.into(), s.ty.into())));
    }
    let have: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            (
                str_of(&a["AttributeName"]).into(),
                str_of(&a["AttributeType"]).into(),
            )
        })
        .collect();
    assert_eq!(have, want, "{} attribute definitions", def.logical_id);

    for (property, indexes) in [
        ("GlobalSecondaryIndexes", def.indexes),
        ("LocalSecondaryIndexes", def.local_indexes),
    ] {
        let listed = p[property].as_sequence().cloned().unwrap_or_default();
        assert_eq!(listed.len(), indexes.len(), "{} {property}", def.logical_id);
        for index in indexes {
            let found = listed
                .iter()
                .find(|g| str_of(&g["IndexName"]) == index.name)
                .unwrap_or_else(|| panic!("{property} {} missing from template", index.name));
            assert_eq!(
                key_schema(&found["KeySchema"]),
                expected_keys(index.partition.name, index.sort.map(|s| s.name))
            );
            let projection = if index.keys_only { "KEYS_ONLY" } else { "ALL" };
            assert_eq!(str_of(&found["Projection"]["ProjectionType"]), projection);
        }
    }
    match def.ttl_attribute {
        Some(ttl) => {
            assert_eq!(str_of(&p["TimeToLiveSpecification"]["AttributeName"]), ttl);
            assert_eq!(
                p["TimeToLiveSpecification"]["Enabled"].as_bool(),
                Some(true)
            );
        }
        None => assert!(p.get("TimeToLiveSpecification").is_none()),
    }
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true),
        "{} point-in-time recovery",
        def.logical_id
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
    // Every change reaches the event publisher with both images (what the local stack's
    // tables get too: `testkit::tables`); the activity table, which it writes, has none.
    if def.stream {
        assert_eq!(
            str_of(&p["StreamSpecification"]["StreamViewType"]),
            "NEW_AND_OLD_IMAGES",
            "{} stream",
            def.logical_id
        );
    } else {
        assert!(p.get("StreamSpecification").is_none(), "{}", def.logical_id);
    }
    // The functions find the table through the environment variable the code reads.
    let env = &t["Globals"]["Function"]["Environment"]["Variables"][def.env_var];
    assert!(
        format!("{env:?}").contains(def.logical_id),
        "{} must be !Ref {}",
        def.env_var,
        def.logical_id
    );
}

#[test]
fn tables_match_the_code() {
    let t = template();
    for def in &tables::ALL {
        check_table(&t, def);
    }
}

/// The functions the template deploys (their binaries).
fn template_functions(t: &Value) -> BTreeSet<String> {
    let mut functions = BTreeSet::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(
            str_of(&resource["Metadata"]["BuildMethod"]),
            "rust-cargolambda"
        );
        functions.insert(str_of(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned());
    }
    functions
}

/// The function that reads the tables' streams, the one function without a route.
const PUBLISHER: &str = "publish-events";

/// (function, method, path) from the template's HttpApi events.
fn template_routes(t: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = str_of(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned();
        if binary == PUBLISHER {
            assert!(resource["Properties"].get("Events").is_none());
            continue;
        }
        for (_, ev) in resource["Properties"]["Events"].as_mapping().unwrap() {
            assert_eq!(str_of(&ev["Type"]), "HttpApi");
            routes.insert((
                binary.clone(),
                str_of(&ev["Properties"]["Method"]).to_uppercase(),
                str_of(&ev["Properties"]["Path"]).to_owned(),
            ));
        }
    }
    routes
}

#[test]
fn every_function_is_deployed_and_routed_locally_the_same_way() {
    let t = template();
    let routes = template_routes(&t);
    let deployed = template_functions(&t);
    let routed: BTreeSet<String> = routes.iter().map(|r| r.0.clone()).collect();
    let unrouted: Vec<&String> = deployed.difference(&routed).collect();
    assert_eq!(
        unrouted,
        [PUBLISHER],
        "every function but the publisher has a route"
    );
    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        crates.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    assert_eq!(
        deployed, crates,
        "functions/ and template.yaml name the same functions"
    );

    // The cargo-lambda router (local stack) serves the same routes, plus OPTIONS for CORS.
    let local: BTreeSet<(String, String, String)> = cargo_lambda_routes()
        .into_iter()
        .filter(|(_, method, _)| method != "OPTIONS")
        .collect();
    assert_eq!(
        local, routes,
        "[workspace.metadata.lambda.watch.router] matches template.yaml"
    );
}

#[test]
fn every_table_stream_reaches_the_publisher_and_nothing_is_skipped() {
    let t = template();
    let mut streams = BTreeSet::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Lambda::EventSourceMapping") {
            continue;
        }
        let p = &resource["Properties"];
        let source = format!("{:?}", p["EventSourceArn"]);
        streams.insert(source.clone());
        assert!(source.contains(".StreamArn"), "{source}");
        assert!(
            format!("{:?}", p["FunctionName"]).contains("PublishEventsFunction.Alias"),
            "{source}: the publisher's live alias"
        );
        // Retried for 12 hours, then given up on while the records can still be read (a stream
        // keeps them 24): the dead-letter queue's positions can then be read again.
        assert_eq!(p["MaximumRetryAttempts"].as_i64(), Some(-1), "{source}");
        assert_eq!(
            p["MaximumRecordAgeInSeconds"].as_i64(),
            Some(43200),
            "{source}"
        );
        assert_eq!(str_of(&p["StartingPosition"]), "TRIM_HORIZON", "{source}");
        assert_eq!(
            format!("{:?}", p["FunctionResponseTypes"]),
            format!(
                "{:?}",
                serde_norway::from_str::<Value>("[ReportBatchItemFailures]").unwrap()
            ),
            "{source}: the handler reports the first record it could not publish"
        );
        assert!(
            format!("{:?}", p["DestinationConfig"]["OnFailure"]).contains("EventsDeadLetterQueue"),
            "{source}"
        );
    }
    let streamed = tables::ALL.iter().filter(|t| t.stream).count();
    assert_eq!(
        streams.len(),
        streamed,
        "one mapping per table with a stream"
    );
    let publisher = t["Resources"]["PublishEventsFunction"]["Properties"]["Environment"]
        ["Variables"]["EVENT_BUS_NAME"]
        .clone();
    assert!(format!("{publisher:?}").contains("EventBus"));
}

/// (function, method, path) from `[workspace.metadata.lambda.watch.router]`.
fn cargo_lambda_routes() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("router table");
    let mut out = Vec::new();
    for (path, entries) in router {
        for entry in entries.as_array().expect("an array of routes") {
            out.push((
                entry["function"].as_str().unwrap().to_owned(),
                entry["method"].as_str().unwrap().to_owned(),
                path.clone(),
            ));
        }
    }
    out
}

#[test]
fn openapi_covers_every_route_and_the_session_shape() {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let spec: Value = serde_norway::from_str(&text).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in spec["paths"].as_mapping().unwrap() {
        for (method, _) in ops.as_mapping().unwrap() {
            documented.insert((str_of(method).to_uppercase(), str_of(path).to_owned()));
        }
    }
    let deployed: BTreeSet<(String, String)> = template_routes(&template())
        .into_iter()
        .map(|(_, method, path)| (method, path))
        .collect();
    assert_eq!(
        documented, deployed,
        "openapi.yaml documents exactly the deployed routes"
    );

    // The schema's fields are exactly what the code serialises.
    use shared::domain::Session;
    use shared::domain::SessionPolicy;
    use shared::domain::device::describe;
    let policy = SessionPolicy {
        idle_timeout_seconds: 60,
        absolute_lifetime_seconds: 60,
        retention_seconds: 60,
        activity_write_interval_seconds: 60,
    };
    let session = Session::start(
        UserId::of(74),
        "a".repeat(27),
        describe("curl/8"),
        "192.0.2.1",
        0,
        &policy,
    );
    let json =
        serde_json::to_value(session.to_response(0, &policy, &Default::default(), None)).unwrap();
    let produced: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
    let schema = &spec["components"]["schemas"]["SessionResponse"];
    let required: BTreeSet<String> = schema["required"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| str_of(v).to_owned())
        .collect();
    let properties: BTreeSet<String> = schema["properties"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| str_of(k).to_owned())
        .collect();
    assert_eq!(required, produced);
    assert_eq!(properties, produced);
}

/// The parameters behind integer settings carry the code's default and bounds: a deploy with a
/// value the functions would refuse at start fails at the parameter check instead.
#[test]
fn parameters_carry_the_bounds_the_code_enforces() {
    let t = template();
    let mut checked = 0;
    let mut envs = vec![t["Globals"]["Function"]["Environment"]["Variables"].clone()];
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        envs.push(r["Properties"]["Environment"]["Variables"].clone());
    }
    for vars in envs {
        let Some(vars) = vars.as_mapping() else {
            continue;
        };
        for (name, value) in vars {
            let name = str_of(name);
            let Some(setting) = shared::config::INT_SETTINGS.iter().find(|s| s.name == name) else {
                continue;
            };
            let Value::Tagged(tag) = value else {
                panic!("{name}: expected !Ref Parameter");
            };
            let param = &t["Parameters"][str_of(&tag.value)];
            let number = |key: &str| {
                param[key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: parameter has no {key}"))
            };
            assert_eq!(number("Default"), setting.default, "{name} default");
            assert_eq!(number("MinValue"), setting.min, "{name} minimum");
            assert_eq!(number("MaxValue"), setting.max, "{name} maximum");
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
}

/// Nothing in a deployed stack defaults to a local origin.
#[test]
fn production_cors_has_no_localhost_default() {
    let t = template();
    let cors = &t["Parameters"]["CorsAllowedOrigins"];
    assert!(cors.get("Default").is_none(), "{cors:?}");
    assert!(!format!("{t:?}").contains("localhost"));
}

fn tag_value(v: &Value) -> String {
    match v {
        Value::Tagged(t) => tag_value(&t.value),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// A stack someone can watch: logs that expire with the stack, access logs, Lambda's own
/// report lines, alarms on what breaks, to the topic, deploys that roll back on them, and
/// tables that a stack update cannot drop.
#[test]
fn the_stack_can_be_watched_and_rolls_back() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let res = |id: &str| &t["Resources"][id];
    let globals = &t["Globals"]["Function"];
    assert_eq!(str_of(&globals["LoggingConfig"]["SystemLogLevel"]), "INFO");
    assert_eq!(str_of(&globals["LoggingConfig"]["LogFormat"]), "JSON");
    assert_eq!(str_of(&globals["AutoPublishAlias"]), "live");
    let deployment_alarms: Vec<String> = globals["DeploymentPreference"]["Alarms"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(tag_value)
        .collect();
    assert!(deployment_alarms.len() >= 3, "{deployment_alarms:?}");

    let mut functions = BTreeSet::new();
    for (id, r) in resources {
        let id = str_of(id);
        match str_of(&r["Type"]) {
            "AWS::Serverless::Function" => {
                functions.insert(id.to_owned());
                let group = tag_value(&r["Properties"]["LoggingConfig"]["LogGroup"]);
                let group = res(&group);
                assert_eq!(str_of(&group["Type"]), "AWS::Logs::LogGroup", "{id}");
                assert_eq!(
                    tag_value(&group["Properties"]["RetentionInDays"]),
                    "LogRetentionDays"
                );
                assert_eq!(
                    str_of(&group["DeletionPolicy"]),
                    "Delete",
                    "{id}: logs go with the stack"
                );
            }
            "AWS::DynamoDB::Table" => {
                assert_eq!(
                    r["Properties"]["DeletionProtectionEnabled"].as_bool(),
                    Some(true),
                    "{id}"
                );
            }
            "AWS::CloudWatch::Alarm" => {
                let actions = format!("{:?}", r["Properties"]["AlarmActions"]);
                assert!(actions.contains("AlarmTopic"), "{id}: {actions}");
            }
            _ => {}
        }
    }
    for alarm in &deployment_alarms {
        assert_eq!(
            str_of(&res(alarm)["Type"]),
            "AWS::CloudWatch::Alarm",
            "{alarm}"
        );
    }
    // The access log: JSON lines into a log group that expires.
    let access = &res("HttpApi")["Properties"]["AccessLogSettings"];
    let format: serde_json::Value = serde_json::from_str(str_of(&access["Format"])).unwrap();
    assert!(format["status"].is_string() && format["ip"].is_string());
    let group = tag_value(&access["DestinationArn"]).replace(".Arn", "");
    assert_eq!(
        tag_value(&res(&group)["Properties"]["RetentionInDays"]),
        "LogRetentionDays"
    );
    // The errors and throttles alarms watch every function between them.
    for metric in ["Errors", "Throttles"] {
        let mut watched = BTreeSet::new();
        for (_, r) in resources {
            for m in r["Properties"]["Metrics"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
            {
                let stat = &m["MetricStat"]["Metric"];
                if stat["Namespace"].as_str() == Some("AWS/Lambda")
                    && stat["MetricName"].as_str() == Some(metric)
                {
                    for d in stat["Dimensions"].as_sequence().unwrap() {
                        watched.insert(tag_value(&d["Value"]));
                    }
                }
            }
        }
        assert_eq!(watched, functions, "Lambda {metric} alarms");
    }
    // Every metric of our own that an alarm or the dashboard names is one the code writes.
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    for alarm in [
        "ApiServerErrorsAlarm",
        "ServiceErrorsAlarm",
        "TheftDetectedAlarm",
        "DynamoDbThrottlesAlarm",
        "DynamoDbSystemErrorsAlarm",
    ] {
        assert!(resources.contains_key(alarm), "{alarm}");
    }
    for (_, r) in resources {
        let own = format!("{r:?}");
        if !own.contains("DeviceSessions/") {
            continue;
        }
        let names: Vec<String> = r["Properties"]["Metrics"]
            .as_sequence()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                m["MetricStat"]["Metric"]["MetricName"]
                    .as_str()
                    .map(str::to_owned)
            })
            .chain(r["Properties"]["MetricName"].as_str().map(str::to_owned))
            .collect();
        for name in names {
            assert!(shared::metrics::NAMES.contains(&name.as_str()), "{name}");
        }
    }
    for name in [
        "SignIns",
        "TheftDetected",
        "SessionsEnded",
        "ServiceUnavailable",
    ] {
        assert!(text.contains(name), "the dashboard shows {name}");
    }
}

/// Each function's memory size is the one the committed power tuning chose for its route
/// (`docs/benchmarks.md`, "Power tuning": the cheapest size whose warm p99 under that size's
/// CPU share is within 10 % of the best). A change to either without the other fails here.
#[test]
fn memory_sizes_are_the_power_tunings_choices() {
    let report = std::fs::read_to_string(root().join("docs/benchmarks.md")).unwrap();
    let chosen: std::collections::BTreeMap<String, u64> = report
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("**chosen**"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let mb = cells[3].trim_end_matches(" MB").parse().unwrap();
            (cells[1].trim_matches('`').to_owned(), mb)
        })
        .collect();
    let t = template();
    let default = t["Globals"]["Function"]["MemorySize"].as_u64().unwrap();
    let mut deployed = std::collections::BTreeMap::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = str_of(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned();
        let size = resource["Properties"]["MemorySize"]
            .as_u64()
            .unwrap_or(default);
        deployed.insert(binary, size);
    }
    // Every function the API routes to is tuned and deployed at the size chosen;
    // `publish-events` reads the streams and has no route to measure.
    deployed.remove("publish-events");
    assert_eq!(chosen, deployed);
}

/// The functions that hash passwords (argon2id, the only ones the power tuning gives a full
/// vCPU) each hold a reserved share of the account's concurrency, so a flood of them cannot take
/// it all from the other routes; no other function reserves any.
#[test]
fn argon2_functions_and_only_they_reserve_concurrency() {
    let t = template();
    let mut reserving = Vec::new();
    let mut full_vcpu = Vec::new();
    for (_, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = str_of(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned();
        let reserved = &resource["Properties"]["ReservedConcurrentExecutions"];
        if !reserved.is_null() {
            let text = serde_norway::to_string(reserved).unwrap();
            assert!(
                text.contains("PasswordFunctionsConcurrency"),
                "{binary}: {text}"
            );
            reserving.push(binary.clone());
        }
        if resource["Properties"]["MemorySize"].as_u64() == Some(1769) {
            full_vcpu.push(binary);
        }
    }
    reserving.sort();
    full_vcpu.sort();
    assert_eq!(
        reserving,
        [
            "change-password",
            "confirm-totp",
            "login",
            "reauthenticate",
            "register"
        ]
    );
    assert_eq!(reserving, full_vcpu);
}

#[test]
fn only_introspection_is_iam_authorised() {
    let t = template();
    let api = &t["Resources"]["HttpApi"]["Properties"];
    assert_eq!(api["Auth"]["EnableIamAuthorizer"].as_bool(), Some(true));
    assert!(
        api["Auth"]["DefaultAuthorizer"].is_null(),
        "no route authorised by default"
    );
    let mut authorised = Vec::new();
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        for (_, event) in r["Properties"]["Events"]
            .as_mapping()
            .cloned()
            .unwrap_or_default()
        {
            let auth = &event["Properties"]["Auth"];
            if !auth.is_null() {
                let route = str_of(&event["Properties"]["Path"]).to_owned();
                authorised.push((route, str_of(&auth["Authorizer"]).to_owned()));
            }
        }
    }
    // Every other route checks its own bearer token (401 before 403 before 400).
    assert_eq!(
        authorised,
        [("/auth/introspect".to_owned(), "AWS_IAM".to_owned())]
    );
}
