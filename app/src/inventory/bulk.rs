//! Many units changed at once by a manager: a price change by a percentage, and
//! blocking or releasing for sale, over a selection (a project, a floor range, a type,
//! a status). The preview shows exactly what will change; applying it is one audited
//! transaction that writes every price to the history and refuses if the selection no
//! longer matches what was previewed.

use super::model::UnitStatus;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Rows the preview lists; the count and totals cover the whole selection.
pub const PREVIEW_ROWS: usize = 100;
/// The most units one change may touch.
pub const MAX_UNITS: i64 = 5_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkSelection {
    pub project_id: Option<Uuid>,
    pub min_floor: Option<i32>,
    pub max_floor: Option<i32>,
    pub type_code: Option<String>,
    pub status: Option<UnitStatus>,
}

/// What to do to the selection: a price change in percent (as typed, e.g. "3" or
/// "-2.5"), and/or `Blocked` or `Available`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkChange {
    pub percent: String,
    pub status: Option<UnitStatus>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkRow {
    pub id: Uuid,
    pub code: String,
    pub floor: Option<i32>,
    pub currency: String,
    pub price_before: i64,
    pub price_after: i64,
    pub status_before: UnitStatus,
    pub status_after: UnitStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkPreview {
    /// Units selected.
    pub selected: i64,
    /// Units whose price or status changes.
    pub changing: i64,
    pub rows: Vec<BulkRow>,
    /// Sums per currency, before and after.
    pub totals: Vec<(String, i64, i64)>,
    /// Names the changing units at their current versions: applying with it does
    /// nothing if any of them changed since (or it was applied already).
    pub token: String,
}

#[server(input = Json)]
pub async fn preview_bulk(
    selection: BulkSelection,
    change: BulkChange,
) -> Result<BulkPreview, AppError> {
    respond(async { ssr::run(&env()?, &selection, &change, None).await }).await
}

/// Applies the change if the units it changes are as the preview (`token`) saw them.
#[server(input = Json)]
pub async fn apply_bulk(
    selection: BulkSelection,
    change: BulkChange,
    token: String,
) -> Result<BulkPreview, AppError> {
    respond(async { ssr::run(&env()?, &selection, &change, Some(&token)).await }).await
}

/// The price after a change of `basis_points` hundredths of a percent, rounded to
/// the nearest minor unit.
pub fn changed_price(price: i64, basis_points: i64) -> i64 {
    let scaled = i128::from(price) * i128::from(10_000 + basis_points);
    let rounded = (scaled + 5_000 * scaled.signum()) / 10_000;
    i64::try_from(rounded.max(0)).unwrap_or(i64::MAX)
}

/// "3", "-2.5", "+1,25" as hundredths of a percent, between −90 % and +100 %.
pub fn parse_percent(text: &str) -> Option<i64> {
    let t = text.trim().trim_end_matches('%').trim().replace(',', ".");
    let value: f64 = t.parse().ok()?;
    let bp = (value * 100.0).round();
    (bp.is_finite() && (-9_000.0..=10_000.0).contains(&bp)).then_some(bp as i64)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::i18n::tf;
    use crate::request::Env;
    use sqlx::{Postgres, QueryBuilder};

    #[derive(sqlx::FromRow)]
    struct Selected {
        id: Uuid,
        code: String,
        floor: Option<i32>,
        currency: String,
        price_minor: i64,
        status: String,
        version: i32,
    }

    /// Previews (`expect` none) or applies the change.
    pub async fn run(
        env: &Env,
        selection: &BulkSelection,
        change: &BulkChange,
        expect: Option<&str>,
    ) -> Result<BulkPreview, AppError> {
        let p = env.require(Permission::InventoryManage)?;
        let project_id = selection
            .project_id
            .ok_or_else(|| AppError::field("project_id", env.t("inventory.upload.project")))?;
        if let (Some(a), Some(b)) = (selection.min_floor, selection.max_floor) {
            if a > b {
                return Err(AppError::field("max_floor", env.t("inventory.bulk.floors")));
            }
        }
        let basis_points = match change.percent.trim() {
            "" => 0,
            text => parse_percent(text)
                .ok_or_else(|| AppError::field("percent", env.t("inventory.bulk.percent")))?,
        };
        if !matches!(
            change.status,
            None | Some(UnitStatus::Blocked | UnitStatus::Available)
        ) {
            return Err(AppError::field(
                "new_status",
                env.t("inventory.bulk.status"),
            ));
        }
        if basis_points == 0 && change.status.is_none() {
            return Err(AppError::field("percent", env.t("inventory.bulk.nothing")));
        }
        let reason = change.reason.trim();
        if reason.chars().count() > 200 {
            return Err(AppError::field(
                "reason",
                env.t("inventory.error.reason_long"),
            ));
        }
        let mut tx = env.tx(p).await?;
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, code, floor, currency::text AS currency, price_minor, status, version FROM units WHERE project_id = ",
        );
        qb.push_bind(project_id);
        if let Some(f) = selection.min_floor {
            qb.push(" AND floor >= ").push_bind(f);
        }
        if let Some(f) = selection.max_floor {
            qb.push(" AND floor <= ").push_bind(f);
        }
        if let Some(t) = selection.type_code.as_deref().filter(|t| !t.is_empty()) {
            qb.push(" AND type_code = ").push_bind(t.to_string());
        }
        if let Some(s) = selection.status {
            qb.push(" AND status = ").push_bind(s.code());
        }
        qb.push(" ORDER BY floor NULLS FIRST, code LIMIT ")
            .push_bind(MAX_UNITS + 1);
        // Applying locks the rows it read, so nothing changes between the count and
        // the writes.
        if expect.is_some() {
            qb.push(" FOR UPDATE");
        }
        let units: Vec<Selected> = qb.build_query_as().fetch_all(&mut *tx).await?;
        if units.len() as i64 > MAX_UNITS {
            return Err(AppError::field(
                "project_id",
                tf(
                    env.locale(),
                    "inventory.bulk.too_many",
                    &[("n", MAX_UNITS.to_string())],
                ),
            ));
        }
        let versions: std::collections::HashMap<Uuid, i32> =
            units.iter().map(|u| (u.id, u.version)).collect();
        let rows: Vec<BulkRow> = units
            .into_iter()
            .map(|u| {
                let status = UnitStatus::parse(&u.status).unwrap_or(UnitStatus::Blocked);
                // Sold units keep their price; only available and blocked units swap.
                let price_after = if status == UnitStatus::Sold {
                    u.price_minor
                } else {
                    changed_price(u.price_minor, basis_points)
                };
                let status_after = match (status, change.status) {
                    (UnitStatus::Available | UnitStatus::Blocked, Some(to)) => to,
                    _ => status,
                };
                BulkRow {
                    id: u.id,
                    code: u.code,
                    floor: u.floor,
                    currency: u.currency,
                    price_before: u.price_minor,
                    price_after,
                    status_before: status,
                    status_after,
                }
            })
            .collect();
        let selected = rows.len() as i64;
        let changed: Vec<&BulkRow> = rows
            .iter()
            .filter(|r| r.price_after != r.price_before || r.status_after != r.status_before)
            .collect();
        let changing = changed.len() as i64;
        let token = {
            use sha2::{Digest, Sha256};
            let mut hash = Sha256::new();
            for r in &changed {
                hash.update(r.id.as_bytes());
                hash.update(versions.get(&r.id).copied().unwrap_or(0).to_be_bytes());
                hash.update(r.price_after.to_be_bytes());
                hash.update(r.status_after.code().as_bytes());
            }
            hash.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let mut totals: Vec<(String, i64, i64)> = Vec::new();
        for r in &rows {
            match totals.iter_mut().find(|(c, _, _)| *c == r.currency) {
                Some(t) => {
                    t.1 += r.price_before;
                    t.2 += r.price_after;
                }
                None => totals.push((r.currency.clone(), r.price_before, r.price_after)),
            }
        }
        if let Some(expected) = expect {
            if expected != token {
                return Err(AppError::Conflict(tf(
                    env.locale(),
                    "inventory.bulk.moved",
                    &[("n", changing.to_string())],
                )));
            }
            let ids: Vec<Uuid> = changed.iter().map(|r| r.id).collect();
            let prices: Vec<i64> = changed.iter().map(|r| r.price_after).collect();
            let statuses: Vec<&str> = changed.iter().map(|r| r.status_after.code()).collect();
            sqlx::query(
                "UPDATE units u SET price_minor = c.price, status = c.status, version = u.version + 1, updated_at = now()
                   FROM unnest($1::uuid[], $2::int8[], $3::text[]) AS c(id, price, status)
                  WHERE u.id = c.id",
            )
            .bind(&ids)
            .bind(&prices)
            .bind(&statuses)
            .execute(&mut *tx)
            .await?;
            let repriced: Vec<&&BulkRow> = changed
                .iter()
                .filter(|r| r.price_after != r.price_before)
                .collect();
            sqlx::query(
                "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency, changed_by, reason)
                 SELECT $1, gen_random_uuid(), c.id, c.price, c.currency, $4, $5
                   FROM unnest($2::uuid[], $3::int8[], $6::text[]) AS c(id, price, currency)",
            )
            .bind(p.tenant_id)
            .bind(repriced.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(repriced.iter().map(|r| r.price_after).collect::<Vec<_>>())
            .bind(p.actor())
            .bind(Some(reason).filter(|r| !r.is_empty()))
            .bind(repriced.iter().map(|r| r.currency.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
            audit::by_member(
                &mut tx,
                &env.ctx,
                p,
                AuditEntry::new("units.bulk_changed", "projects", Some(project_id)).after(
                    serde_json::json!({
                        "units": ids, "basis_points": basis_points,
                        "status": change.status.map(UnitStatus::code), "reason": reason,
                        "selection": {
                            "min_floor": selection.min_floor, "max_floor": selection.max_floor,
                            "type_code": selection.type_code, "status": selection.status.map(UnitStatus::code),
                        },
                    }),
                ),
            )
            .await?;
        }
        tx.commit().await?;
        let rows = changed.into_iter().take(PREVIEW_ROWS).cloned().collect();
        Ok(BulkPreview {
            selected,
            changing,
            rows,
            totals,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_to_the_nearest_minor_unit() {
        assert_eq!(changed_price(435_000_000, 300), 448_050_000);
        assert_eq!(changed_price(999, 250), 1_024);
        assert_eq!(changed_price(1_000, -250), 975);
        assert_eq!(changed_price(1, -9_000), 0);
    }

    #[test]
    fn percentages_are_read_as_typed_within_bounds() {
        assert_eq!(parse_percent("3"), Some(300));
        assert_eq!(parse_percent("-2,5 %"), Some(-250));
        assert_eq!(parse_percent("+0.01"), Some(1));
        assert_eq!(parse_percent("-95"), None);
        assert_eq!(parse_percent("150"), None);
        assert_eq!(parse_percent("NaN"), None);
        assert_eq!(parse_percent("three"), None);
    }
}
