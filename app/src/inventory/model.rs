use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnitStatus {
    Available,
    Held,
    Reserved,
    Sold,
    Blocked,
}

impl UnitStatus {
    pub const ALL: [UnitStatus; 5] = [
        UnitStatus::Available,
        UnitStatus::Held,
        UnitStatus::Reserved,
        UnitStatus::Sold,
        UnitStatus::Blocked,
    ];

    pub fn code(self) -> &'static str {
        match self {
            UnitStatus::Available => "AVAILABLE",
            UnitStatus::Held => "HELD",
            UnitStatus::Reserved => "RESERVED",
            UnitStatus::Sold => "SOLD",
            UnitStatus::Blocked => "BLOCKED",
        }
    }

    pub fn parse(code: &str) -> Option<UnitStatus> {
        UnitStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            UnitStatus::Available => "inventory.status.available",
            UnitStatus::Held => "inventory.status.held",
            UnitStatus::Reserved => "inventory.status.reserved",
            UnitStatus::Sold => "inventory.status.sold",
            UnitStatus::Blocked => "inventory.status.blocked",
        }
    }

    /// The map's fill for the status (colour-blind safe, always with a legend word).
    pub fn fill(self) -> &'static str {
        match self {
            UnitStatus::Available => "#1a9850",
            UnitStatus::Held => "#fdae61",
            UnitStatus::Reserved => "#4575b4",
            UnitStatus::Sold => "#d73027",
            UnitStatus::Blocked => "#878787",
        }
    }
}

/// A unit as lists and the map show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project: String,
    pub code: String,
    pub type_code: String,
    pub building: Option<String>,
    pub floor: Option<i32>,
    pub size_sqm: Option<f64>,
    pub bedrooms: i32,
    pub bathrooms: i32,
    pub view: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub status: UnitStatus,
    pub version: i32,
}

/// A live hold on a unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldView {
    pub deal_id: Uuid,
    pub deal: String,
    pub held_by: String,
    pub held_by_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The deal reached a committed stage: the unit is RESERVED and the hold does not
    /// lapse.
    pub reserved: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PricePoint {
    pub price_minor: i64,
    pub currency: String,
    pub changed_by: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A deal the viewer may hold a unit for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealChoice {
    pub id: Uuid,
    pub name: String,
}

/// A step in a unit's life with a deal: held, or let go (released, expired, the deal
/// lost, sold).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct HoldEvent {
    pub at: DateTime<Utc>,
    /// `HELD`, `RESERVED`, or the release's reason: `RELEASED`, `EXPIRED`, `DEAL_LOST`, `SOLD`.
    pub kind: String,
    pub deal_id: Uuid,
    pub deal: String,
    pub by: Option<String>,
}

/// A change of a unit's status, by whatever path it came.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct StatusEvent {
    pub at: DateTime<Utc>,
    pub from_status: String,
    pub to_status: String,
    /// The member who made it; none for the platform's sweeps.
    pub by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitDetail {
    pub unit: UnitRow,
    pub hold: Option<HoldView>,
    pub prices: Vec<PricePoint>,
    /// The unit's holds and sales, newest first.
    pub history: Vec<HoldEvent>,
    pub components: super::components::UnitComponents,
    /// Its status changes, newest first.
    pub statuses: Vec<StatusEvent>,
    /// Deals the viewer may hold this unit for (their own open ones; all for managers).
    pub deals: Vec<DealChoice>,
    pub can_manage: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnitFilter {
    pub project_id: Option<Uuid>,
    pub status: Option<UnitStatus>,
    pub type_code: Option<String>,
    pub min_bedrooms: Option<i32>,
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    pub floor: Option<i32>,
    /// Part of the unit's view ("Nile", "Garden").
    pub view: Option<String>,
    pub q: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitCursor {
    pub project: String,
    pub code: String,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitsPage {
    pub units: Vec<UnitRow>,
    pub next: Option<UnitCursor>,
    pub projects: Vec<(Uuid, String)>,
    pub plans: Vec<(Uuid, String)>,
    /// Unit types (code, name) for the type filter.
    pub types: Vec<(String, String)>,
    /// The viewer may upload plans and draw on them.
    pub can_edit_plans: bool,
    /// The viewer may change prices and statuses, of many units at once too.
    pub can_manage: bool,
}

/// A shape on a plan with the unit it stands for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapeView {
    pub id: Uuid,
    pub label: Option<String>,
    pub points: Vec<(f64, f64)>,
    pub area_sqm: Option<f64>,
    pub perimeter_m: Option<f64>,
    pub version: i32,
    pub unit: Option<UnitRow>,
    /// The component of `unit` the shape stands for: its id and name.
    pub component: Option<(Uuid, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub id: Uuid,
    pub name: String,
    pub project: String,
    /// `FLOOR` or `SITE`.
    pub kind: String,
    pub width_px: i32,
    pub height_px: i32,
    pub meters_per_px: Option<f64>,
    /// The uploaded drawing, versioned so a new upload is fetched afresh.
    pub file_url: Option<String>,
    pub shapes: Vec<ShapeView>,
    /// The project's cover picture, when it has one.
    pub project_cover: Option<String>,
    /// The viewer may draw shapes and set the scale.
    pub can_edit: bool,
}

/// What a map is narrowed to: units outside it are dimmed on the plan and left out of
/// its list. Empty fields narrow nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapFilter {
    pub status: Option<UnitStatus>,
    pub type_code: Option<String>,
    pub min_bedrooms: Option<i32>,
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    pub floor: Option<i32>,
    /// Part of the view, any case.
    pub view: Option<String>,
}

impl MapFilter {
    pub fn is_empty(&self) -> bool {
        *self == MapFilter::default()
    }

    pub fn matches(&self, u: &UnitRow) -> bool {
        self.status.is_none_or(|s| s == u.status)
            && self.type_code.as_ref().is_none_or(|t| *t == u.type_code)
            && self.min_bedrooms.is_none_or(|n| u.bedrooms >= n)
            && self.min_price_minor.is_none_or(|p| u.price_minor >= p)
            && self.max_price_minor.is_none_or(|p| u.price_minor <= p)
            && self.floor.is_none_or(|f| u.floor == Some(f))
            && self.view.as_ref().is_none_or(|v| {
                u.view
                    .as_ref()
                    .is_some_and(|uv| uv.to_lowercase().contains(&v.to_lowercase()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> UnitRow {
        UnitRow {
            id: Uuid::nil(),
            project_id: Uuid::nil(),
            project: "Nile Towers".into(),
            code: "B-1204".into(),
            type_code: "APT_2BR".into(),
            building: Some("B".into()),
            floor: Some(12),
            size_sqm: Some(118.0),
            bedrooms: 2,
            bathrooms: 1,
            view: Some("Nile".into()),
            price_minor: 435_000_000,
            currency: "EGP".into(),
            status: UnitStatus::Available,
            version: 1,
        }
    }

    #[test]
    fn a_map_filter_narrows_by_every_field_it_has() {
        let u = unit();
        assert!(MapFilter::default().matches(&u));
        let yes = [
            MapFilter {
                view: Some("nile".into()),
                ..Default::default()
            },
            MapFilter {
                min_bedrooms: Some(2),
                floor: Some(12),
                ..Default::default()
            },
            MapFilter {
                min_price_minor: Some(400_000_000),
                max_price_minor: Some(435_000_000),
                ..Default::default()
            },
            MapFilter {
                type_code: Some("APT_2BR".into()),
                status: Some(UnitStatus::Available),
                ..Default::default()
            },
        ];
        let no = [
            MapFilter {
                view: Some("garden".into()),
                ..Default::default()
            },
            MapFilter {
                min_bedrooms: Some(3),
                ..Default::default()
            },
            MapFilter {
                max_price_minor: Some(434_999_999),
                ..Default::default()
            },
            MapFilter {
                floor: Some(11),
                ..Default::default()
            },
            MapFilter {
                status: Some(UnitStatus::Held),
                ..Default::default()
            },
        ];
        assert!(yes.iter().all(|f| f.matches(&u)));
        assert!(no.iter().all(|f| !f.matches(&u)));
    }

    #[test]
    fn statuses_round_trip() {
        for s in UnitStatus::ALL {
            assert_eq!(UnitStatus::parse(s.code()), Some(s));
        }
    }
}
