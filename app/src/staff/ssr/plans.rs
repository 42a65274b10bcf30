//! The plan catalogue: limits, features and list prices (`plans.manage`).

use super::*;

pub async fn list(env: &Env) -> Result<Catalogue, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let pool = env.db().pool();
    let rows = sqlx::query(
        "SELECT p.id, p.name, p.seats_limit, p.records_limit, p.wa_numbers_limit, p.mailboxes_limit,
                p.wa_messages_limit, p.email_messages_limit, p.domains_limit, p.storage_limit_mb, p.api_per_minute, p.api_per_hour,
                ARRAY(SELECT jsonb_array_elements_text(p.features)) AS features,
                coalesce((SELECT jsonb_agg(jsonb_build_object('cycle', pp.cycle, 'currency', pp.currency,
                                                              'amount_minor', pp.amount_minor)
                                           ORDER BY pp.currency, pp.cycle)
                            FROM plan_prices pp WHERE pp.plan_id = p.id), '[]') AS prices
           FROM plans p ORDER BY p.sort_order",
    )
    .fetch_all(pool)
    .await?;
    // How many workspaces each plan has, through the console's own listing.
    let on_plan: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT plan_id FROM staff_tenants($1, '', 100000)")
            .bind(actor)
            .fetch_all(pool)
            .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let prices: sqlx::types::Json<Vec<ListPrice>> = r.try_get("prices")?;
        plans.push(CataloguePlan {
            workspaces: on_plan
                .iter()
                .filter(|(p,)| p.as_deref() == Some(id.as_str()))
                .count() as i64,
            id,
            name: r.try_get("name")?,
            seats: r.try_get("seats_limit")?,
            records: r.try_get("records_limit")?,
            wa_numbers: r.try_get("wa_numbers_limit")?,
            mailboxes: r.try_get("mailboxes_limit")?,
            wa_messages: r.try_get("wa_messages_limit")?,
            email_messages: r.try_get("email_messages_limit")?,
            domains: r.try_get("domains_limit")?,
            storage_mb: r.try_get("storage_limit_mb")?,
            api_per_minute: r.try_get("api_per_minute")?,
            api_per_hour: r.try_get("api_per_hour")?,
            features: r.try_get("features")?,
            prices: prices.0,
        });
    }
    let mut currencies: Vec<String> = plans
        .iter()
        .flat_map(|p| p.prices.iter().map(|x| x.currency.clone()))
        .collect();
    currencies.sort();
    currencies.dedup();
    Ok(Catalogue {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::PlansManage),
        currencies,
        plans,
    })
}

/// The largest limit the editor takes: beyond it, leave the limit empty (unlimited).
const MAX_LIMIT: i32 = 100_000_000;

/// A limit as typed: empty is unlimited unless `required`; otherwise a whole number
/// from `min` up.
fn limit(
    env: &Env,
    field: &str,
    input: &str,
    min: i32,
    required: bool,
) -> Result<Option<i32>, AppError> {
    let input = input.trim();
    if input.is_empty() {
        return if required {
            Err(AppError::field(field, env.t("validation.required")))
        } else {
            Ok(None)
        };
    }
    crate::l10n::read_number(env.locale(), input)
        .filter(|(_, fraction)| fraction.is_empty())
        .and_then(|(whole, _)| whole.parse::<i32>().ok())
        .filter(|n| (min..=MAX_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            AppError::field(
                field,
                tf(
                    env.locale(),
                    "staff.limit_range",
                    &[("min", min.to_string()), ("max", MAX_LIMIT.to_string())],
                ),
            )
        })
}

pub async fn save_plan(env: &Env, draft: &PlanDraft) -> Result<(), AppError> {
    use crate::billing::model::Feature;
    let actor = staff(env, StaffPermission::PlansManage).await?;
    let seats = limit(env, "seats", &draft.seats, 1, true)?.unwrap_or(1);
    let records = limit(env, "records", &draft.records, 1, false)?;
    let wa_numbers = limit(env, "wa_numbers", &draft.wa_numbers, 0, false)?;
    let mailboxes = limit(env, "mailboxes", &draft.mailboxes, 0, false)?;
    let wa_messages = limit(env, "wa_messages", &draft.wa_messages, 0, false)?;
    let email_messages = limit(env, "email_messages", &draft.email_messages, 0, false)?;
    let domains = limit(env, "domains", &draft.domains, 0, false)?;
    let storage_mb = limit(env, "storage_mb", &draft.storage_mb, 1, false)?;
    let api = limit(env, "api_per_minute", &draft.api_per_minute, 1, true)?.unwrap_or(1);
    let api_hourly = limit(env, "api_per_hour", &draft.api_per_hour, 1, false)?;
    let mut features = Vec::new();
    for key in &draft.features {
        let feature = Feature::parse(key)
            .ok_or_else(|| AppError::field("features", env.t("staff.unknown_feature")))?;
        if !features.contains(&feature.key()) {
            features.push(feature.key());
        }
    }
    let mut prices = Vec::new();
    for p in &draft.prices {
        let field = format!("price-{}-{}", p.cycle, p.currency);
        if !matches!(p.cycle.as_str(), "MONTHLY" | "YEARLY")
            || p.currency.len() != 3
            || !p.currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(AppError::field(&field, env.t("staff.unknown_price")));
        }
        if p.amount.trim().is_empty() {
            continue;
        }
        let minor = crate::crm::money::parse(env.locale(), &p.amount, &p.currency)
            .filter(|m| *m <= 1_000_000_000_000)
            .ok_or_else(|| {
                AppError::field(
                    &field,
                    tf(
                        env.locale(),
                        "staff.bad_price",
                        &[("currency", p.currency.clone())],
                    ),
                )
            })?;
        prices.push(serde_json::json!({
            "cycle": p.cycle, "currency": p.currency, "amount_minor": minor,
        }));
    }
    let reason = reason_of(env, &draft.reason, false)?;
    let found: bool = sqlx::query_scalar(
        "SELECT staff_save_plan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(actor)
    .bind(&draft.id)
    .bind(seats)
    .bind(records)
    .bind(wa_numbers)
    .bind(mailboxes)
    .bind(wa_messages)
    .bind(email_messages)
    .bind(domains)
    .bind(storage_mb)
    .bind(api)
    .bind(api_hourly)
    .bind(serde_json::json!(features))
    .bind(serde_json::Value::Array(prices))
    .bind(&reason)
    .bind(&env.ctx.ip)
    .fetch_one(env.db().pool())
    .await?;
    if !found {
        return Err(AppError::NotFound(env.t("staff.no_plan")));
    }
    Ok(())
}
