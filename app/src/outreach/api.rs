// Form server functions take one argument per form field, as `ActionForm` sends them.
#![allow(clippy::too_many_arguments)]

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr::{dashboard, lead, manage, senders, sequences, steps, suppression, switch};
#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Checkboxes send "on" when ticked and nothing otherwise.
#[cfg(feature = "ssr")]
fn ticked(value: &Option<String>) -> bool {
    matches!(value.as_deref(), Some("on" | "true" | "1"))
}

#[server(input = Json)]
pub async fn list_templates() -> Result<Vec<TemplateSummary>, AppError> {
    respond(async { manage::list_templates(&env()?, false).await }).await
}

#[server(input = Json)]
pub async fn list_archived_templates() -> Result<Vec<TemplateSummary>, AppError> {
    respond(async { manage::list_templates(&env()?, true).await }).await
}

/// Archives a template (`archived`), or restores it.
#[server]
pub async fn set_template_archived(id: Uuid, archived: bool) -> Result<(), AppError> {
    respond(async { manage::set_template_archived(&env()?, id, archived).await }).await
}

#[server(input = Json)]
pub async fn get_template(id: Uuid) -> Result<TemplateDetail, AppError> {
    respond(async { manage::template_detail(&env()?, id).await }).await
}

/// Takes a file off its template.
#[server]
pub async fn remove_template_file(id: Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::files::remove_file(&env()?, id).await }).await
}

#[server]
pub async fn save_template(
    id: Option<String>,
    name: String,
    channel: String,
    locale: Option<String>,
    folder: Option<String>,
    tags: Option<String>,
    wa_template_name: Option<String>,
    approval_status: Option<String>,
    subject: Option<String>,
    body: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let env = env()?;
        let id = match id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => Some(
                id.parse()
                    .map_err(|_| AppError::NotFound(env.t("outreach.not_found")))?,
            ),
            None => None,
        };
        let input = manage::TemplateInput {
            name,
            channel,
            locale: locale.unwrap_or_default(),
            folder: folder.unwrap_or_default(),
            tags: tags.unwrap_or_default(),
            wa_template_name: wa_template_name.unwrap_or_default(),
            approval_status: approval_status.unwrap_or_default(),
            subject: subject.unwrap_or_default(),
            body: body.unwrap_or_default(),
        };
        manage::save_template(&env, id, &input).await
    })
    .await
}

#[server]
pub async fn save_version(
    template_id: Uuid,
    version_id: Option<Uuid>,
    label: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    weight: String,
    active: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = manage::VersionInput {
            label: label.unwrap_or_default(),
            subject: subject.unwrap_or_default(),
            body: body.unwrap_or_default(),
            weight,
            active: ticked(&active),
        };
        manage::save_version(&env()?, template_id, version_id, &input).await
    })
    .await
}

#[server(input = Json)]
pub async fn preview_leads(query: String) -> Result<Vec<PreviewLead>, AppError> {
    respond(async { manage::preview_leads(&env()?, &query).await }).await
}

#[server(input = Json)]
pub async fn get_senders() -> Result<Senders, AppError> {
    respond(async { senders::senders(&env()?).await }).await
}

#[server]
pub async fn save_phone(
    id: Option<Uuid>,
    number: String,
    label: String,
    provider_phone_id: String,
    waba_id: Option<String>,
    access_token: Option<String>,
    priority: String,
    daily_quota: String,
    status: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = senders::PhoneInput {
            number,
            label,
            provider_phone_id,
            waba_id: waba_id.unwrap_or_default(),
            access_token: access_token.unwrap_or_default(),
            priority,
            daily_quota,
            status: status.unwrap_or_default(),
        };
        senders::save_phone(&env()?, id, &input).await
    })
    .await
}

/// Archives (`archived` true) or restores a sender; `kind` is "phone", "mailbox" or
/// "domain".
#[server(input = Json)]
pub async fn set_sender_archived(kind: String, id: Uuid, archived: bool) -> Result<(), AppError> {
    respond(async { senders::set_archived(&env()?, &kind, id, archived).await }).await
}

#[server]
pub async fn save_wa_limit(wa_daily_unique_limit: String) -> Result<(), AppError> {
    respond(async { senders::save_wa_limit(&env()?, &wa_daily_unique_limit).await }).await
}

#[server]
pub async fn add_domain(domain: String, dkim_selector: Option<String>) -> Result<Uuid, AppError> {
    respond(async {
        senders::save_domain(&env()?, &domain, dkim_selector.as_deref().unwrap_or("")).await
    })
    .await
}

#[server]
pub async fn verify_domain(id: Uuid) -> Result<DomainView, AppError> {
    respond(async { senders::verify_domain(&env()?, id).await }).await
}

#[server]
pub async fn save_mailbox(
    id: Option<Uuid>,
    domain_id: String,
    from_address: String,
    from_name: String,
    smtp_host: String,
    smtp_port: String,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    daily_cap: String,
    warmup_start: String,
    warmup_step: String,
    min_gap_seconds: String,
    status: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = senders::MailboxInput {
            domain_id,
            from_address,
            from_name,
            smtp_host,
            smtp_port,
            smtp_security: smtp_security.unwrap_or_default(),
            smtp_username: smtp_username.unwrap_or_default(),
            smtp_password: smtp_password.unwrap_or_default(),
            daily_cap,
            warmup_start,
            warmup_step,
            min_gap_seconds,
            status: status.unwrap_or_default(),
        };
        senders::save_mailbox(&env()?, id, &input).await
    })
    .await
}

#[server(input = Json)]
pub async fn list_sequences() -> Result<Vec<SequenceSummary>, AppError> {
    respond(async { sequences::list_sequences(&env()?).await }).await
}

#[server(input = Json)]
pub async fn get_sequence(id: Uuid) -> Result<SequenceDetail, AppError> {
    respond(async { sequences::sequence_detail(&env()?, id).await }).await
}

#[server]
pub async fn save_sequence(
    id: Option<Uuid>,
    name: String,
    timezone: Option<String>,
    business_hours: Option<String>,
    holidays: Option<String>,
    exit_on_reply: Option<String>,
    exit_on_bounce: Option<String>,
    max_attempts: Option<String>,
    starts_at: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = sequences::SequenceInput {
            name,
            timezone: timezone.unwrap_or_default(),
            business_hours: business_hours.unwrap_or_default(),
            holidays: holidays.unwrap_or_default(),
            exit_on_reply: ticked(&exit_on_reply),
            exit_on_bounce: ticked(&exit_on_bounce),
            max_attempts: max_attempts.unwrap_or_else(|| "3".into()),
            starts_at: starts_at.unwrap_or_default(),
        };
        sequences::save_sequence(&env()?, id, &input).await
    })
    .await
}

#[server]
pub async fn add_step(
    sequence_id: Uuid,
    #[server(default)] kind: Option<String>,
    delay_minutes: String,
    #[server(default)] template_id: Option<String>,
    fallback_template_id: Option<String>,
    skip_if_replied: Option<String>,
    skip_if_opened: Option<String>,
    subject_override: Option<String>,
    from_name: Option<String>,
    #[server(default)] mailbox_id: Option<String>,
    #[server(default)] wait_until: Option<String>,
    #[server(default)] condition: Option<String>,
    #[server(default)] condition_field: Option<String>,
    #[server(default)] condition_value: Option<String>,
    #[server(default)] then_go: Option<String>,
    #[server(default)] else_go: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = steps::StepInput {
            kind: kind.unwrap_or_default(),
            delay_minutes,
            template_id: template_id.unwrap_or_default(),
            fallback_template_id: fallback_template_id.unwrap_or_default(),
            skip_if_replied: ticked(&skip_if_replied),
            skip_if_opened: ticked(&skip_if_opened),
            subject_override: subject_override.unwrap_or_default(),
            from_name: from_name.unwrap_or_default(),
            mailbox_id: mailbox_id.unwrap_or_default(),
            wait_until: wait_until.unwrap_or_default(),
            condition: condition.unwrap_or_default(),
            condition_field: condition_field.unwrap_or_default(),
            condition_value: condition_value.unwrap_or_default(),
            then_go: then_go.unwrap_or_default(),
            else_go: else_go.unwrap_or_default(),
        };
        steps::add_step(&env()?, sequence_id, &input).await
    })
    .await
}

/// Changes a step's fields, with the checks of adding one (DECISIONS §47 for the
/// enrolments waiting for it).
#[server]
pub async fn update_step(
    step_id: Uuid,
    #[server(default)] kind: Option<String>,
    delay_minutes: String,
    #[server(default)] template_id: Option<String>,
    fallback_template_id: Option<String>,
    skip_if_replied: Option<String>,
    skip_if_opened: Option<String>,
    subject_override: Option<String>,
    from_name: Option<String>,
    #[server(default)] mailbox_id: Option<String>,
    #[server(default)] wait_until: Option<String>,
    #[server(default)] condition: Option<String>,
    #[server(default)] condition_field: Option<String>,
    #[server(default)] condition_value: Option<String>,
    #[server(default)] then_go: Option<String>,
    #[server(default)] else_go: Option<String>,
) -> Result<(), AppError> {
    respond(async {
        let input = steps::StepInput {
            kind: kind.unwrap_or_default(),
            delay_minutes,
            template_id: template_id.unwrap_or_default(),
            fallback_template_id: fallback_template_id.unwrap_or_default(),
            skip_if_replied: ticked(&skip_if_replied),
            skip_if_opened: ticked(&skip_if_opened),
            subject_override: subject_override.unwrap_or_default(),
            from_name: from_name.unwrap_or_default(),
            mailbox_id: mailbox_id.unwrap_or_default(),
            wait_until: wait_until.unwrap_or_default(),
            condition: condition.unwrap_or_default(),
            condition_field: condition_field.unwrap_or_default(),
            condition_value: condition_value.unwrap_or_default(),
            then_go: then_go.unwrap_or_default(),
            else_go: else_go.unwrap_or_default(),
        };
        steps::update_step(&env()?, step_id, &input).await
    })
    .await
}

/// The mailboxes a step may send from (not archived), by address.
#[server]
pub async fn mailbox_choices() -> Result<Vec<MailboxChoice>, AppError> {
    respond(async { steps::mailbox_choices(&env()?).await }).await
}

/// Puts a sequence's steps in the given order; `step_ids` must be exactly its steps.
#[server(input = Json)]
pub async fn reorder_steps(sequence_id: Uuid, step_ids: Vec<Uuid>) -> Result<(), AppError> {
    respond(async { steps::reorder(&env()?, sequence_id, &step_ids).await }).await
}

#[server]
pub async fn remove_step(step_id: Uuid) -> Result<(), AppError> {
    respond(async { steps::remove_step(&env()?, step_id).await }).await
}

#[server]
pub async fn set_sequence_status(id: Uuid, status: String) -> Result<(), AppError> {
    respond(async { sequences::set_sequence_status(&env()?, id, &status).await }).await
}

#[server]
pub async fn set_enrollment_status(id: Uuid, status: String) -> Result<(), AppError> {
    respond(async { sequences::set_enrollment_status(&env()?, id, &status).await }).await
}

#[server(input = Json)]
pub async fn enrol(
    sequence_id: Uuid,
    list_id: Option<Uuid>,
    lead_ids: Vec<Uuid>,
) -> Result<EnrolReport, AppError> {
    respond(async { sequences::enrol(&env()?, sequence_id, list_id, &lead_ids).await }).await
}

#[server(input = Json)]
pub async fn get_lead_outreach(lead_id: Uuid) -> Result<LeadOutreach, AppError> {
    respond(async { lead::lead_outreach(&env()?, lead_id).await }).await
}

#[server]
pub async fn send_message(
    lead_id: Uuid,
    channel: String,
    template_id: Option<String>,
    subject: Option<String>,
    body: Option<String>,
) -> Result<Uuid, AppError> {
    respond(async {
        let input = lead::OneOff {
            channel,
            template_id: template_id.unwrap_or_default(),
            subject: subject.unwrap_or_default(),
            body: body.unwrap_or_default(),
        };
        lead::send_one_off(&env()?, lead_id, &input).await
    })
    .await
}

#[server]
pub async fn move_journey(
    lead_id: Uuid,
    state: String,
    reason: Option<String>,
) -> Result<(), AppError> {
    respond(async {
        lead::move_journey(&env()?, lead_id, &state, reason.as_deref().unwrap_or("")).await
    })
    .await
}

#[server]
pub async fn set_takeover(lead_id: Uuid, on: bool) -> Result<(), AppError> {
    respond(async { lead::set_takeover(&env()?, lead_id, on).await }).await
}

#[server(input = Json)]
pub async fn get_outreach_dashboard() -> Result<OutreachDashboard, AppError> {
    respond(async { dashboard::dashboard(&env()?).await }).await
}

#[server(input = Json)]
pub async fn get_notifications() -> Result<Vec<NotificationView>, AppError> {
    respond(async { dashboard::notifications(&env()?).await }).await
}

#[server]
pub async fn mark_notifications_read() -> Result<(), AppError> {
    respond(async { dashboard::mark_read(&env()?).await }).await
}

/// Starts moving a number to another WhatsApp provider (DECISIONS §43); the worker
/// verifies the credential, holds the number's queued messages and swaps.
#[server]
pub async fn start_provider_switch(
    phone_id: Uuid,
    to_provider: String,
    credential: String,
) -> Result<Uuid, AppError> {
    respond(async { switch::start(&env()?, phone_id, &to_provider, &credential).await }).await
}

#[server(input = Json)]
pub async fn list_provider_switches(phone_id: Uuid) -> Result<Vec<ProviderSwitchView>, AppError> {
    respond(async { switch::history(&env()?, phone_id).await }).await
}

#[server(input = Json)]
pub async fn list_suppressions(
    query: String,
    after: Option<SuppressionCursor>,
) -> Result<SuppressionPage, AppError> {
    respond(async { suppression::list(&env()?, &query, after).await }).await
}

#[server]
pub async fn add_suppression(address: String, note: Option<String>) -> Result<Uuid, AppError> {
    respond(async { suppression::add(&env()?, &address, note.as_deref().unwrap_or("")).await })
        .await
}

/// Adds the addresses of a CSV file's text (read in the browser).
#[server(input = Json)]
pub async fn import_suppressions(text: String) -> Result<SuppressionImport, AppError> {
    respond(async { suppression::import(&env()?, &text).await }).await
}

#[server]
pub async fn lift_suppression(id: Uuid, reason: String) -> Result<(), AppError> {
    respond(async { suppression::lift(&env()?, id, &reason).await }).await
}
