use crate::auth::model::Role;
use crate::crm::money::Money;
use crate::i18n::{t, tf, Locale};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Levels a rule may have: enough for "manager, then director, then owner".
pub const MAX_LEVELS: usize = 3;

/// Who decides one level: anyone holding the role (or a higher one), or one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approver {
    Role(Role),
    Member { user_id: Uuid, name: String },
}

impl Approver {
    /// "Managers", "Admins", "Owners", or the member's name.
    pub fn label(&self, l: Locale) -> String {
        match self {
            Approver::Role(r) => t(l, &format!("approvals.role.{}", r.as_str())),
            Approver::Member { name, .. } => name.clone(),
        }
    }

    /// The value of this approver in a level picker: `role:MANAGER` or `member:<id>`.
    pub fn choice(&self) -> String {
        match self {
            Approver::Role(r) => format!("role:{}", r.as_str()),
            Approver::Member { user_id, .. } => format!("member:{user_id}"),
        }
    }
}

/// What a rule guards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleTrigger {
    /// A deal moved into this stage.
    StageEntered { stage_id: Uuid, stage: String },
    /// A deal worth more than this moved into a won stage.
    AmountAbove(Money),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub id: Uuid,
    pub name: String,
    pub trigger: RuleTrigger,
    pub levels: Vec<Approver>,
}

/// A stage a rule may name, with its pipeline for the picker's label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChoice {
    pub id: Uuid,
    pub label: String,
}

/// The rules page: the rules, and what the form may pick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesPage {
    pub rules: Vec<RuleView>,
    pub stages: Vec<StageChoice>,
    /// Members who may approve (managers and up).
    pub approvers: Vec<Approver>,
    /// The tenant's billing currency, the form's default.
    pub currency: String,
}

crate::db_codes! {
    /// `approval_requests.status`.
    RequestStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        /// The last level approved, but the deal had changed meanwhile.
        Failed = "FAILED",
    }
}

crate::db_codes! {
    /// `approval_decisions.decision`: what one approver said at one level.
    Decision {
        Approved = "APPROVED",
        Rejected = "REJECTED",
    }
}

impl RequestStatus {
    pub fn label_key(self) -> &'static str {
        match self {
            RequestStatus::Pending => "approvals.status.pending",
            RequestStatus::Approved => "approvals.status.approved",
            RequestStatus::Rejected => "approvals.status.rejected",
            RequestStatus::Failed => "approvals.status.failed",
        }
    }
}

/// A deal's open request as its card shows it: the move waiting for a yes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub request_id: Uuid,
    pub to_stage_id: Uuid,
    pub to_stage: String,
    pub level: i32,
    pub levels: i32,
    /// Who decides the current level.
    pub approver: Approver,
}

impl PendingApproval {
    /// "Moving to Won needs approval: sent to Managers".
    pub fn held_message(&self, l: Locale) -> String {
        tf(
            l,
            "approvals.held",
            &[
                ("stage", self.to_stage.clone()),
                ("who", self.approver.label(l)),
            ],
        )
    }
}

/// One request in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: Uuid,
    pub deal_id: Uuid,
    pub deal_name: String,
    pub amount: Money,
    pub from_stage: String,
    pub to_stage: String,
    pub rule_name: String,
    pub requester: Option<String>,
    pub status: RequestStatus,
    pub level: i32,
    pub levels: i32,
    pub approver: Approver,
    pub sla_due_at: DateTime<Utc>,
    pub breached: bool,
    /// The viewer may decide the current level.
    pub can_decide: bool,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A level's decision, with its comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    pub level: i32,
    pub actor: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDetail {
    pub request: RequestRow,
    pub decisions: Vec<DecisionView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequests {
    /// Open requests, in SLA order.
    pub requests: Vec<RequestRow>,
}

/// A request's line on the deal's timeline, from the activity's data.
pub fn timeline_text(l: Locale, data: &serde_json::Value) -> String {
    let text = |k: &str| data[k].as_str().unwrap_or("").to_string();
    let num = |k: &str| data[k].as_u64().unwrap_or(1).to_string();
    let mut line = match data["event"].as_str() {
        Some("REQUESTED") => tf(
            l,
            "approvals.timeline.requested",
            &[("stage", text("to")), ("levels", num("levels"))],
        ),
        Some("REJECTED") => tf(
            l,
            "approvals.timeline.rejected",
            &[
                ("stage", text("to")),
                ("level", num("level")),
                ("name", text("by")),
            ],
        ),
        Some("FAILED") => tf(
            l,
            "approvals.timeline.failed",
            &[("stage", text("to")), ("reason", text("reason"))],
        ),
        _ => tf(
            l,
            "approvals.timeline.approved",
            &[
                ("stage", text("to")),
                ("level", num("level")),
                ("levels", num("levels")),
                ("name", text("by")),
            ],
        ),
    };
    if let Some(comment) = data["comment"].as_str().filter(|c| !c.is_empty()) {
        line.push_str(&format!(" · “{comment}”"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvers_read_as_people_and_round_trip_through_the_picker() {
        let l = Locale::En;
        assert_eq!(Approver::Role(Role::Manager).label(l), "Managers");
        assert_eq!(Approver::Role(Role::Owner).choice(), "role:OWNER");
        let id = Uuid::nil();
        assert_eq!(
            Approver::Member {
                user_id: id,
                name: "Mia".into()
            }
            .choice(),
            format!("member:{id}")
        );
        assert_eq!(Approver::Role(Role::Admin).label(Locale::Ar), "المسؤولون");
    }

    #[test]
    fn each_decision_reads_on_the_timeline() {
        let l = Locale::En;
        let line = |v: serde_json::Value| timeline_text(l, &v);
        assert_eq!(
            line(serde_json::json!({ "event": "REQUESTED", "to": "Won", "levels": 2 })),
            "Move to Won sent for approval (2 levels)"
        );
        assert_eq!(
            line(
                serde_json::json!({ "event": "APPROVED", "to": "Won", "level": 1, "levels": 2, "by": "Max", "comment": "ok" })
            ),
            "Move to Won: level 1 of 2 approved by Max · “ok”"
        );
        assert_eq!(
            line(
                serde_json::json!({ "event": "REJECTED", "to": "Won", "level": 2, "by": "Ada", "comment": "too cheap" })
            ),
            "Move to Won rejected at level 2 by Ada · “too cheap”"
        );
        assert_eq!(
            line(
                serde_json::json!({ "event": "FAILED", "to": "Won", "reason": "the deal no longer exists." })
            ),
            "Move to Won approved but not applied: the deal no longer exists."
        );
        assert_eq!(
            RequestStatus::parse(RequestStatus::Failed.code()),
            Some(RequestStatus::Failed)
        );
    }
}
