//! The API's objects beyond the CRM records: pipelines, activities, lists and their
//! members, messages, sequences, enrolments and unit holds. Tables whose columns are
//! named otherwise are read through a subquery that names them `created_at` and
//! `updated_at`, so the one list query (`objects::list`) orders and pages them all.

use super::objects::{
    expands, timestamps, ApiObject, Cursor, Deal, Lead, Member, Related, Stage, Unit,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

/// A sales pipeline with its stages, in board order.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: String,
    pub position: i32,
    #[sqlx(json)]
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiObject for Pipeline {
    const NAME: &'static str = "pipeline";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT p.tenant_id, p.id, p.name, p.position,
        coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'pipeline_id', s.pipeline_id,
            'name', s.name, 'position', s.position, 'kind', s.kind, 'probability', s.probability,
            'color', s.color) ORDER BY s.position) FROM stages s WHERE s.pipeline_id = p.id), '[]')
            AS stages,
        p.created_at, p.created_at AS updated_at FROM pipelines p) r";
    const FILTERS: &'static [&'static str] = &[];
    timestamps!();
}

/// A note, task, call or meeting on a record, or what happened to it (a stage change,
/// an assignment, a message): a record's timeline.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    pub id: Uuid,
    /// NOTE, TASK, CALL and MEETING are written by people; STAGE_CHANGE,
    /// STATUS_CHANGE, ASSIGNMENT, EMAIL, WHATSAPP, CREATED, LIST_ADD, LIST_REMOVE,
    /// IMPORTED and ENROLLED by the system.
    pub kind: String,
    pub lead_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    /// The member who wrote it; absent when an API key or the system did.
    pub actor_id: Option<Uuid>,
    /// A task's assignee.
    pub assignee_id: Option<Uuid>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Kind-specific facts: a call's `duration_minutes` and `outcome`, a stage change's
    /// stages.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub due_at: Option<DateTime<Utc>>,
    /// When a task was completed.
    pub done_at: Option<DateTime<Utc>>,
    /// A meeting's start and end.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// A meeting's attendees (member ids); empty for other kinds.
    pub attendee_ids: Vec<Uuid>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// With `expand=lead`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Box<Lead>>,
    /// With `expand=deal`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<Box<Deal>>,
}

impl ApiObject for Activity {
    const NAME: &'static str = "activity";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT a.tenant_id, a.id, a.kind, a.lead_id,
        a.contact_id, a.company_id, a.deal_id, a.actor_id, a.assignee_id, a.subject, a.body, a.data,
        a.due_at, a.done_at, a.starts_at, a.ends_at,
        (SELECT coalesce(array_agg(ma.user_id ORDER BY ma.user_id), '{}') FROM meeting_attendees ma WHERE ma.activity_id = a.id) AS attendee_ids,
        a.occurred_at AS created_at,
        coalesce(a.updated_at, a.occurred_at) AS updated_at FROM activities a) r";
    const FILTERS: &'static [&'static str] = &[
        "kind",
        "lead_id",
        "contact_id",
        "company_id",
        "deal_id",
        "assignee_id",
    ];
    timestamps!();
    expands! {
        "lead" => lead_id, lead, Lead;
        "deal" => deal_id, deal, Deal;
    }
}

/// A list of records of one kind: static (members added and removed) or smart (a
/// saved filter, evaluated when it is opened in the app).
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct List {
    pub id: Uuid,
    pub name: String,
    /// LEAD, CONTACT, COMPANY or DEAL.
    pub entity: String,
    /// STATIC or SMART.
    pub kind: String,
    pub owner_id: Option<Uuid>,
    /// Static lists: how many records are on it.
    pub members_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiObject for List {
    const NAME: &'static str = "list";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT l.tenant_id, l.id, l.name, l.entity,
        l.kind, l.owner_id,
        (SELECT count(*) FROM list_members m WHERE m.tenant_id = l.tenant_id AND m.list_id = l.id)
            AS members_count,
        l.created_at, coalesce(l.updated_at, l.created_at) AS updated_at FROM lists l) r";
    const FILTERS: &'static [&'static str] = &["entity", "kind", "owner_id"];
    timestamps!();
}

/// A record on a static list. `id` is the record's.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMember {
    /// The record's id: a lead, contact, company or deal as the list's `entity` says.
    pub id: Uuid,
    pub list_id: Uuid,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiObject for ListMember {
    const NAME: &'static str = "list_member";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT m.tenant_id, m.record_id AS id,
        m.list_id, m.added_at AS created_at, m.added_at AS updated_at FROM list_members m) r";
    const FILTERS: &'static [&'static str] = &["list_id"];
    timestamps!();
}

/// A WhatsApp or email message to or from a lead. Outgoing ones wait in the outbox
/// (QUEUED) until the dispatcher sends them.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// WHATSAPP or EMAIL.
    pub channel: String,
    /// OUT or IN.
    pub direction: String,
    /// QUEUED, SENDING, SENT, DELIVERED, READ, OPENED, CLICKED, REPLIED, BOUNCED,
    /// FAILED, or RECEIVED for an incoming one.
    pub status: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// The enrolment that sent it, for a sequence's step.
    pub enrollment_id: Option<Uuid>,
    /// Incoming: what the reply means (INTERESTED, NOT_INTERESTED, OUT_OF_OFFICE, …).
    pub intent: Option<String>,
    /// Incoming: −100 to 100.
    pub sentiment: Option<i16>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// With `expand=lead`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Box<Lead>>,
}

impl ApiObject for Message {
    const NAME: &'static str = "message";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT m.tenant_id, m.id, m.lead_id,
        m.channel, m.direction, m.status, m.to_address, m.from_address, m.subject, m.body,
        m.enrollment_id, m.intent, m.sentiment, m.sent_at, m.delivered_at, m.read_at,
        m.replied_at, m.failed_at, m.last_error, m.created_at,
        greatest(m.created_at, m.sent_at, m.delivered_at, m.read_at, m.opened_at, m.clicked_at,
                 m.replied_at, m.bounced_at, m.failed_at) AS updated_at FROM messages m) r";
    const FILTERS: &'static [&'static str] = &["lead_id", "channel", "direction", "status"];
    timestamps!();
    expands! {
        "lead" => lead_id, lead, Lead;
    }
}

/// One step of a sequence.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SequenceStep {
    pub id: Uuid,
    pub position: i32,
    /// Minutes after the step before (or the enrolment, for the first).
    pub delay_minutes: i32,
    /// SEND, WAIT_UNTIL or CONDITION.
    pub kind: String,
    /// A sending step's channel, WHATSAPP or EMAIL, and template.
    pub channel: Option<String>,
    pub template_id: Option<Uuid>,
    /// A wait's moment.
    pub wait_until: Option<DateTime<Utc>>,
    /// A condition: OPENED, CLICKED, REPLIED, JOURNEY_STATE or FIELD, with the field
    /// and value it compares.
    pub condition: Option<String>,
    pub condition_field: Option<String>,
    pub condition_value: Option<String>,
    /// Where a condition goes when it holds and when not: NEXT, END or STEP, with the
    /// step's id.
    pub then_go: String,
    pub then_step_id: Option<Uuid>,
    pub else_go: String,
    pub else_step_id: Option<Uuid>,
}

/// An outreach sequence: timed steps a lead goes through once enrolled.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub id: Uuid,
    pub name: String,
    /// ACTIVE or PAUSED.
    pub status: String,
    pub exit_on_reply: bool,
    pub max_attempts: i32,
    #[sqlx(json)]
    pub steps: Vec<SequenceStep>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiObject for Sequence {
    const NAME: &'static str = "sequence";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT q.tenant_id, q.id, q.name, q.status,
        q.exit_on_reply, q.max_attempts,
        coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'position', s.position,
            'delay_minutes', s.delay_minutes, 'kind', s.kind, 'channel', s.channel,
            'template_id', s.template_id, 'wait_until', s.wait_until, 'condition', s.condition,
            'condition_field', s.condition_field, 'condition_value', s.condition_value,
            'then_go', s.then_go, 'then_step_id', s.then_step_id, 'else_go', s.else_go,
            'else_step_id', s.else_step_id)
            ORDER BY s.position) FROM sequence_steps s WHERE s.sequence_id = q.id), '[]') AS steps,
        q.created_at, q.updated_at FROM sequences q) r";
    const FILTERS: &'static [&'static str] = &["status"];
    timestamps!();
}

/// A lead's passage through a sequence.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub id: Uuid,
    pub sequence_id: Uuid,
    pub lead_id: Uuid,
    /// ACTIVE, PAUSED, COMPLETED or STOPPED.
    pub status: String,
    /// The position of the step it runs next.
    pub next_step: i32,
    pub next_run_at: DateTime<Utc>,
    /// Messages it has sent.
    pub sent: i32,
    pub stop_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// With `expand=lead`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Box<Lead>>,
}

impl ApiObject for Enrollment {
    const NAME: &'static str = "enrollment";
    const SELECT: &'static str = "SELECT r.id, r.sequence_id, r.lead_id, r.status, r.next_step,
        r.next_run_at, r.sent, r.stop_reason, r.created_at, r.updated_at FROM enrollments r";
    const FILTERS: &'static [&'static str] = &["sequence_id", "lead_id", "status"];
    timestamps!();
    expands! {
        "lead" => lead_id, lead, Lead;
    }
}

/// A unit held for a deal until `expires_at`, unless released first.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitHold {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub deal_id: Uuid,
    /// The member it is held for: who held it in the app, or the deal's owner when an
    /// API key did.
    pub held_by: Uuid,
    pub expires_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    /// RELEASED, EXPIRED, DEAL_LOST or SOLD, once released.
    pub release_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// With `expand=unit`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Box<Unit>>,
    /// With `expand=deal`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal: Option<Box<Deal>>,
    /// With `expand=owner`: the member it is held for.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Member>,
}

impl ApiObject for UnitHold {
    const NAME: &'static str = "unit_hold";
    const SELECT: &'static str = "SELECT r.* FROM (SELECT h.tenant_id, h.id, h.unit_id,
        h.deal_id, h.held_by, h.expires_at, h.released_at, h.release_reason, h.created_at,
        coalesce(h.released_at, h.created_at) AS updated_at FROM unit_holds h) r";
    const FILTERS: &'static [&'static str] = &["unit_id", "deal_id"];
    timestamps!();
    expands! {
        "unit" => unit_id, unit, Unit;
        "deal" => deal_id, deal, Deal;
        "owner" => held_by, owner, Owner;
    }
}
