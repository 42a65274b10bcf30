//! Converting a lead into a deal: the deal takes the lead's name, contact, company and
//! owner, starts in the first stage of the workspace's first pipeline, and is linked to
//! the lead, whose status becomes CONVERTED (its journey too, where the journey
//! allows it). A lead converts once: asking again
//! answers the deal it already has.

use crate::error::AppError;
use crate::ui::tr;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The deal for a lead: made now, or the open one it already has.
#[server]
pub async fn convert_lead(lead_id: Uuid) -> Result<Uuid, AppError> {
    respond(async { ssr::convert(&env()?, lead_id).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crm::access::Scope;
    use crate::crm::activity;
    use crate::crm::model::Entity;
    use crate::db::new_id;
    use crate::error::AppError;
    use crate::request::Env;
    use uuid::Uuid;

    #[derive(sqlx::FromRow)]
    struct Lead {
        name: String,
        status: String,
        owner_id: Option<Uuid>,
        contact_id: Option<Uuid>,
        company_id: Option<Uuid>,
    }

    pub async fn convert(env: &Env, lead_id: Uuid) -> Result<Uuid, AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let not_found = || AppError::NotFound(env.t("records.not_found"));
        let mut tx = env.tx(p).await?;
        let scope = Scope::load(&mut tx, p).await?;
        // Locked, so two clicks at once make one deal.
        let lead: Lead = sqlx::query_as(
            "SELECT name, status, owner_id, contact_id, company_id FROM leads WHERE id = $1 FOR UPDATE",
        )
        .bind(lead_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(not_found)?;
        if !scope.allows(lead.owner_id) {
            return Err(not_found());
        }
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM deals WHERE lead_id = $1 AND status = 'OPEN' ORDER BY created_at LIMIT 1",
        )
        .bind(lead_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(deal) = existing {
            tx.commit().await?;
            return Ok(deal);
        }
        let stage: Option<(Uuid, Uuid, i32)> = sqlx::query_as(
            "SELECT s.pipeline_id, s.id, s.probability FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
              WHERE s.kind = 'OPEN' ORDER BY p.position, p.created_at, s.position LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((pipeline, stage, probability)) = stage else {
            return Err(AppError::field(
                "lead_id",
                env.t("records.convert_no_pipeline"),
            ));
        };
        let currency: String = sqlx::query_scalar(
            "SELECT coalesce((SELECT currency::text FROM subscriptions), 'USD')",
        )
        .fetch_one(&mut *tx)
        .await?;
        let deal = new_id();
        sqlx::query(
            "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, currency, probability, owner_id,
                                contact_id, company_id, lead_id, position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                     coalesce((SELECT min(position) FROM deals WHERE stage_id = $4), 0) - 1024)",
        )
        .bind(p.tenant_id)
        .bind(deal)
        .bind(pipeline)
        .bind(stage)
        .bind(lead.name.chars().take(200).collect::<String>())
        .bind(currency)
        .bind(probability)
        .bind(lead.owner_id.unwrap_or(p.user_id))
        .bind(lead.contact_id)
        .bind(lead.company_id)
        .bind(lead_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE leads SET status = 'CONVERTED', updated_at = now() WHERE id = $1")
            .bind(lead_id)
            .execute(&mut *tx)
            .await?;
        crate::outreach::ssr::store::move_journey(
            &mut tx,
            p.tenant_id,
            lead_id,
            crate::outreach::journey::Journey::Converted,
            crate::outreach::journey::Cause::Manual,
            "converted to a deal",
            Some(p.user_id),
        )
        .await?;
        activity::log(
            &mut tx,
            p,
            Entity::Deal,
            deal,
            "CREATED",
            serde_json::json!({ "from_lead": lead_id }),
        )
        .await?;
        if lead.status != "CONVERTED" {
            let data =
                serde_json::json!({ "from": lead.status, "to": "CONVERTED", "deal_id": deal });
            activity::log(&mut tx, p, Entity::Lead, lead_id, "STATUS_CHANGE", data).await?;
        }
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("lead.converted", "leads", Some(lead_id))
                .after(serde_json::json!({ "deal_id": deal })),
        )
        .await?;
        tx.commit().await?;
        Ok(deal)
    }
}

/// "Convert to deal" on a lead's page: makes (or finds) the deal and opens it.
#[component]
pub fn ConvertButton(lead_id: Uuid) -> impl IntoView {
    let convert = ServerAction::<ConvertLead>::new();
    Effect::new(move || {
        if let Some(Ok(deal)) = convert.value().get() {
            crate::ui::hard_redirect(&format!("/deals/{deal}"));
        }
    });
    view! {
        <button type="button" class="btn btn-primary" data-testid="convert-lead"
            disabled=move || convert.pending().get()
            on:click=move |_| { convert.dispatch(ConvertLead { lead_id }); }>
            {tr("records.convert")}
        </button>
        {move || convert.value().get().and_then(|r| r.err()).map(|e| view! {
            <p class="field-error" role="alert">{e.to_string()}</p>
        })}
    }
}
