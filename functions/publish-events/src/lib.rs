//! `publish-events`: the three tables' stream records in, domain events out to each user's
//! activity history and the EventBridge bus (`docs/events.md`).
//!
//! Lambda reads each table's stream in order and calls this with a batch of records. Their
//! events are first recorded in the activity table (idempotent puts), then published in order;
//! when EventBridge refuses one, the handler reports the record it came from as the batch's
//! first failure (`ReportBatchItemFailures`), so Lambda retries from that record on: nothing
//! after a failure is skipped, and what is published twice keeps its id. When the history
//! cannot be written, the whole batch is retried. New-sign-in alerts follow, where the stack
//! sends them. A record whose image the service cannot read is logged and skipped, never retried
//! for ever (it would hold up every later event of its shard).

pub mod bus;
pub mod ses;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bus::Bus;
use shared::Store;
use shared::config::TableNames;
use shared::events::{Envelope, Record, Source, of_record};
use shared::services::alerts::Alerts;
use std::time::{Duration, Instant};

/// What the handler needs: the tables it may hear from, the history and the bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The service's tables (a record's source ARN names one of them).
    pub tables: TableNames,
    /// Where each user's activity history is written.
    pub store: Store,
    /// How long a history entry is kept, in seconds.
    pub retention_seconds: i64,
    /// Where events go.
    pub bus: Bus,
    /// New-sign-in alerts, where the stack sends them (`ALERT_EMAIL_FROM`).
    pub alerts: Option<Alerts<ses::Ses>>,
}

/// A Lambda stream record as the events module reads it; `None` for another table's.
pub fn record(tables: &TableNames, r: &EventRecord) -> Option<Record> {
    let arn = r.event_source_arn.as_deref().unwrap_or_default();
    let source = Source::of(tables, arn)?;
    let image = |i: &serde_dynamo::Item| (!i.is_empty()).then(|| i.clone());
    Some(Record {
        id: r.event_id.clone(),
        source,
        old: image(&r.change.old_image),
        new: image(&r.change.new_image),
        at: r.change.approximate_creation_date_time.timestamp(),
    })
}

/// The answer that has Lambda retry the batch from the record numbered `seq` on.
fn retry_from(seq: Option<String>) -> DynamoDbEventResponse {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = seq;
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures.push(failure);
    response
}

/// The most a batch spends on alerts: what is left when it runs out is counted as failed, and
/// the next sign-in from that device alerts again.
const ALERT_BUDGET: Duration = Duration::from_secs(10);

/// What alerts leave of the invocation's time, so the batch answers before Lambda's timeout.
const ALERT_MARGIN: Duration = Duration::from_secs(3);

/// Alerts for published events, last and best effort: they never hold up the stream (see
/// `shared::services::alerts`), nor run into the invocation's `deadline`.
async fn alert(publisher: &Publisher, events: &[Envelope], deadline: Instant) {
    if let Some(alerts) = &publisher.alerts {
        let left = deadline.saturating_duration_since(Instant::now());
        let budget = ALERT_BUDGET.min(left.saturating_sub(ALERT_MARGIN));
        let now = shared::domain::time::now_epoch();
        alerts.notify(&publisher.store, events, now, budget).await;
    }
}

/// [`handle_within`] with the function's whole timeout (30 s) left.
pub async fn handle(publisher: &Publisher, event: Event) -> DynamoDbEventResponse {
    handle_within(publisher, event, Duration::from_secs(30)).await
}

/// Records and publishes the events of a batch of stream records, in order, then sends its
/// alerts within what is left of `time_left` (Lambda's deadline for the invocation).
pub async fn handle_within(
    publisher: &Publisher,
    event: Event,
    time_left: Duration,
) -> DynamoDbEventResponse {
    let deadline = Instant::now() + time_left;
    // Each event with the sequence number of the record it came from.
    let mut events: Vec<(Envelope, Option<String>)> = Vec::new();
    for r in &event.records {
        let Some(record) = record(&publisher.tables, r) else {
            tracing::warn!(arn = ?r.event_source_arn, "stream record of an unknown table skipped");
            continue;
        };
        match of_record(&record) {
            Ok(found) => {
                let seq = r.change.sequence_number.clone();
                events.extend(found.into_iter().map(|e| (e, seq.clone())));
            }
            Err(e) => {
                tracing::error!(error = %e, "stream record skipped: its image is unreadable");
                shared::metrics::emit(shared::metrics::Metric::EventRecordSkipped);
            }
        }
    }
    let envelopes: Vec<Envelope> = events.iter().map(|(e, _)| e.clone()).collect();
    let history: Vec<_> = envelopes
        .iter()
        .filter_map(|e| e.activity(publisher.retention_seconds))
        .collect();
    if let Err(e) = publisher.store.record_activity(&history).await {
        let first = event
            .records
            .first()
            .and_then(|r| r.change.sequence_number.clone());
        tracing::error!(error = %e, "activity not recorded; retrying the whole batch");
        return retry_from(first);
    }
    let published = publisher.bus.publish(&envelopes).await;
    if let Some((index, why)) = published.first_failed {
        let seq = events.get(index).and_then(|(_, seq)| seq.clone());
        tracing::error!(error = %why, sequence_number = ?seq, "events not published; retrying from this record");
        // The records before that one are not read again: their alerts are due now.
        let done = events
            .iter()
            .take_while(|(_, s)| *s != seq)
            .map(|(e, _)| e.clone())
            .collect::<Vec<_>>();
        alert(publisher, &done, deadline).await;
        return retry_from(seq);
    }
    alert(publisher, &envelopes, deadline).await;
    let records = event.records.len();
    tracing::info!(records, events = events.len(), "published");
    DynamoDbEventResponse::default()
}

/// Replays `events/publish-events/*.json` (Lambda's DynamoDB stream event) through the
/// handler against a stand-in EventBridge that records every entry it is sent.
#[cfg(test)]
mod replays_its_stream_events {
    use super::*;
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::{Arc, Mutex};

    fn tables() -> TableNames {
        TableNames {
            sessions: "sessions".into(),
            users: "users".into(),
            user_emails: "user-emails".into(),
            activity: "activity".into(),
        }
    }

    fn event(name: &str) -> Event {
        let path = format!(
            "{}/../../events/publish-events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every entry the bus accepted, as (DetailType, Detail).
    type Sent = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

    /// A bus that refuses the entry at `refuse` (counting from 0 over the whole run) once, and
    /// what it accepted.
    fn bus(refuse: Option<usize>) -> (Bus, Sent) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let seen = sent.clone();
        let refused = Arc::new(Mutex::new(false));
        let rule = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(move |req| {
            let mut sent = seen.lock().unwrap();
            let mut results = Vec::new();
            for entry in req.entries() {
                assert_eq!(entry.source(), Some(bus::SOURCE));
                assert_eq!(entry.event_bus_name(), Some("the-bus"));
                let mut refused = refused.lock().unwrap();
                if refuse == Some(sent.len()) && !*refused {
                    *refused = true;
                    results.push(
                        PutEventsResultEntry::builder()
                            .error_code("InternalFailure")
                            .error_message("try again")
                            .build(),
                    );
                    continue;
                }
                let detail = serde_json::from_str(entry.detail().unwrap()).unwrap();
                sent.push((entry.detail_type().unwrap().to_owned(), detail));
                results.push(PutEventsResultEntry::builder().event_id("e").build());
            }
            let failed = results.iter().filter(|r| r.error_code().is_some()).count();
            PutEventsOutput::builder()
                .set_entries(Some(results))
                .failed_entry_count(failed as i32)
                .build()
        });
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
        (Bus::new(client, "the-bus"), sent)
    }

    /// Every activity entry written, and a DynamoDB that takes them (or fails).
    type Written = Arc<Mutex<Vec<serde_json::Value>>>;

    /// A publisher over `bus` whose history writes succeed, or fail with a 500.
    fn publisher(bus: Bus, history_ok: bool) -> (Publisher, Written) {
        use aws_sdk_dynamodb::operation::batch_write_item::{
            BatchWriteItemError, BatchWriteItemOutput,
        };
        let written = Arc::new(Mutex::new(Vec::new()));
        let seen = written.clone();
        let rule = if history_ok {
            mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(move |req| {
                for (table, requests) in req.request_items().into_iter().flatten() {
                    assert_eq!(table, "activity");
                    for r in requests {
                        let item = r.put_request().unwrap().item().clone();
                        let entry: serde_json::Value = serde_dynamo::from_item(item).unwrap();
                        seen.lock().unwrap().push(entry);
                    }
                }
                BatchWriteItemOutput::builder().build()
            })
        } else {
            mock!(aws_sdk_dynamodb::Client::batch_write_item).then_error(|| {
                BatchWriteItemError::InternalServerError(
                    aws_sdk_dynamodb::types::error::InternalServerError::builder().build(),
                )
            })
        };
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        // The publisher only writes; its reads' client points nowhere.
        let wire =
            shared::store::Wire::new(&client, Some("http://127.0.0.1:9"), None).expect("wire");
        let publisher = Publisher {
            tables: tables(),
            store: Store::new(client, wire, tables()),
            retention_seconds: 90 * 86_400,
            bus,
            alerts: None,
        };
        (publisher, written)
    }

    fn types(sent: &[(String, serde_json::Value)]) -> Vec<&str> {
        sent.iter().map(|(t, _)| t.as_str()).collect()
    }

    #[tokio::test]
    async fn a_session_signed_in_moved_implausibly_fast_and_was_caught_reusing_a_token() {
        let (bus, sent) = bus(None);
        let (publisher, written) = publisher(bus, true);
        let out = handle(&publisher, event("sessions-sign-in-travel-theft.json")).await;
        assert!(out.batch_item_failures.is_empty());
        // Each event is also an entry of user 74's history, keyed by its time and id.
        let written = written.lock().unwrap();
        assert_eq!(written.len(), 5);
        assert_eq!(written[3]["user_id"], 74);
        assert_eq!(written[3]["type"], "session.ended");
        assert_eq!(written[3]["actor_type"], "system");
        assert_eq!(
            written[3]["at_id"],
            "1764586900#e2caf3f4d5b6c7a8998a817c6d5e4f30-session.ended"
        );
        assert_eq!(written[3]["ttl"], 1764586900 + 90 * 86_400);
        let sent = sent.lock().unwrap();
        assert_eq!(
            types(&sent),
            [
                "session.created",
                "session.location_changed",
                "session.risk_flagged",
                "session.ended",
                "session.theft_detected",
            ]
        );
        let (_, created) = &sent[0];
        assert_eq!(created["user_id"], 74);
        assert_eq!(created["version"], 1);
        assert_eq!(created["time"], "2025-12-01T10:00:00Z");
        assert_eq!(created["data"]["device_name"], "Chrome on Windows 10");
        assert_eq!(created["data"]["location"]["country"], "DE");
        let (_, moved) = &sent[1];
        assert_eq!(moved["data"]["from"]["country"], "DE");
        assert_eq!(moved["data"]["to"]["country"], "BR");
        let (_, ended) = &sent[3];
        assert_eq!(ended["data"]["reason"], "refresh_token_reuse");
        assert_eq!(ended["data"]["ended_by"], "system");
        assert_eq!(ended["actor"]["type"], "system");
        // Ids are the stream record's, so a record read again yields the same ones.
        assert_eq!(
            ended["id"],
            "e2caf3f4d5b6c7a8998a817c6d5e4f30-session.ended"
        );
        assert_eq!(
            sent[4].1["id"],
            "e2caf3f4d5b6c7a8998a817c6d5e4f30-session.theft_detected"
        );
    }

    #[tokio::test]
    async fn an_admin_disabling_a_user_and_a_throttled_sign_in_are_told_with_their_actor() {
        let (bus, sent) = bus(None);
        let (publisher, _) = publisher(bus, true);
        let out = handle(&publisher, event("users-disabled-and-throttled.json")).await;
        assert!(out.batch_item_failures.is_empty());
        let sent = sent.lock().unwrap();
        // The user-id counter's change (user 0) is no event.
        assert_eq!(
            types(&sent),
            ["user.disabled", "user.sessions_ended", "signin.throttled"]
        );
        let (_, disabled) = &sent[0];
        assert_eq!(disabled["user_id"], 76);
        assert_eq!(
            disabled["actor"],
            serde_json::json!({"type": "admin", "user_id": 1})
        );
        assert_eq!(sent[1].1["data"]["reason"], "user_disabled");
        let (_, throttled) = &sent[2];
        assert_eq!(throttled["data"]["email"], "alex@example.com");
        assert_eq!(throttled["data"]["scope"], "account");
        assert_eq!(throttled["data"]["attempts"], 20);
        assert!(throttled.get("user_id").is_none());
    }

    #[tokio::test]
    async fn a_refused_event_is_retried_from_its_record_and_nothing_after_it_is_skipped() {
        let file = "sessions-sign-in-travel-theft.json";
        // EventBridge refuses the fourth event (session.ended, of the third record).
        let (bus, sent) = bus(Some(3));
        let (publisher, _) = publisher(bus, true);
        let batch = event(file);
        let third = batch.records[2].change.sequence_number.clone();
        let out = handle(&publisher, batch).await;
        let failed: Vec<_> = out
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, std::slice::from_ref(&third));
        // Lambda retries from that record: its events arrive, with the ids they would have had.
        let mut retry = event(file);
        retry.records.drain(..2);
        let out = handle(&publisher, retry).await;
        assert!(out.batch_item_failures.is_empty());
        let sent = sent.lock().unwrap();
        let ids: Vec<&str> = sent
            .iter()
            .map(|(_, d)| d["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&"e2caf3f4d5b6c7a8998a817c6d5e4f30-session.ended"),
            "{ids:?}"
        );
        assert!(
            ids.contains(&"e2caf3f4d5b6c7a8998a817c6d5e4f30-session.theft_detected"),
            "{ids:?}"
        );
    }

    #[tokio::test]
    async fn when_the_history_cannot_be_written_the_whole_batch_is_retried_and_nothing_sent() {
        let (bus, sent) = bus(None);
        let (publisher, _) = publisher(bus, false);
        let batch = event("users-disabled-and-throttled.json");
        let first = batch.records[0].change.sequence_number.clone();
        let out = handle(&publisher, batch).await;
        let failed: Vec<_> = out
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, [first]);
        assert!(sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn another_tables_records_and_unreadable_images_hold_nothing_up() {
        let (bus, sent) = bus(None);
        let (publisher, _) = publisher(bus, true);
        let mut batch = event("sessions-sign-in-travel-theft.json");
        batch.records[0].event_source_arn =
            Some("arn:aws:dynamodb:eu-west-1:123456789012:table/someone-else/stream/x".into());
        batch.records[1].change.new_image.insert(
            "created_at".into(),
            serde_dynamo::AttributeValue::S("not a number".into()),
        );
        let out = handle(&publisher, batch).await;
        assert!(out.batch_item_failures.is_empty());
        assert_eq!(
            types(&sent.lock().unwrap()),
            ["session.ended", "session.theft_detected"]
        );
    }
}
