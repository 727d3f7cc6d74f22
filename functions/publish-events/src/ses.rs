//! New-sign-in alerts through Amazon SES (the v2 `SendEmail` API), from the stack's verified
//! sender address ([`shared::services::alerts`] decides what is sent and when).

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use shared::error::BoxError;
use shared::services::alerts::{Mail, Mailer};

/// Sends each message as a simple plain-text e-mail.
#[derive(Debug, Clone)]
pub struct Ses {
    client: Client,
    from: String,
}

impl Ses {
    /// Sends from `from` (an SES-verified address or domain) through `client`.
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn utf8(text: &str) -> Result<Content, BoxError> {
    Ok(Content::builder().data(text).charset("UTF-8").build()?)
}

impl Mailer for Ses {
    async fn send(&self, _id: &str, mail: &Mail) -> Result<(), BoxError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await?;
        Ok(())
    }
}
