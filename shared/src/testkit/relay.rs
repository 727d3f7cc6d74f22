//! The local stack's publisher: reads the three tables' streams from the local DynamoDB
//! (Dynoxide speaks the DynamoDB Streams API Lambda reads on AWS), turns each record into
//! events with the code the deployed publisher runs ([`crate::events::of_record`]), records
//! them in each user's activity history, hands them to a [`Sink`] (locally
//! `.data/events.jsonl`), sends new-sign-in alerts where asked (locally to `.data/outbox/`),
//! and only then records how far it got in a checkpoint file. A relay killed at any point starts again from its checkpoint: every
//! record is delivered at least once, and one delivered twice keeps its events' ids.

use crate::Store;
use crate::config::TableNames;
use crate::domain::time::now_epoch;
use crate::error::BoxError;
use crate::events::{Envelope, Record, Source, of_record};
use crate::services::alerts::{Alerts, Outbox};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where events go.
pub trait Sink: Send {
    /// Takes the events of one page of stream records, in order. An error stops the relay
    /// before it records the page as done, so the page is delivered again.
    fn deliver(&mut self, events: &[Envelope]) -> Result<(), BoxError>;
}

/// Appends each event as one JSON line to a file.
#[derive(Debug, Clone)]
pub struct JsonLines(pub PathBuf);

impl Sink for JsonLines {
    fn deliver(&mut self, events: &[Envelope]) -> Result<(), BoxError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for event in events {
            text.push_str(&serde_json::to_string(event)?);
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        Ok(())
    }
}

/// Takes events and keeps none (where only the activity history matters).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Sink for Discard {
    fn deliver(&mut self, _: &[Envelope]) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Reads the streams of the three tables through `client`.
#[derive(Debug, Clone)]
pub struct Relay {
    client: Client,
    store: Store,
    tables: TableNames,
    retention_seconds: i64,
    checkpoint: PathBuf,
    alerts: Option<Alerts<Outbox>>,
}

/// The last sequence number delivered, per shard (`<stream ARN> <shard id>`).
type Checkpoint = BTreeMap<String, String>;

impl Relay {
    /// A relay that writes the activity history through `store` (entries kept
    /// `retention_seconds`) and keeps its checkpoint in `checkpoint` (created on first use).
    pub fn new(
        client: Client,
        store: Store,
        retention_seconds: i64,
        checkpoint: impl Into<PathBuf>,
    ) -> Self {
        Self {
            client,
            tables: store.tables().clone(),
            store,
            retention_seconds,
            checkpoint: checkpoint.into(),
            alerts: None,
        }
    }

    /// The same relay, also sending new-sign-in alerts (as the deployed publisher does with
    /// SES) as files in an outbox directory.
    pub fn with_alerts(mut self, alerts: Alerts<Outbox>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// A streams client for the local DynamoDB at `endpoint`, from the same SDK settings.
    pub fn client(sdk: &aws_config::SdkConfig, endpoint: &str) -> Client {
        let config = aws_sdk_dynamodbstreams::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                "local", "local", None, None, "local",
            ))
            .build();
        Client::from_conf(config)
    }

    /// Delivers every record written since the checkpoint to `sink`, page by page, and
    /// returns how many events it delivered.
    pub async fn poll(&self, sink: &mut dyn Sink) -> Result<usize, BoxError> {
        let mut checkpoint = read_checkpoint(&self.checkpoint)?;
        let mut delivered = 0;
        for table in [
            &self.tables.sessions,
            &self.tables.users,
            &self.tables.user_emails,
        ] {
            let Some(source) = Source::of(&self.tables, table) else {
                continue;
            };
            let streams = self.client.list_streams().table_name(table).send().await?;
            for stream in streams.streams() {
                let Some(arn) = stream.stream_arn() else {
                    continue;
                };
                let described = self.client.describe_stream().stream_arn(arn).send().await?;
                let shards = described
                    .stream_description()
                    .map(|d| d.shards().to_vec())
                    .unwrap_or_default();
                for shard in shards {
                    let Some(shard_id) = shard.shard_id() else {
                        continue;
                    };
                    let position = format!("{arn} {shard_id}");
                    let mut request = self
                        .client
                        .get_shard_iterator()
                        .stream_arn(arn)
                        .shard_id(shard_id);
                    request = match checkpoint.get(&position) {
                        Some(seq) => request
                            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                            .sequence_number(seq),
                        None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
                    };
                    let mut iterator = request.send().await?.shard_iterator().map(str::to_owned);
                    while let Some(it) = iterator {
                        let page = self.client.get_records().shard_iterator(it).send().await?;
                        if page.records().is_empty() {
                            break;
                        }
                        let mut events = Vec::new();
                        let mut last = None;
                        for r in page.records() {
                            let Some(change) = r.dynamodb() else { continue };
                            let image = |i: Option<&std::collections::HashMap<_, _>>| {
                                i.map(|i| serde_dynamo::Item::from(i.clone()))
                            };
                            let record = Record {
                                id: r.event_id().unwrap_or_default().to_owned(),
                                source,
                                old: image(change.old_image()),
                                new: image(change.new_image()),
                                at: change
                                    .approximate_creation_date_time()
                                    .map(|t| t.secs())
                                    .unwrap_or_default(),
                            };
                            match of_record(&record) {
                                Ok(found) => events.extend(found),
                                Err(e) => tracing::error!(error = %e, "stream record skipped"),
                            }
                            last = change.sequence_number().map(str::to_owned);
                        }
                        let history: Vec<_> = events
                            .iter()
                            .filter_map(|e| e.activity(self.retention_seconds))
                            .collect();
                        self.store.record_activity(&history).await?;
                        sink.deliver(&events)?;
                        if let Some(alerts) = &self.alerts {
                            let budget = std::time::Duration::from_secs(60);
                            alerts
                                .notify(&self.store, &events, now_epoch(), budget)
                                .await;
                        }
                        delivered += events.len();
                        if let Some(seq) = last {
                            checkpoint.insert(position.clone(), seq);
                            write_checkpoint(&self.checkpoint, &checkpoint)?;
                        }
                        iterator = page.next_shard_iterator().map(str::to_owned);
                    }
                }
            }
        }
        Ok(delivered)
    }
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, BoxError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::new()),
        Err(e) => Err(Box::new(e)),
    }
}

/// Replaces the checkpoint file whole (a rename), so a kill never leaves half of one.
fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<(), BoxError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(checkpoint)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
