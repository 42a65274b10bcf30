//! Account emails: confirming an address and resetting a password. They go straight
//! to the configured SMTP server from a task of their own, so how long a request takes
//! never tells whether an email was sent (and so whether an account exists).

use crate::i18n::{t, tf, Locale};
use crate::request::{AccountMail, AppConfig};

/// One account email, in the recipient's language.
pub struct AccountEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl AccountEmail {
    /// "Confirm your address": `link` opens the confirmation page.
    pub fn confirm(locale: Locale, to: &str, link: &str) -> AccountEmail {
        AccountEmail {
            to: to.to_string(),
            subject: t(locale, "mail.confirm_subject"),
            text: tf(locale, "mail.confirm_body", &[("link", link.to_string())]),
        }
    }

    /// Someone tried to sign up with an address that has an account already.
    pub fn already_registered(
        locale: Locale,
        to: &str,
        sign_in: &str,
        reset: &str,
    ) -> AccountEmail {
        AccountEmail {
            to: to.to_string(),
            subject: t(locale, "mail.exists_subject"),
            text: tf(
                locale,
                "mail.exists_body",
                &[
                    ("sign_in", sign_in.to_string()),
                    ("reset", reset.to_string()),
                ],
            ),
        }
    }

    pub fn reset(locale: Locale, to: &str, link: &str) -> AccountEmail {
        AccountEmail {
            to: to.to_string(),
            subject: t(locale, "mail.reset_subject"),
            text: tf(locale, "mail.reset_body", &[("link", link.to_string())]),
        }
    }
}

/// Submits `email` in the background; failures are logged (without the link).
pub fn send_later(config: &AppConfig, email: AccountEmail) {
    let Some(account_mail) = config.account_mail.clone() else {
        tracing::warn!("account email not sent: no SMTP server is configured (LEADLINE_SMTP_URL)");
        return;
    };
    tokio::spawn(async move {
        if let Err(error) = send_now(&account_mail, &email).await {
            tracing::warn!(%error, "account email not sent");
        }
    });
}

/// Sends one of our own emails to a member (account emails, notification digests)
/// through the account SMTP server, as plain text marked auto-generated, and waits
/// for the server to accept it.
pub async fn send_now(account_mail: &AccountMail, email: &AccountEmail) -> Result<(), String> {
    let message = mail::OutgoingEmail {
        from_name: "Leadline".into(),
        from_address: account_mail.from.clone(),
        to: email.to.clone(),
        subject: email.subject.clone(),
        text: email.text.clone(),
        html: None,
        message_id: format!(
            "{}@{}",
            uuid::Uuid::new_v4().simple(),
            account_mail
                .from
                .rsplit('@')
                .next()
                .unwrap_or("leadline.invalid")
        ),
        in_reply_to: None,
        references: Vec::new(),
        // Not a one-click unsubscribe: RFC 8058 wants one that works without signing in.
        list_unsubscribe_url: None,
        extra_headers: vec![("Auto-Submitted".into(), "auto-generated".into())],
        attachments: Vec::new(),
    };
    let raw = mail::build_message(&message, None).map_err(|e| e.to_string())?;
    mail::send(&account_mail.smtp, &account_mail.from, &email.to, &raw)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
