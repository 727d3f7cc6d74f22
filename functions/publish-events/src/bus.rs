//! Publishing events to an Amazon EventBridge bus: `PutEvents` in batches of at most ten
//! entries (the API's limit), each entry the event's envelope as `Detail`, its type as
//! `DetailType`, and [`SOURCE`] as `Source`, so rules can match on any of them.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::error::BoxError;
use shared::events::Envelope;

/// The `Source` of every event this service publishes.
pub const SOURCE: &str = "device-sessions";

/// `PutEvents` takes at most this many entries.
const MAX_ENTRIES: usize = 10;

/// A bus to publish to.
#[derive(Debug, Clone)]
pub struct Bus {
    client: Client,
    name: String,
}

/// What publishing a list of events did: the index of the first event not published, if any
/// (later ones may have been published; they are published again with the same ids).
#[derive(Debug)]
pub struct Published {
    /// The first event EventBridge refused or never got, with why.
    pub first_failed: Option<(usize, BoxError)>,
}

impl Bus {
    /// The bus `name` (or ARN) through `client`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// Publishes `events` in order, ten at a time, stopping at the first batch with a failed
    /// entry: what follows it is retried with it.
    pub async fn publish(&self, events: &[Envelope]) -> Published {
        for (batch, chunk) in events.chunks(MAX_ENTRIES).enumerate() {
            let start = batch * MAX_ENTRIES;
            let entries = match chunk.iter().map(|e| self.entry(e)).collect() {
                Ok(entries) => entries,
                Err(e) => return failed(start, e),
            };
            let out = match self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => return failed(start, Box::new(e)),
            };
            if out.failed_entry_count() > 0 {
                let (i, why) = out
                    .entries()
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.error_code().is_some())
                    .map(|(i, r)| {
                        let why = format!(
                            "{}: {}",
                            r.error_code().unwrap_or_default(),
                            r.error_message().unwrap_or_default()
                        );
                        (i, why)
                    })
                    .unwrap_or((0, "PutEvents reported failed entries".to_owned()));
                return failed(start + i, why.into());
            }
        }
        Published { first_failed: None }
    }

    fn entry(&self, event: &Envelope) -> Result<PutEventsRequestEntry, BoxError> {
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source(SOURCE)
            .detail_type(event.kind())
            .detail(serde_json::to_string(event)?)
            .build())
    }
}

fn failed(index: usize, why: BoxError) -> Published {
    Published {
        first_failed: Some((index, why)),
    }
}
