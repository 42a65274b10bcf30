//! Status columns as Rust enums (`app::db_codes!`): each enum knows exactly the codes
//! its column's CHECK constraint allows, and reads and writes them as text.

use crate::common::TestApp;
use app::approvals::model::{Decision, RequestStatus};
use app::billing::model::{AttemptKind, AttemptStatus, InvoiceStatus, SubscriptionStatus};
use app::crm::board::model::{DealStatus, StageKind};
use app::crm::model::ActivityKind;
use app::crm::records::model::LeadStatus;
use app::developers::model::ConnectionStatus;
use app::outreach::model::{
    EnrollmentStatus, MessageStatus, PhoneStatus, SequenceStatus, TemplateApproval,
};
use app::review::model::{ItemStatus, Reason, Urgency};
use app::team::model::{InviteStatus, MembershipStatus};
use sqlx::PgPool;

/// The codes a `CHECK (column = ANY (ARRAY[...]))` constraint allows, sorted.
async fn allowed(pool: &PgPool, table: &str, column: &str) -> Vec<String> {
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
          WHERE c.conrelid = $1::regclass AND c.contype = 'c'",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    let prefix = format!("CHECK (({column} = ANY (ARRAY[");
    let def = defs
        .iter()
        .find(|d| d.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{table}.{column} has no list of codes: {defs:?}"));
    let mut codes: Vec<String> = def[prefix.len()..]
        .split(',')
        .filter_map(|part| part.split('\'').nth(1).map(str::to_string))
        .collect();
    codes.sort();
    codes
}

fn sorted(codes: impl IntoIterator<Item = &'static str>) -> Vec<String> {
    let mut codes: Vec<String> = codes.into_iter().map(str::to_string).collect();
    codes.sort();
    codes
}

#[tokio::test]
async fn each_status_enum_knows_exactly_its_columns_codes() {
    let app = TestApp::spawn().await;
    let pool = &app.pools.owner;
    // The review queue's codes travel by variant name, so they list `ALL`, not `CODES`.
    let statuses: Vec<&'static str> = ItemStatus::ALL.iter().map(|s| s.code()).collect();
    let reasons: Vec<&'static str> = Reason::ALL.iter().map(|r| r.code()).collect();
    let urgencies: Vec<&'static str> = Urgency::ALL.iter().map(|u| u.code()).collect();
    let cases: [(&str, &str, &[&'static str]); 21] = [
        ("sequences", "status", SequenceStatus::CODES),
        ("enrollments", "status", EnrollmentStatus::CODES),
        ("messages", "status", MessageStatus::CODES),
        ("wa_phone_numbers", "status", PhoneStatus::CODES),
        ("subscriptions", "status", SubscriptionStatus::CODES),
        ("invoices", "status", InvoiceStatus::CODES),
        ("payment_attempts", "status", AttemptStatus::CODES),
        ("payment_attempts", "kind", AttemptKind::CODES),
        ("activities", "kind", ActivityKind::CODES),
        ("stages", "kind", StageKind::CODES),
        ("deals", "status", DealStatus::CODES),
        ("leads", "status", LeadStatus::CODES),
        ("approval_requests", "status", RequestStatus::CODES),
        ("approval_decisions", "decision", Decision::CODES),
        ("memberships", "status", MembershipStatus::CODES),
        ("invites", "status", InviteStatus::CODES),
        ("review_items", "status", &statuses),
        ("review_items", "reason", &reasons),
        ("review_items", "priority", &urgencies),
        ("templates", "approval_status", TemplateApproval::CODES),
        ("integration_connections", "status", ConnectionStatus::CODES),
    ];
    for (table, column, codes) in cases {
        assert_eq!(
            allowed(pool, table, column).await,
            sorted(codes.iter().copied()),
            "{table}.{column}"
        );
    }
}

#[tokio::test]
async fn status_enums_read_and_write_text_and_refuse_unknown_codes() {
    let app = TestApp::spawn().await;
    let pool = &app.pools.app;
    // Written as its code, alone and in an array.
    let (one, many): (String, Vec<String>) = sqlx::query_as("SELECT $1::text, $2::text[]")
        .bind(SequenceStatus::Archived)
        .bind([EnrollmentStatus::Active, EnrollmentStatus::Paused])
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(one, "ARCHIVED");
    assert_eq!(many, ["ACTIVE", "PAUSED"]);
    // Read back from text.
    let status: PhoneStatus = sqlx::query_scalar("SELECT 'MIGRATING'::text")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(status, PhoneStatus::Migrating);
    // A code the enum does not know fails the row, naming the enum and the code.
    let err = sqlx::query_scalar::<_, InvoiceStatus>("SELECT 'REFUNDED'::text")
        .fetch_one(pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("InvoiceStatus has no code \"REFUNDED\""),
        "{err}"
    );
}
