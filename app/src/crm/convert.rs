//! Deals made from a record's page. A contact's or company's deal is linked to it. A
//! lead converts: it gets a contact (its own, one with the same email, or a new one
//! made from it), the deal takes its name, contact, company and owner in the pipeline
//! and stage chosen (the first open stage of the first pipeline by default), its
//! timeline entries appear on the deal's and the contact's timelines too, and its
//! status becomes CONVERTED (its journey too, where the journey allows it). A lead
//! converts once: asking again answers the deal it already has.

// A form's fields are a server function's arguments, one each.
#![allow(clippy::too_many_arguments)]

use crate::crm::model::Entity;
use crate::error::AppError;
use crate::ui::{field_error, form_error, tr, Alert, Field, Submit};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// A pipeline a new deal can start in, with its open stages in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineChoice {
    pub id: Uuid,
    pub name: String,
    pub stages: Vec<(Uuid, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DealChoices {
    pub pipelines: Vec<PipelineChoice>,
    /// The workspace's currency, the form's default.
    pub currency: String,
}

#[server(input = Json)]
pub async fn get_deal_choices() -> Result<DealChoices, AppError> {
    respond(async { ssr::choices(&env()?).await }).await
}

/// What the form says about the deal; every field may be left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DealChoice {
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub name: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub expected_close_on: Option<String>,
}

/// The deal for a lead: made now, or the open one it already has.
#[server]
pub async fn convert_lead(
    lead_id: Uuid,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    name: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    expected_close_on: Option<String>,
) -> Result<Uuid, AppError> {
    let choice = DealChoice {
        pipeline_id,
        stage_id,
        name,
        amount,
        currency,
        expected_close_on,
    };
    respond(async { ssr::convert(&env()?, lead_id, &choice).await }).await
}

/// A deal with a contact or company, from its page.
#[server]
pub async fn create_deal_for(
    entity: String,
    id: Uuid,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    name: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    expected_close_on: Option<String>,
) -> Result<Uuid, AppError> {
    let choice = DealChoice {
        pipeline_id,
        stage_id,
        name,
        amount,
        currency,
        expected_close_on,
    };
    respond(async {
        let env = env()?;
        let entity =
            Entity::parse(&entity).ok_or_else(|| AppError::NotFound(env.t("records.not_found")))?;
        ssr::create_for(&env, entity, id, &choice).await
    })
    .await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::{DealChoice, DealChoices, PipelineChoice};
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crm::access::Scope;
    use crate::crm::activity;
    use crate::crm::board::model::NewDeal;
    use crate::crm::board::ssr::DealFields;
    use crate::crm::model::{ActivityKind, Entity};
    use crate::crm::records::model::LeadStatus;
    use crate::db::{new_id, Tx};
    use crate::developers::deliver;
    use crate::error::AppError;
    use crate::request::Env;
    use sqlx::Row;
    use uuid::Uuid;

    #[derive(sqlx::FromRow)]
    struct Lead {
        name: String,
        status: LeadStatus,
        owner_id: Option<Uuid>,
        contact_id: Option<Uuid>,
        company_id: Option<Uuid>,
        email: Option<String>,
        phone_e164: Option<String>,
    }

    pub async fn choices(env: &Env) -> Result<DealChoices, AppError> {
        let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let rows = sqlx::query(
            "SELECT p.id, p.name, s.id AS stage_id, s.name AS stage_name
               FROM pipelines p JOIN stages s ON s.pipeline_id = p.id AND s.kind = 'OPEN'
              ORDER BY p.position, p.created_at, p.id, s.position",
        )
        .fetch_all(&mut *tx)
        .await?;
        let currency = workspace_currency(&mut tx).await?;
        tx.commit().await?;
        let mut pipelines: Vec<PipelineChoice> = Vec::new();
        for r in &rows {
            let id: Uuid = r.try_get("id")?;
            if pipelines.last().map(|p| p.id) != Some(id) {
                pipelines.push(PipelineChoice {
                    id,
                    name: r.try_get("name")?,
                    stages: Vec::new(),
                });
            }
            if let Some(p) = pipelines.last_mut() {
                p.stages
                    .push((r.try_get("stage_id")?, r.try_get("stage_name")?));
            }
        }
        Ok(DealChoices {
            pipelines,
            currency,
        })
    }

    async fn workspace_currency(tx: &mut Tx) -> Result<String, AppError> {
        Ok(
            sqlx::query_scalar(
                "SELECT coalesce((SELECT currency::text FROM subscriptions), 'USD')",
            )
            .fetch_one(&mut **tx)
            .await?,
        )
    }

    /// The pipeline and open stage a choice names, each defaulting to the first; a
    /// stage must be an open one of that pipeline.
    async fn place(
        env: &Env,
        tx: &mut Tx,
        choice: &DealChoice,
    ) -> Result<(Uuid, Uuid, i32), AppError> {
        let id = |text: &Option<String>, field: &'static str, key: &str| match text
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse::<Uuid>()
                .map(Some)
                .map_err(|_| AppError::field(field, env.t(key))),
        };
        let pipeline = id(
            &choice.pipeline_id,
            "pipeline_id",
            "records.convert_no_pipeline",
        )?;
        let stage = id(&choice.stage_id, "stage_id", "board.stage_not_in_pipeline")?;
        let found: Option<(Uuid, Uuid, i32)> = sqlx::query_as(
            "SELECT s.pipeline_id, s.id, s.probability FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
              WHERE s.kind = 'OPEN' AND ($1::uuid IS NULL OR p.id = $1) AND ($2::uuid IS NULL OR s.id = $2)
              ORDER BY p.position, p.created_at, s.position LIMIT 1",
        )
        .bind(pipeline)
        .bind(stage)
        .fetch_optional(&mut **tx)
        .await?;
        found.ok_or_else(|| match (pipeline, stage) {
            (_, Some(_)) => AppError::field("stage_id", env.t("board.stage_not_in_pipeline")),
            _ => AppError::field("pipeline_id", env.t("records.convert_no_pipeline")),
        })
    }

    pub async fn create_for(
        env: &Env,
        entity: Entity,
        id: Uuid,
        choice: &DealChoice,
    ) -> Result<Uuid, AppError> {
        let not_found = || AppError::NotFound(env.t("records.not_found"));
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let scope = Scope::load(&mut tx, p).await?;
        let (owner, contact, company): (Option<Uuid>, Option<Uuid>, Option<Uuid>) = match entity {
            Entity::Contact => {
                sqlx::query_as("SELECT owner_id, id, company_id FROM contacts WHERE id = $1")
            }
            Entity::Company => {
                sqlx::query_as("SELECT owner_id, NULL::uuid, id FROM companies WHERE id = $1")
            }
            // A lead converts; a deal's deal is the deal.
            Entity::Lead | Entity::Deal => return Err(not_found()),
        }
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(not_found)?;
        if !scope.allows(owner) {
            return Err(not_found());
        }
        let (pipeline, stage, _) = place(env, &mut tx, choice).await?;
        let currency = match choice.currency.as_deref() {
            Some(c) if !c.trim().is_empty() => c.to_string(),
            _ => workspace_currency(&mut tx).await?,
        };
        tx.commit().await?;
        let card = crate::crm::board::ssr::create_deal(
            env,
            &NewDeal {
                pipeline_id: pipeline,
                stage_id: Some(stage),
                name: choice.name.clone().unwrap_or_default(),
                amount: choice.amount.clone().unwrap_or_default(),
                currency,
                owner_id: None,
                expected_close_on: choice.expected_close_on.clone(),
                contact_id: contact,
                company_id: company,
            },
        )
        .await?;
        Ok(card.id)
    }

    /// The lead's contact: its own, else the workspace's contact with the lead's email,
    /// else one made now from the lead. The lead is linked to it.
    async fn contact_for(
        tx: &mut Tx,
        p: &crate::request::Principal,
        lead_id: Uuid,
        lead: &Lead,
    ) -> Result<(Uuid, bool), AppError> {
        if let Some(c) = lead.contact_id {
            return Ok((c, false));
        }
        let existing: Option<Uuid> = match &lead.email {
            Some(email) => {
                sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1::citext")
                    .bind(email)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            None => None,
        };
        let (contact, made) = match existing {
            Some(c) => (c, false),
            None => {
                let c = new_id();
                sqlx::query(
                    "INSERT INTO contacts (tenant_id, id, full_name, email, phone_e164, owner_id, company_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(p.tenant_id)
                .bind(c)
                .bind(&lead.name)
                .bind(&lead.email)
                .bind(&lead.phone_e164)
                .bind(lead.owner_id)
                .bind(lead.company_id)
                .execute(&mut **tx)
                .await?;
                activity::log(
                    tx,
                    p,
                    Entity::Contact,
                    c,
                    ActivityKind::Created,
                    serde_json::json!({ "from_lead": lead_id }),
                )
                .await?;
                (c, true)
            }
        };
        sqlx::query("UPDATE leads SET contact_id = $2, updated_at = now() WHERE id = $1")
            .bind(lead_id)
            .bind(contact)
            .execute(&mut **tx)
            .await?;
        Ok((contact, made))
    }

    pub async fn convert(env: &Env, lead_id: Uuid, choice: &DealChoice) -> Result<Uuid, AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let not_found = || AppError::NotFound(env.t("records.not_found"));
        let scope = Scope::load(&mut tx, p).await?;
        // Locked, so two clicks at once make one deal.
        let lead: Lead = sqlx::query_as(
            "SELECT name, status, owner_id, contact_id, company_id, email::text AS email, phone_e164
               FROM leads WHERE id = $1 FOR UPDATE",
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
        let (pipeline, stage, probability) = place(env, &mut tx, choice).await?;
        let currency = match choice.currency.as_deref() {
            Some(c) if !c.trim().is_empty() => c.to_string(),
            _ => workspace_currency(&mut tx).await?,
        };
        let name = match choice.name.as_deref() {
            Some(n) if !n.trim().is_empty() => n.to_string(),
            _ => lead.name.clone(),
        };
        let fields = DealFields::read(
            env,
            &name,
            choice.amount.as_deref().unwrap_or(""),
            &currency,
            choice.expected_close_on.as_deref(),
        )?;
        let (contact, contact_made) = contact_for(&mut tx, p, lead_id, &lead).await?;
        let deal = new_id();
        sqlx::query(
            "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, amount_minor, currency, probability,
                                expected_close_on, owner_id, contact_id, company_id, lead_id, position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                     coalesce((SELECT min(position) FROM deals WHERE stage_id = $4), 0) - 1024)",
        )
        .bind(p.tenant_id)
        .bind(deal)
        .bind(pipeline)
        .bind(stage)
        .bind(&fields.name)
        .bind(fields.amount)
        .bind(&fields.currency)
        .bind(probability)
        .bind(fields.close_on)
        .bind(lead.owner_id.unwrap_or(p.user_id))
        .bind(contact)
        .bind(lead.company_id)
        .bind(lead_id)
        .execute(&mut *tx)
        .await?;
        // The lead's history shows on the deal and the contact too: the entries are
        // the lead's still, now also linked to them.
        sqlx::query(
            "UPDATE activities SET deal_id = coalesce(deal_id, $2), contact_id = coalesce(contact_id, $3)
              WHERE lead_id = $1 AND (deal_id IS NULL OR contact_id IS NULL)",
        )
        .bind(lead_id)
        .bind(deal)
        .bind(contact)
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
            ActivityKind::Created,
            serde_json::json!({ "from_lead": lead_id }),
        )
        .await?;
        if lead.status != LeadStatus::Converted {
            let data =
                serde_json::json!({ "from": lead.status, "to": "CONVERTED", "deal_id": deal });
            activity::log(
                &mut tx,
                p,
                Entity::Lead,
                lead_id,
                ActivityKind::StatusChange,
                data,
            )
            .await?;
        }
        if contact_made {
            deliver::record_changed(&mut tx, p.tenant_id, Entity::Contact, &[contact], "created")
                .await?;
        }
        deliver::record_changed(&mut tx, p.tenant_id, Entity::Deal, &[deal], "created").await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("lead.converted", "leads", Some(lead_id)).after(
                serde_json::json!({ "deal_id": deal, "contact_id": contact, "contact_created": contact_made }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(deal)
    }
}

/// "Convert to deal" on a lead's page, "New deal" on a contact's or company's: a
/// dialog for the pipeline, stage, name, amount and expected close. The new deal opens.
#[component]
pub fn DealButton(entity: Entity, id: Uuid, name: String) -> impl IntoView {
    let open = RwSignal::new(false);
    let label = if entity == Entity::Lead {
        tr("records.convert")
    } else {
        tr("records.new_deal")
    };
    view! {
        <button type="button" class="btn btn-primary" data-testid="deal-from-record" aria-haspopup="dialog"
            on:click=move |_| open.set(true)>{label}</button>
        {move || open.get().then(|| view! {
            <DealDialog entity id name=name.clone() on_close=move || open.set(false)/>
        })}
    }
}

const DEAL_FIELDS: [&str; 6] = [
    "pipeline_id",
    "stage_id",
    "name",
    "amount",
    "currency",
    "expected_close_on",
];

#[component]
fn DealDialog(
    entity: Entity,
    id: Uuid,
    name: String,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let choices = Resource::new(|| (), |_| get_deal_choices());
    let convert = ServerAction::<ConvertLead>::new();
    let create = ServerAction::<CreateDealFor>::new();
    let value = Signal::derive(move || {
        if entity == Entity::Lead {
            convert.value().get()
        } else {
            create.value().get()
        }
    });
    let pending = Signal::derive(move || convert.pending().get() || create.pending().get());
    Effect::new(move || {
        if let Some(Ok(deal)) = value.get() {
            crate::ui::hard_redirect(&format!("/deals/{deal}"));
        }
    });
    let pipeline = RwSignal::new(None::<Uuid>);
    // Focus moves into the dialog, so Escape and Tab work from the start.
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move || {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    let title = if entity == Entity::Lead {
        tr("records.convert")
    } else {
        tr("records.new_deal")
    };
    let form = move |choices: DealChoices| {
        let first = choices.pipelines.first().map(|p| p.id);
        let pipelines = choices.pipelines.clone();
        let stages = move || {
            let chosen = pipeline.get().or(first);
            pipelines
                .iter()
                .find(|p| Some(p.id) == chosen)
                .map(|p| p.stages.clone())
                .unwrap_or_default()
        };
        let inner = view! {
            <input type="hidden" name="id" value=id.to_string()/>
            <input type="hidden" name="lead_id" value=id.to_string()/>
            <input type="hidden" name="entity" value=entity.code()/>
            <div class="field">
                <label for="f-pipeline_id" class="field-label">{tr("board.pipeline")}</label>
                <select id="f-pipeline_id" name="pipeline_id" class="input"
                    on:change=move |ev| pipeline.set(event_target_value(&ev).parse().ok())>
                    {choices.pipelines.iter().map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> }).collect_view()}
                </select>
                {move || field_error(value, "pipeline_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="f-stage_id" class="field-label">{tr("board.stage")}</label>
                <select id="f-stage_id" name="stage_id" class="input">
                    {move || stages().into_iter().map(|(sid, sname)| view! { <option value=sid.to_string()>{sname}</option> }).collect_view()}
                </select>
                {move || field_error(value, "stage_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <Field label=tr("board.deal_name") name="name" value=name.clone() required=true error=field_error(value, "name")/>
            <div class="grid grid-cols-2 gap-2">
                <Field label=tr("board.amount") name="amount" error=field_error(value, "amount") hint=tr("board.amount_hint")/>
                <Field label=tr("board.currency") name="currency" value=choices.currency.clone() error=field_error(value, "currency")/>
            </div>
            <Field label=tr("board.expected_close") name="expected_close_on" kind="date" error=field_error(value, "expected_close_on")/>
            <Alert message=form_error(value, &DEAL_FIELDS)/>
            <div class="flex justify-end gap-2 mt-3">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close()>{tr("common.cancel")}</button>
                <Submit label=tr("board.create_deal") pending=pending/>
            </div>
        };
        if entity == Entity::Lead {
            view! { <ActionForm action=convert attr:class="space-y-2" attr:novalidate="">{inner}</ActionForm> }.into_any()
        } else {
            view! { <ActionForm action=create attr:class="space-y-2" attr:novalidate="">{inner}</ActionForm> }.into_any()
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="deal-dialog-title" data-testid="deal-dialog"
                 tabindex="-1" node_ref=dialog
                 on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { on_close() }>
                <h2 id="deal-dialog-title" class="card-title">{title}</h2>
                <Suspense fallback=|| view! { <crate::ui::Skeleton lines=4/> }>
                    {move || {
                        let form = form.clone();
                        Suspend::new(async move {
                            match choices.await {
                                Ok(c) => form(c).into_any(),
                                Err(error) => view! { <crate::ui::LoadError error/> }.into_any(),
                            }
                        })
                    }}
                </Suspense>
            </div>
        </div>
    }
}
