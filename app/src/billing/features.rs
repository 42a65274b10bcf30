//! What a workspace may use: its plan's features, as the feature flags let them out.
//!
//! A feature is available when a per-workspace override says so (staff grant or
//! withdraw it, until it expires), or else when the plan includes it and, if a global
//! flag of the same key exists, the flag is on and the workspace falls inside its
//! rollout. So a plan feature can be rolled out gradually, or switched off everywhere,
//! without a deploy.

use crate::db::Tx;
use crate::error::AppError;
use crate::flags::rollout_bucket;
use crate::i18n::{tf, Locale};
use crate::request::Env;
use uuid::Uuid;

pub use super::model::Feature;

/// The decision, from what the database holds.
pub fn available(
    feature: Feature,
    tenant_id: Uuid,
    plan_has: bool,
    overridden: Option<bool>,
    flag: Option<(bool, i32)>,
) -> bool {
    match overridden {
        Some(on) => on,
        None if !plan_has => false,
        None => flag.is_none_or(|(enabled, percentage)| {
            enabled && i32::from(rollout_bucket(feature.key(), tenant_id)) < percentage
        }),
    }
}

/// Whether the transaction's workspace may use `feature`.
pub async fn has(tx: &mut Tx, tenant_id: Uuid, feature: Feature) -> Result<bool, AppError> {
    let (plan_has, overridden, flag_on, rollout): (bool, Option<bool>, Option<bool>, Option<i32>) =
        sqlx::query_as(
            "SELECT coalesce((SELECT p.features ? $1 FROM subscriptions s JOIN plans p ON p.id = s.plan_id), false),
                    (SELECT o.enabled FROM tenant_features o
                      WHERE o.feature_key = $1 AND (o.expires_at IS NULL OR o.expires_at > now())),
                    f.enabled, f.rollout_percentage
               FROM (SELECT 1) one LEFT JOIN feature_flags f ON f.key = $1",
        )
        .bind(feature.key())
        .fetch_one(&mut **tx)
        .await?;
    let flag = flag_on.zip(rollout);
    Ok(available(feature, tenant_id, plan_has, overridden, flag))
}

/// Why a workspace cannot use `feature`, and where to get it.
pub fn refusal(locale: Locale, feature: Feature, plan: &str) -> String {
    tf(
        locale,
        "billing.error.feature",
        &[
            ("feature", crate::i18n::t(locale, feature.label_key())),
            ("plan", plan.to_string()),
        ],
    )
}

/// Refuses, with the reason, when the transaction's workspace may not use `feature`.
pub async fn require(
    tx: &mut Tx,
    tenant_id: Uuid,
    locale: Locale,
    feature: Feature,
) -> Result<(), AppError> {
    if has(tx, tenant_id, feature).await? {
        return Ok(());
    }
    let plan: String = sqlx::query_scalar(
        "SELECT coalesce(p.names->>$1, p.name) FROM subscriptions s JOIN plans p ON p.id = s.plan_id",
    )
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default();
    Err(AppError::Forbidden(refusal(locale, feature, &plan)))
}

/// For a page that offers `key`: `None` when the member's workspace may use it, else
/// why not and where to get it.
pub async fn refusal_for(env: &Env, key: &str) -> Result<Option<String>, AppError> {
    let feature = Feature::parse(key)
        .ok_or_else(|| AppError::field("feature", env.t("billing.error.unknown_feature")))?;
    let p = env.signed_in()?;
    let mut tx = env.tx(p).await?;
    let answer = match require(&mut tx, p.tenant_id, env.locale(), feature).await {
        Ok(()) => None,
        Err(AppError::Forbidden(why)) => Some(why),
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_wins_then_the_plan_then_the_flag() {
        let t = Uuid::from_u128(7);
        let api = Feature::Api;
        assert!(available(api, t, false, Some(true), Some((false, 0))));
        assert!(!available(api, t, true, Some(false), None));
        assert!(!available(api, t, false, None, None));
        assert!(available(api, t, true, None, None));
        assert!(!available(api, t, true, None, Some((false, 100))));
        assert!(available(api, t, true, None, Some((true, 100))));
        assert!(!available(api, t, true, None, Some((true, 0))));
        let bucket = i32::from(rollout_bucket("api", t));
        assert!(available(api, t, true, None, Some((true, bucket + 1))));
        assert!(!available(api, t, true, None, Some((true, bucket))));
    }
}
