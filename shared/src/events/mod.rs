//! Domain events from DynamoDB stream records: which table a record comes from, its two
//! images decoded into the domain's items, and the events of the change
//! ([`crate::domain::event`]) in their published envelope (`docs/events.md`).
//!
//! Requests never publish anything: every event is derived from a committed write, read from
//! the table's stream by the publisher (`functions/publish-events` on AWS, the local relay in
//! the testkit). A function that dies after its write loses no event, and a request pays no
//! latency for one. Delivery is at least once: a record is read again after a failure, and
//! its events keep their ids, so consumers drop what they have seen.

use crate::config::TableNames;
use crate::domain::activity::{Activity, at_id};
use crate::domain::event::{self, Actor, Occurrence, SCHEMA_VERSION, ThrottleCounter};
use crate::domain::time::rfc3339;
use crate::domain::{Session, User, UserId};
use crate::tables::COPIED;
use serde::Serialize;
use serde_dynamo::Item;

/// The table a stream record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The sessions table (sessions, and the global epoch item).
    Sessions,
    /// The users table (users, and the user-id counter).
    Users,
    /// The emails table (email → user id, sign-in throttle counters, sign-in challenges).
    UserEmails,
}

impl Source {
    /// The source of a stream ARN (`arn:aws:dynamodb:…:table/<name>/stream/<label>`) or a bare
    /// table name; `None` for a table of someone else's.
    pub fn of(tables: &TableNames, arn_or_name: &str) -> Option<Self> {
        let name = match arn_or_name.split_once(":table/") {
            Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
            None => arn_or_name,
        };
        if name == tables.sessions {
            Some(Self::Sessions)
        } else if name == tables.users {
            Some(Self::Users)
        } else if name == tables.user_emails {
            Some(Self::UserEmails)
        } else {
            None
        }
    }
}

/// One published event (version [`SCHEMA_VERSION`] of the schema in `docs/events.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// Unique and stable: the stream record's id and the event's type (a record yields each type
    /// at most once), so a record read twice yields the same ids, whatever version of the code
    /// reads it.
    pub id: String,
    /// Schema version.
    pub version: u32,
    /// When the write was made (the stream record's creation time), RFC 3339.
    pub time: String,
    /// The same, Unix seconds.
    #[serde(skip)]
    pub at: i64,
    /// The event itself: `type`, `user_id`, `session_id`, `actor`, `data`.
    #[serde(flatten)]
    pub event: Occurrence,
}

impl Envelope {
    /// The event's type, e.g. `session.ended`.
    pub fn kind(&self) -> &'static str {
        self.event.kind
    }

    /// The entry of its user's activity history, kept `retention_seconds`; none for an event
    /// about no user (a throttled email, the operator's global end).
    pub fn activity(&self, retention_seconds: i64) -> Option<Activity> {
        let user_id = self.event.user_id?;
        Some(Activity {
            user_id,
            at_id: at_id(self.at, &self.id),
            id: self.id.clone(),
            kind: self.event.kind.to_owned(),
            time: self.at,
            session_id: self.event.session_id.clone(),
            actor_type: self.event.actor.kind,
            actor_user_id: self.event.actor.user_id.map(UserId::get),
            data: self.event.data.clone(),
            ttl: self.at + retention_seconds,
        })
    }
}

/// A stream record, as much of it as events need.
#[derive(Debug, Clone)]
pub struct Record {
    /// The stream's record id (`eventID`).
    pub id: String,
    /// The table it comes from.
    pub source: Source,
    /// The item before the write (none for a creation).
    pub old: Option<Item>,
    /// The item after the write (none for a deletion).
    pub new: Option<Item>,
    /// When the write was made, Unix seconds.
    pub at: i64,
}

/// What went wrong reading a record: an image the domain cannot read is a bug or a foreign
/// item, and is reported (and skipped) rather than stopping every later event.
#[derive(Debug, thiserror::Error)]
#[error("stream record {record}: {source}")]
pub struct DecodeError {
    /// The record's id.
    pub record: String,
    /// What failed.
    #[source]
    pub source: serde_dynamo::Error,
}

/// The events of one stream record, in order.
pub fn of_record(record: &Record) -> Result<Vec<Envelope>, DecodeError> {
    let fail = |source| DecodeError {
        record: record.id.clone(),
        source,
    };
    // An item copied into a new sessions table (`sessions-cli copy-sessions`) happened before,
    // in the old table: its arrival is no sign-in, nor an operator's end of every session.
    let copied = |i: &Item| i.contains_key(COPIED);
    if record.old.is_none() && record.new.as_ref().is_some_and(copied) {
        return Ok(Vec::new());
    }
    let key = record.new.as_ref().or(record.old.as_ref());
    let occurrences = match record.source {
        Source::Sessions if key.is_some_and(is_global_item) => global(record),
        Source::Sessions => {
            let (old, new) = images::<Session>(record).map_err(fail)?;
            event::of_session(old.as_ref(), new.as_ref())
        }
        Source::Users if key.is_some_and(|k| !k.contains_key("email")) => Vec::new(),
        Source::Users => {
            let (old, new) = images::<User>(record).map_err(fail)?;
            event::of_user(old.as_ref(), new.as_ref())
        }
        Source::UserEmails if key.is_some_and(is_throttle_item) => {
            let (old, new) = images::<ThrottleCounter>(record).map_err(fail)?;
            event::of_throttle(old.as_ref(), new.as_ref())
        }
        Source::UserEmails => Vec::new(),
    };
    Ok(occurrences
        .into_iter()
        .map(|event| Envelope {
            id: format!("{}-{}", record.id, event.kind),
            version: SCHEMA_VERSION,
            time: rfc3339(record.at),
            at: record.at,
            event,
        })
        .collect())
}

fn images<T: serde::de::DeserializeOwned>(
    record: &Record,
) -> Result<(Option<T>, Option<T>), serde_dynamo::Error> {
    let decode = |item: &Option<Item>| {
        item.clone()
            .map(serde_dynamo::from_item::<_, T>)
            .transpose()
    };
    Ok((decode(&record.old)?, decode(&record.new)?))
}

fn number(item: &Item, name: &str) -> Option<u64> {
    match item.get(name)? {
        serde_dynamo::AttributeValue::N(n) => n.parse().ok(),
        _ => None,
    }
}

/// The item that holds the global epoch (user 0, which no user has).
fn is_global_item(item: &Item) -> bool {
    number(item, "user_id") == Some(0)
}

fn is_throttle_item(item: &Item) -> bool {
    matches!(item.get("email"), Some(serde_dynamo::AttributeValue::S(k)) if k.starts_with("throttle "))
}

/// `sessions.all_ended` when the operator moved the global epoch.
fn global(record: &Record) -> Vec<Occurrence> {
    let epoch = |item: &Option<Item>| item.as_ref().and_then(|i| number(i, "global_epoch"));
    match (epoch(&record.old).unwrap_or(0), epoch(&record.new)) {
        (old, Some(new)) if new > old => vec![Occurrence {
            kind: "sessions.all_ended",
            user_id: None::<UserId>,
            session_id: None,
            actor: Actor::SYSTEM,
            data: serde_json::json!({"global_epoch": new}),
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_dynamo::AttributeValue as Av;

    fn item(pairs: &[(&str, Av)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<std::collections::HashMap<_, _>>()
            .into()
    }

    fn record(old: Option<Item>, new: Option<Item>) -> Record {
        Record {
            id: "r1".into(),
            source: Source::Sessions,
            old,
            new,
            at: 1_764_583_200,
        }
    }

    #[test]
    fn the_operators_end_of_every_session_is_told_and_a_copy_of_its_item_is_not() {
        let global = |epoch: &str| {
            vec![
                ("user_id", Av::N("0".into())),
                ("session_id", Av::S("global".into())),
                ("global_epoch", Av::N(epoch.into())),
            ]
        };
        let first = of_record(&record(None, Some(item(&global("1"))))).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].kind(), "sessions.all_ended");
        assert_eq!(first[0].id, "r1-sessions.all_ended");
        let again = record(Some(item(&global("1"))), Some(item(&global("2"))));
        assert_eq!(of_record(&again).unwrap().len(), 1);
        // Copied into a new table: it ended nothing now.
        let mut copied = global("2");
        copied.push((COPIED, Av::N("1764583300".into())));
        assert!(
            of_record(&record(None, Some(item(&copied))))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn tables_are_told_apart_by_stream_arn_or_name_and_foreign_ones_ignored() {
        let tables = TableNames {
            sessions: "s".into(),
            users: "u".into(),
            user_emails: "e".into(),
            activity: "a".into(),
        };
        let arn = "arn:aws:dynamodb:eu-west-1:1:table/u/stream/2026-12-01T00:00:00.000";
        assert_eq!(Source::of(&tables, arn), Some(Source::Users));
        assert_eq!(Source::of(&tables, "e"), Some(Source::UserEmails));
        // The history table has no stream, and is no source.
        assert_eq!(Source::of(&tables, "a"), None);
        assert_eq!(
            Source::of(&tables, "arn:aws:dynamodb:x:1:table/other/stream/x"),
            None
        );
    }
}
