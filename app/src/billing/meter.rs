//! Messages metered per channel and UTC month against the plan's caps.
//!
//! The counter (`usage_counters`) holds the messages handed to a provider. The
//! dispatcher reserves a batch's sends in one statement per channel before it sends
//! them, so two dispatchers of one workspace cannot pass a cap together, and gives back
//! those that did not go in the transaction that records their outcome. A message past
//! the cap is never dropped: it stays in the outbox, marked, until the month turns or
//! the plan changes. The scheduler and a member's one-off send look at the room left
//! first, so sequences wait instead of piling up messages that cannot go.

use super::model::Metric;
use crate::db::Tx;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::outreach::model::Channel;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

pub fn metric(channel: Channel) -> Metric {
    match channel {
        Channel::WhatsApp => Metric::WhatsAppMessages,
        Channel::Email => Metric::EmailMessages,
    }
}

fn limit_column(channel: Channel) -> &'static str {
    match channel {
        Channel::WhatsApp => "wa_messages_limit",
        Channel::Email => "email_messages_limit",
    }
}

/// The month `now` falls in, as its first day (UTC).
pub fn period(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
        .with_day(1)
        .unwrap_or_else(|| now.date_naive())
}

/// The first instant of the month after `now`'s: when a held message is due again.
pub fn next_period(now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = match now.month() {
        12 => (now.year() + 1, 1),
        m => (now.year(), m + 1),
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(now + chrono::Duration::days(31))
}

/// The plan's monthly cap on `channel` and the plan's name; `None` for no cap.
async fn cap(
    tx: &mut Tx,
    channel: Channel,
    locale: Locale,
) -> Result<Option<(i64, String)>, AppError> {
    let row: Option<(Option<i32>, String)> = sqlx::query_as(&format!(
        "SELECT p.{}, coalesce(p.names->>$1, p.name) FROM subscriptions s JOIN plans p ON p.id = s.plan_id",
        limit_column(channel)
    ))
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(cap), plan)) = row else {
        return Ok(None);
    };
    // Packs bought for this month raise it.
    let packs = super::addons::extra(tx, metric(channel), Utc::now()).await?;
    Ok(Some((i64::from(cap) + packs, plan)))
}

/// Messages of `channel` handed to a provider in the month of `at`.
pub async fn used(tx: &mut Tx, channel: Channel, at: DateTime<Utc>) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(used), 0)::bigint FROM usage_counters WHERE metric = $1 AND period = $2",
    )
    .bind(format!("{:?}", metric(channel)))
    .bind(period(at))
    .fetch_one(&mut **tx)
    .await?)
}

/// How many more messages of `channel` may be queued this month: the cap less those
/// sent and those already waiting in the outbox (counted no further than the cap, so
/// a big backlog costs no more than that). `None`: the plan has no cap.
pub async fn room(
    tx: &mut Tx,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    let Some((cap, _)) = cap(tx, channel, Locale::En).await? else {
        return Ok(None);
    };
    Ok(Some(room_under(tx, channel, cap, now).await?))
}

async fn room_under(
    tx: &mut Tx,
    channel: Channel,
    cap: i64,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    let sent = used(tx, channel, now).await?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM outbox o JOIN messages m ON m.id = o.message_id
                                WHERE m.channel = $1 LIMIT $2) x",
    )
    .bind(channel.code())
    .bind(cap + 1)
    .fetch_one(&mut **tx)
    .await?;
    Ok((cap - sent - waiting).max(0))
}

/// Refuses a member's message when the month's cap on its channel is taken, by sends
/// and messages already waiting, naming the cap and where to lift it.
pub async fn check_send(tx: &mut Tx, locale: Locale, channel: Channel) -> Result<(), AppError> {
    let Some((cap, plan)) = cap(tx, channel, locale).await? else {
        return Ok(());
    };
    if room_under(tx, channel, cap, Utc::now()).await? > 0 {
        return Ok(());
    }
    Err(AppError::Forbidden(tf(
        locale,
        "billing.error.messages_limit",
        &[
            ("what", t(locale, metric(channel).label_key())),
            ("plan", plan),
            ("limit", cap.to_string()),
        ],
    )))
}

/// What [`reserve`] allowed.
pub struct Grant {
    /// Sends that may go now.
    pub granted: i64,
    /// The month's cap; `None`: no cap.
    pub cap: Option<i64>,
    /// The workspace's language, for the reason a held message shows.
    pub locale: Locale,
}

impl Grant {
    /// Why a message past the cap waits, as its lead's page shows it.
    pub fn held_reason(&self, channel: Channel) -> String {
        tf(
            self.locale,
            "billing.held",
            &[
                ("what", t(self.locale, metric(channel).label_key())),
                ("limit", self.cap.unwrap_or_default().to_string()),
            ],
        )
    }
}

/// Takes up to `want` sends of `channel` for the month of `at`. The counter row stays
/// locked until the caller's transaction ends, so keep that transaction short.
pub async fn reserve(
    tx: &mut Tx,
    tenant_id: Uuid,
    channel: Channel,
    at: DateTime<Utc>,
    want: i64,
) -> Result<Grant, AppError> {
    if want <= 0 {
        return Ok(Grant {
            granted: 0,
            cap: None,
            locale: Locale::En,
        });
    }
    let metric_of = metric(channel);
    let metric = format!("{metric_of:?}");
    // Creates the month's row or locks the existing one, and reads the cap (the plan's,
    // raised by the packs bought for the month) and the workspace's language with it.
    let (used, cap, locale): (i64, Option<i32>, Option<String>) = sqlx::query_as(&format!(
        "WITH c AS (
            INSERT INTO usage_counters AS u (tenant_id, metric, period, used) VALUES ($1, $2, $3, 0)
            ON CONFLICT (tenant_id, metric, period) DO UPDATE SET used = u.used
            RETURNING used)
         SELECT c.used,
                (SELECT p.{} FROM subscriptions s JOIN plans p ON p.id = s.plan_id)
                  + (SELECT coalesce(sum(messages), 0)::integer FROM message_packs
                      WHERE tenant_id = $1 AND metric = $2 AND period = $3),
                (SELECT locale FROM tenants WHERE id = $1)
           FROM c",
        limit_column(channel)
    ))
    .bind(tenant_id)
    .bind(&metric)
    .bind(period(at))
    .fetch_one(&mut **tx)
    .await?;
    let cap = cap.map(i64::from);
    let granted = match cap {
        Some(cap) => want.min((cap - used).max(0)),
        None => want,
    };
    if granted > 0 {
        sqlx::query(
            "UPDATE usage_counters SET used = used + $4 WHERE tenant_id = $1 AND metric = $2 AND period = $3",
        )
        .bind(tenant_id)
        .bind(&metric)
        .bind(period(at))
        .bind(granted)
        .execute(&mut **tx)
        .await?;
    }
    let locale = locale
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or(Locale::En);
    if let Some(cap) = cap {
        let month = Some(period(at));
        super::warnings::check(tx, locale, metric_of, used + granted, cap, month).await?;
    }
    Ok(Grant {
        granted,
        cap,
        locale,
    })
}

/// Returns `n` reserved sends that did not go (a retry, a failure) to the month they
/// were taken from.
pub async fn give_back(
    tx: &mut Tx,
    tenant_id: Uuid,
    channel: Channel,
    month: NaiveDate,
    n: i64,
) -> Result<(), AppError> {
    if n <= 0 {
        return Ok(());
    }
    sqlx::query(
        "UPDATE usage_counters SET used = greatest(used - $4, 0)
          WHERE tenant_id = $1 AND metric = $2 AND period = $3",
    )
    .bind(tenant_id)
    .bind(format!("{:?}", metric(channel)))
    .bind(month)
    .bind(n)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_begin_on_the_first_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(period(at), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(
            next_period(at),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        let feb = Utc.with_ymd_and_hms(2028, 2, 29, 12, 0, 0).unwrap();
        assert_eq!(
            next_period(feb),
            Utc.with_ymd_and_hms(2028, 3, 1, 0, 0, 0).unwrap()
        );
    }
}
