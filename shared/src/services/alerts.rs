//! New-sign-in alerts: the event publisher tells a user by e-mail when they sign in from a
//! device or a country not seen for them before ([`crate::domain::alert`]), with a "This wasn't
//! me" link ([`crate::tokens::link`]) that ends exactly that session
//! ([`crate::services::sessions::report`]).
//!
//! Alerts follow `session.created` events, after the events are recorded and published. They
//! are best effort and never hold up the stream: a failure is logged with its cause and
//! counted (`AlertsFailed`), and the sign-in is then not remembered, so the next sign-in from
//! that device or country alerts again; a batch gives alerts a time budget, and what is left
//! when it runs out is counted the same way. What has been seen is remembered only after the
//! mail is handed over, so a publisher that dies in between sends it again rather than never.
//! A `session.reported` event (the link was used) forgets that session's device and country,
//! so whoever signed in is reported again on their next sign-in from them.

use crate::Store;
use crate::domain::UserId;
use crate::domain::alert::{Novelty, device_key, novelty};
use crate::domain::time::rfc3339;
use crate::error::BoxError;
use crate::events::Envelope;
use crate::metrics::{Metric, emit};
use crate::tokens::link::{LINK_LIFETIME_SECONDS, LinkKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One message to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// The user's e-mail address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The "This wasn't me" link in the body.
    pub link: String,
}

/// Where alerts are handed over: Amazon SES on AWS, a directory locally.
pub trait Mailer: Send + Sync {
    /// Sends `mail`; `id` is the event it follows (stable across retries).
    fn send(&self, id: &str, mail: &Mail) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// The local stack's mailer: each message is one JSON file, `<dir>/<event id>.json` (written
/// whole, by a rename), so a message sent again replaces itself.
#[derive(Debug, Clone)]
pub struct Outbox(pub PathBuf);

impl Mailer for Outbox {
    async fn send(&self, id: &str, mail: &Mail) -> Result<(), BoxError> {
        std::fs::create_dir_all(&self.0)?;
        let name: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.0.join(format!("{name}.json"));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(mail)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}

/// What alerts need: the link key, the page the link opens, and the mailer.
#[derive(Debug, Clone)]
pub struct Alerts<M> {
    /// Signs the "This wasn't me" links.
    pub links: LinkKey,
    /// The app's page that takes a link token (from the URL fragment `#token=`) and posts it
    /// to `POST /auth/not-me`.
    pub link_url: String,
    /// Where messages go.
    pub mailer: M,
}

/// A `session.created` event as alerts read it.
struct SignIn<'a> {
    user_id: UserId,
    session_id: &'a str,
    device: String,
    country: Option<&'a str>,
    data: &'a Value,
}

impl<'a> SignIn<'a> {
    /// The sign-in a `session.created` or `session.reported` event is about.
    fn of(event: &'a Envelope) -> Option<Self> {
        if !matches!(event.kind(), "session.created" | "session.reported") {
            return None;
        }
        let data = &event.event.data;
        let text = |name: &str| data.get(name).and_then(Value::as_str).unwrap_or_default();
        Some(Self {
            user_id: event.event.user_id?,
            session_id: event.event.session_id.as_deref()?,
            device: device_key(text("device_type"), text("browser"), text("os")),
            country: data
                .get("location")
                .and_then(|l| l.get("country"))
                .and_then(Value::as_str),
            data,
        })
    }
}

impl<M: Mailer> Alerts<M> {
    /// Alerts for the new sign-ins among `events` (in order), at `now`, within `budget`;
    /// forgets reported ones. Returns how many messages were sent. Never fails: see the
    /// module's notes.
    pub async fn notify(
        &self,
        store: &Store,
        events: &[Envelope],
        now: i64,
        budget: Duration,
    ) -> usize {
        let deadline = Instant::now() + budget;
        let mut sent = 0;
        for event in events {
            let Some(sign_in) = SignIn::of(event) else {
                continue;
            };
            if event.kind() == "session.reported" {
                let forgot = store
                    .forget_sign_in(sign_in.user_id, &sign_in.device, sign_in.country)
                    .await;
                if let Err(e) = forgot {
                    let cause = crate::error::cause_chain(&e);
                    tracing::error!(error = %cause, event = %event.id, "a reported sign-in not forgotten");
                }
                continue;
            }
            if Instant::now() >= deadline {
                emit(Metric::AlertFailed);
                tracing::error!(event = %event.id, "new-sign-in alert not sent: the batch's time for alerts ran out");
                continue;
            }
            let one = self.one(store, event, &sign_in, now);
            let outcome = tokio::time::timeout_at(deadline.into(), one)
                .await
                .unwrap_or_else(|_| Err("the batch's time for alerts ran out".into()));
            match outcome {
                Ok(true) => {
                    sent += 1;
                    emit(Metric::AlertSent);
                }
                Ok(false) => {}
                Err(e) => {
                    emit(Metric::AlertFailed);
                    let cause = crate::error::cause_chain(e.as_ref());
                    tracing::error!(error = %cause, event = %event.id, "new-sign-in alert not sent");
                }
            }
        }
        sent
    }

    /// Decides, sends and remembers one sign-in; `Ok(true)` when a message went out.
    async fn one(
        &self,
        store: &Store,
        event: &Envelope,
        sign_in: &SignIn<'_>,
        now: i64,
    ) -> Result<bool, BoxError> {
        let known = store.known_sign_ins(sign_in.user_id).await?;
        let new = novelty(known.as_ref(), &sign_in.device, sign_in.country);
        let mut sent = false;
        if new.alerts() {
            // A user gone or disabled since is told nothing (the mail may no longer be theirs).
            if let Some(user) = store.get_user(sign_in.user_id).await?
                && !user.disabled
            {
                let mail = self.mail(&user.email, event, sign_in, new, now);
                self.mailer.send(&event.id, &mail).await?;
                sent = true;
            }
        }
        // Nothing to write for a sign-in from what is known already.
        if known.is_none() || new.alerts() {
            store
                .remember_sign_in(sign_in.user_id, &sign_in.device, sign_in.country)
                .await?;
        }
        Ok(sent)
    }

    fn mail(&self, to: &str, event: &Envelope, s: &SignIn<'_>, new: Novelty, now: i64) -> Mail {
        let token = self
            .links
            .issue(s.user_id, s.session_id, now + LINK_LIFETIME_SECONDS);
        let link = format!("{}#token={token}", self.link_url);
        let text = |name: &str| {
            s.data
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("unknown")
        };
        let place = match (
            s.data["location"].get("city").and_then(Value::as_str),
            s.country,
        ) {
            (Some(city), Some(country)) => format!("{city}, {country}"),
            (None, Some(country)) => country.to_owned(),
            _ => "an unknown place".to_owned(),
        };
        let what = match (new.device, new.country) {
            (true, true) => "a new device, in a new country",
            (true, false) => "a new device",
            _ => "a new country",
        };
        Mail {
            to: to.to_owned(),
            subject: "New sign-in to your account".to_owned(),
            text: format!(
                "Your account was signed in to from {what}.\n\n\
                 Device: {device}\nAddress: {ip} ({place})\nTime: {time}\n\n\
                 If this was you, there is nothing to do.\n\n\
                 If it was not you, end that session now (the link works once, for 24 hours):\n\
                 {link}\n\n\
                 Then change your password: whoever signed in knows it.\n",
                device = text("device_name"),
                ip = text("ip_address"),
                time = rfc3339(event.at),
            ),
            link,
        }
    }
}
