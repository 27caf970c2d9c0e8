//! Outgoing email over SMTP (lettre): one-time verification codes and notices to the
//! requesters of rights requests.
//!
//! The relay is one URL (`CUSTODIAN_SMTP_URL`): `smtp://host:port` (plain, for a local relay),
//! `smtp://host:587?tls=required` (STARTTLS), `smtps://user:password@host:465` (implicit TLS).
//! A recipient's address never reaches a log line or an error message.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where and as whom mail is sent.
#[derive(Clone)]
pub struct SmtpConfig {
    /// The relay URL (may hold credentials: never printed).
    pub url: String,
    /// The sender, e.g. `Privacy Team <privacy@example.com>`.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

/// Why mail could not be sent. Holds no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The configuration is unusable (the message says which part).
    #[error("invalid mail configuration: {0}")]
    Config(&'static str),
    /// The recipient's address is not a valid mailbox.
    #[error("the recipient address is not valid")]
    Recipient,
    /// The relay refused or could not be reached.
    #[error("the mail relay failed: {0}")]
    Relay(String),
}

/// Sends mail through one relay.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `config`.
    ///
    /// # Errors
    ///
    /// [`MailError::Config`] when the URL or the sender does not parse.
    pub fn new(config: &SmtpConfig) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|_| MailError::Config("smtp_url"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|_| MailError::Config("smtp_from"))?;
        Ok(Self { transport, from })
    }

    /// Sends a plain-text message.
    ///
    /// # Errors
    ///
    /// [`MailError::Recipient`] for an unusable address, [`MailError::Relay`] when the relay
    /// fails (its reply, without addresses, is in the message).
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to = to.parse::<Mailbox>().map_err(|_| MailError::Recipient)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| MailError::Recipient)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            MailError::Relay(match e.status() {
                Some(code) => format!("the relay answered {code}"),
                None if e.is_timeout() => "timed out".to_owned(),
                None => "connection or protocol failure".to_owned(),
            })
        })
    }
}
