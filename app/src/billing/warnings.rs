//! Soft warnings as usage nears a limit: at 80 % and at 100 % of a plan's limit, each
//! owner and admin is notified once per limit, billing period and threshold — the
//! `usage_warnings` row is the "already told", so a busy workspace creating lead after
//! lead past 80 % hears of it once, not on every request.

use super::model::Metric;
use crate::db::Tx;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};

/// The thresholds `used` of `limit` has reached, highest last.
pub fn thresholds(used: i64, limit: i64) -> Vec<i32> {
    if limit <= 0 {
        return Vec::new();
    }
    [80, 100]
        .into_iter()
        .filter(|th| used * 100 >= i64::from(*th) * limit)
        .collect()
}

/// Records and tells what `used` of `limit` reached, in the caller's transaction (the
/// action's), each threshold once per period: the billing period, or `month` for a
/// limit counted per calendar month.
pub async fn check(
    tx: &mut Tx,
    locale: Locale,
    metric: Metric,
    used: i64,
    limit: i64,
    month: Option<chrono::NaiveDate>,
) -> Result<(), AppError> {
    for threshold in thresholds(used, limit) {
        let fresh = sqlx::query(
            "INSERT INTO usage_warnings (tenant_id, metric, period, threshold)
             SELECT s.tenant_id, $1, coalesce($3, s.current_period_start::date), $2 FROM subscriptions s
             ON CONFLICT DO NOTHING",
        )
        .bind(format!("{metric:?}"))
        .bind(threshold)
        .bind(month)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            > 0;
        if !fresh {
            continue;
        }
        let body = tf(
            locale,
            if threshold >= 100 {
                "billing.warning.full"
            } else {
                "billing.warning.near"
            },
            &[
                ("what", t(locale, metric.label_key())),
                ("used", metric.amount(locale, used)),
                ("limit", metric.amount(locale, limit)),
            ],
        );
        sqlx::query(
            "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
             SELECT tenant_id, gen_random_uuid(), user_id, 'USAGE_WARNING', $1, '/billing'
               FROM memberships WHERE role IN ('OWNER', 'ADMIN') AND status = 'ACTIVE'",
        )
        .bind(body)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_reached_at_eighty_and_a_hundred_percent() {
        assert_eq!(thresholds(399, 500), Vec::<i32>::new());
        assert_eq!(thresholds(400, 500), vec![80]);
        assert_eq!(thresholds(499, 500), vec![80]);
        assert_eq!(thresholds(500, 500), vec![80, 100]);
        // 80 % of 3 is 2.4: the third of three is the first to reach it.
        assert_eq!(thresholds(2, 3), Vec::<i32>::new());
        assert_eq!(thresholds(3, 3), vec![80, 100]);
        assert_eq!(thresholds(5, 0), Vec::<i32>::new());
    }
}
