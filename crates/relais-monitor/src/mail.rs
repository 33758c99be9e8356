//! Pages by e-mail: what a page says ([`compose`], pure) and how it is sent
//! ([`Mailer`], SMTP through lettre).

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use relais_config::{SmtpSecurity, SmtpSettings};

use crate::check::Check;
use crate::policy::Page;
use crate::MonitorError;

/// Subject and body of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// What one page says about `check`.
pub struct PageFacts<'a> {
    /// The check.
    pub check: Check,
    /// Which page.
    pub page: Page,
    /// The latest result's detail.
    pub detail: &'a str,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// When the alert fired (while firing).
    pub since: Option<DateTime<Utc>>,
    /// When this page is sent.
    pub now: DateTime<Utc>,
}

/// Writes the page.
pub fn compose(facts: &PageFacts<'_>) -> Letter {
    let check = facts.check.name();
    let since = facts
        .since
        .map(|s| format!("Firing since: {}\n", s.to_rfc3339()))
        .unwrap_or_default();
    let (subject, opening) = match facts.page {
        Page::Firing => (
            format!("[relais] FIRING {check}"),
            format!(
                "The check {check} has failed {} times in a row.",
                facts.consecutive_failures
            ),
        ),
        Page::Reminder => (
            format!("[relais] STILL FIRING {check}"),
            format!(
                "The check {check} is still failing ({} times in a row).",
                facts.consecutive_failures
            ),
        ),
        Page::Recovery => (
            format!("[relais] RESOLVED {check}"),
            format!("The check {check} passes again."),
        ),
    };
    let body = format!(
        "{opening}\n\nLatest result: {}\n{since}Checked at: {}\n\n\
         Every result is on the EVENTS stream as events.monitor.check.{check}.\n",
        facts.detail,
        facts.now.to_rfc3339()
    );
    Letter { subject, body }
}

/// Sends pages through the configured mail server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    host: String,
    port: u16,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("to", &self.to.len())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `settings`; `None` when no recipient is configured.
    pub fn from_settings(settings: &SmtpSettings) -> Result<Option<Mailer>, MonitorError> {
        if settings.to.is_empty() {
            return Ok(None);
        }
        let parse = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|source| MonitorError::Address {
                    address: address.to_owned(),
                    source,
                })
        };
        let from = parse(&settings.from)?;
        let to = settings
            .to
            .iter()
            .map(|a| parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        let setup = |source| MonitorError::SmtpSetup {
            host: settings.host.clone(),
            source,
        };
        let host = settings.host.as_str();
        let mut builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(setup)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(setup)?
            }
        }
        .port(settings.port)
        .timeout(Some(settings.timeout));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            to,
            host: settings.host.clone(),
            port: settings.port,
        }))
    }

    /// Sends `letter` to every recipient.
    pub async fn send(&self, letter: &Letter) -> Result<(), MonitorError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(letter.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message.body(letter.body.clone())?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|source| MonitorError::Send {
                host: self.host.clone(),
                port: self.port,
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(page: Page) -> PageFacts<'static> {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("valid");
        PageFacts {
            check: Check::SmokeTranslation,
            page,
            detail: "POST http://edge/api/translate answered 504: timed out",
            consecutive_failures: 3,
            since: Some(now),
            now,
        }
    }

    #[test]
    fn each_page_names_the_check_and_its_state() {
        let firing = compose(&facts(Page::Firing));
        assert_eq!(firing.subject, "[relais] FIRING smoke_translation");
        assert!(firing.body.contains("failed 3 times in a row"));
        assert!(firing.body.contains("answered 504"));
        assert!(firing.body.contains("Firing since: 2027-01-15"));
        let reminder = compose(&facts(Page::Reminder));
        assert_eq!(reminder.subject, "[relais] STILL FIRING smoke_translation");
        let recovery = compose(&PageFacts {
            since: None,
            ..facts(Page::Recovery)
        });
        assert_eq!(recovery.subject, "[relais] RESOLVED smoke_translation");
        assert!(recovery.body.contains("passes again"));
        assert!(!recovery.body.contains("Firing since"));
    }

    #[test]
    fn no_recipients_means_no_mailer_and_bad_addresses_are_named() {
        let mut settings = SmtpSettings {
            host: "localhost".into(),
            port: 25,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "monitor@example.org".into(),
            to: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
        };
        assert!(Mailer::from_settings(&settings).expect("valid").is_none());
        settings.to = vec!["ops@example.org".into()];
        assert!(Mailer::from_settings(&settings).expect("valid").is_some());
        settings.to = vec!["ops@@example".into()];
        let err = Mailer::from_settings(&settings).expect_err("bad address");
        assert!(err.to_string().contains("ops@@example"), "{err}");
    }
}
