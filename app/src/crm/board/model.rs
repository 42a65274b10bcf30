use crate::approvals::model::PendingApproval;
use crate::crm::model::MemberRef;
use crate::crm::money::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Cards a column loads at a time.
pub const COLUMN_PAGE: i64 = 25;

crate::db_codes! {
    /// What reaching a stage means for its deals (`stages.kind`).
    StageKind { Open = "OPEN", Won = "WON", Lost = "LOST" }
}

/// A deal's status (`deals.status`) is the kind of the stage it is in: moving a deal
/// sets one from the other (stages.rs, moves.rs), so the two share their codes.
pub type DealStatus = StageKind;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInfo {
    pub id: Uuid,
    pub name: String,
    pub color: String,
    pub kind: StageKind,
    pub probability: i32,
}

/// The board's filters; they live in the URL so a filtered board can be shared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardFilter {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub owner: Option<Uuid>,
    #[serde(default)]
    pub tag: Option<String>,
    /// Amount range in whole units of each deal's currency.
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

impl BoardFilter {
    /// The URL query of these filters (empty ones left out).
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if !self.q.trim().is_empty() {
            parts.push(format!("q={}", encode(self.q.trim())));
        }
        if let Some(owner) = self.owner {
            parts.push(format!("owner={owner}"));
        }
        if let Some(tag) = self.tag.as_deref().filter(|t| !t.is_empty()) {
            parts.push(format!("tag={}", encode(tag)));
        }
        if let Some(min) = self.min {
            parts.push(format!("min={min}"));
        }
        if let Some(max) = self.max {
            parts.push(format!("max={max}"));
        }
        parts.join("&")
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where a column's next page starts: after this card.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardCursor {
    pub position: f64,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextTask {
    pub subject: String,
    pub due_at: DateTime<Utc>,
    pub overdue: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealCard {
    pub id: Uuid,
    pub stage_id: Uuid,
    pub name: String,
    pub amount: Money,
    /// Chance to win, 0–100: the stage's when it entered it, unless edited since.
    pub probability: i32,
    pub owner: Option<MemberRef>,
    /// Days in the current stage.
    pub age_days: i64,
    pub expected_close_on: Option<NaiveDate>,
    pub next_task: Option<NextTask>,
    pub tags: Vec<String>,
    pub version: i32,
    pub position: f64,
    /// A move of this deal waiting for approval; the card stays where it is meanwhile.
    #[serde(default)]
    pub pending_approval: Option<PendingApproval>,
}

impl DealCard {
    /// The amount times the chance to win, rounded to the minor unit.
    pub fn weighted(&self) -> Money {
        Money {
            minor: (self.amount.minor as i128 * i128::from(self.probability.clamp(0, 100)) + 50)
                .div_euclid(100) as i64,
            currency: self.amount.currency.clone(),
        }
    }

    pub fn cursor(&self) -> CardCursor {
        CardCursor {
            position: self.position,
            id: self.id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub stage: StageInfo,
    pub count: i64,
    /// Sum of amounts per currency, largest first.
    pub sums: Vec<Money>,
    /// Sum of weighted amounts per currency, in the same order.
    pub weighted: Vec<Money>,
    pub cards: Vec<DealCard>,
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub pipelines: Vec<PipelineRef>,
    pub pipeline: PipelineRef,
    pub columns: Vec<Column>,
    pub members: Vec<MemberRef>,
    /// The viewer may create pipelines.
    pub can_configure: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnPage {
    pub cards: Vec<DealCard>,
    pub more: bool,
}

/// A move the viewer made: the deal as they saw it, and where it goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealMove {
    pub deal_id: Uuid,
    pub version: i32,
    pub stage_id: Uuid,
    /// The card it lands after; `None` puts it at the top of the column.
    pub after_id: Option<Uuid>,
    pub lost_reason: Option<String>,
}

/// A deal's card and its pipeline's stages: the deal page's stage control.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealStageView {
    pub card: DealCard,
    pub stages: Vec<StageInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeal {
    pub pipeline_id: Uuid,
    pub stage_id: Option<Uuid>,
    pub name: String,
    /// As typed: "12,500.50".
    pub amount: String,
    pub currency: String,
    pub owner_id: Option<Uuid>,
    pub expected_close_on: Option<String>,
    /// The person and organisation it is with, when made from their page.
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let f = BoardFilter {
            q: "villa سكن".into(),
            owner: None,
            tag: Some("vip".into()),
            min: Some(1000),
            max: None,
        };
        assert_eq!(
            f.to_query(),
            "q=villa%20%D8%B3%D9%83%D9%86&tag=vip&min=1000"
        );
        assert_eq!(BoardFilter::default().to_query(), "");
    }
}
