//! Approvals over real HTTP on a real database: rules validated by field, guarded stage
//! moves held until every level approves, rejections with reasons, who may decide,
//! concurrent decisions, a deal that moved meanwhile, the API's 202, the SLA's
//! escalation, and other tenants.

use crate::common;

use app::approvals::api::{AddApprovalRule, ApprovalQueue, ApprovalRequest, DecideApproval};
use app::crm::board::api::{CreateDeal, GetBoard, GetDealStage, MoveDeal};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

struct World {
    app: TestApp,
    owner: reqwest::Client,
    admin: reqwest::Client,
    max: reqwest::Client,
    mia: reqwest::Client,
    rep: reqwest::Client,
    pipeline: String,
    stages: Vec<(String, String)>,
}

impl World {
    async fn new() -> World {
        let app = TestApp::spawn().await;
        let owner = app.signup("Ada", "ada@example.com", "Acme").await;
        sqlx::query("UPDATE subscriptions SET plan_id = 'pro'")
            .execute(&app.pools.owner)
            .await
            .unwrap();
        let admin = app
            .invite_and_join(&owner, "ann@example.com", "ADMIN")
            .await;
        let max = app
            .invite_and_join(&owner, "max@example.com", "MANAGER")
            .await;
        let mia = app
            .invite_and_join(&owner, "mia@example.com", "MANAGER")
            .await;
        let rep = app
            .invite_and_join(&owner, "sam@example.com", "SALES")
            .await;
        for (email, name) in [
            ("ann@example.com", "Ann"),
            ("max@example.com", "Max"),
            ("mia@example.com", "Mia"),
            ("sam@example.com", "Sam"),
        ] {
            sqlx::query("UPDATE users SET name = $2 WHERE email = $1")
                .bind(email)
                .bind(name)
                .execute(&app.pools.owner)
                .await
                .unwrap();
        }
        let (status, board) = app
            .call_json::<GetBoard>(&owner, &json!({ "pipeline_id": null, "filter": {} }))
            .await;
        assert_eq!(status, StatusCode::OK, "{board}");
        let stages = board["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["stage"]["name"].as_str().unwrap().to_string(),
                    c["stage"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        World {
            pipeline: board["pipeline"]["id"].as_str().unwrap().to_string(),
            app,
            owner,
            admin,
            max,
            mia,
            rep,
            stages,
        }
    }

    fn stage(&self, name: &str) -> String {
        self.stages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("no stage {name}"))
    }

    async fn user(&self, email: &str) -> Uuid {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }

    async fn rule(&self, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form: Vec<(&str, &str)> = vec![
            ("name", "Big wins"),
            ("trigger", "STAGE_ENTERED"),
            ("stage_id", ""),
            ("amount", ""),
            ("currency", ""),
            ("level_1", ""),
            ("level_2", ""),
            ("level_3", ""),
        ];
        for (k, v) in fields {
            form.retain(|(key, _)| key != k);
            form.push((k, v));
        }
        self.app.call::<AddApprovalRule>(&self.admin, &form).await
    }

    /// A rule on entering Closed (the won stage) with these levels.
    async fn closing_rule(&self, levels: &[&str]) {
        let closed = self.stage("Closed");
        let mut fields = vec![("stage_id", closed.as_str())];
        for (name, level) in ["level_1", "level_2", "level_3"].into_iter().zip(levels) {
            fields.push((name, level));
        }
        let (status, body) = self.rule(&fields).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn deal(&self, client: &reqwest::Client, name: &str, amount: &str) -> Value {
        let (status, card) = self
            .app
            .call::<CreateDeal>(
                client,
                &[
                    ("pipeline_id", self.pipeline.as_str()),
                    ("name", name),
                    ("amount", amount),
                    ("currency", "USD"),
                    ("stage_id", ""),
                    ("owner_id", ""),
                    ("expected_close_on", ""),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{card}");
        card
    }

    async fn mv(&self, client: &reqwest::Client, card: &Value, stage: &str) -> (StatusCode, Value) {
        self.app
            .call_json::<MoveDeal>(
                client,
                &json!({ "change": {
                    "deal_id": card["id"], "version": card["version"], "stage_id": self.stage(stage),
                    "after_id": null, "lost_reason": null,
                }}),
            )
            .await
    }

    async fn decide(
        &self,
        client: &reqwest::Client,
        id: &str,
        level: i32,
        approve: bool,
        comment: &str,
    ) -> (StatusCode, Value) {
        self.app
            .call::<DecideApproval>(
                client,
                &[
                    ("id", id),
                    ("level", &level.to_string()),
                    ("approve", &approve.to_string()),
                    ("comment", comment),
                ],
            )
            .await
    }

    /// The deal's card as `client`'s board shows it.
    async fn board_card(&self, client: &reqwest::Client, deal: &Value) -> Value {
        let (status, board) = self
            .app
            .call_json::<GetBoard>(client, &json!({ "pipeline_id": null, "filter": {} }))
            .await;
        assert_eq!(status, StatusCode::OK, "{board}");
        board["columns"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["cards"].as_array().unwrap().iter())
            .find(|c| c["id"] == deal["id"])
            .cloned()
            .unwrap_or_else(|| panic!("{} is not on the board", deal["id"]))
    }

    async fn stage_of(&self, deal: &Value) -> String {
        sqlx::query_scalar(
            "SELECT s.name FROM deals d JOIN stages s ON s.id = d.stage_id WHERE d.id = $1::uuid",
        )
        .bind(deal["id"].as_str().unwrap())
        .fetch_one(&self.app.pools.owner)
        .await
        .unwrap()
    }

    async fn notifications(&self, email: &str, kind: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT n.body FROM notifications n JOIN users u ON u.id = n.user_id
              WHERE u.email = $1 AND n.kind = $2 ORDER BY n.created_at",
        )
        .bind(email)
        .bind(kind)
        .fetch_all(&self.app.pools.owner)
        .await
        .unwrap()
    }
}

/// The request a held move made: its id.
fn held(card: &Value) -> String {
    card["pending_approval"]["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the move was not held: {card}"))
        .to_string()
}

#[tokio::test]
async fn rules_are_validated_by_field() {
    let w = World::new().await;
    let closed = w.stage("Closed");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("name", ""),
                ("stage_id", &closed),
                ("level_1", "role:MANAGER"),
            ],
            "name",
        ),
        (vec![("stage_id", &closed)], "level_1"),
        (
            vec![("stage_id", &closed), ("level_2", "role:OWNER")],
            "level_1",
        ),
        (
            vec![
                ("stage_id", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
                ("level_1", "role:MANAGER"),
            ],
            "stage_id",
        ),
        (
            vec![("stage_id", &closed), ("level_1", "role:SALES")],
            "level_1",
        ),
        (
            vec![("trigger", "DISCOUNT"), ("level_1", "role:MANAGER")],
            "trigger",
        ),
        (
            vec![
                ("trigger", "AMOUNT_ABOVE"),
                ("amount", "lots"),
                ("currency", "USD"),
                ("level_1", "role:MANAGER"),
            ],
            "amount",
        ),
        (
            vec![
                ("trigger", "AMOUNT_ABOVE"),
                ("amount", "10"),
                ("currency", "dollars"),
                ("level_1", "role:MANAGER"),
            ],
            "currency",
        ),
    ];
    for (fields, field) in cases {
        let (status, body) = w.rule(&fields).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}: {body}"
        );
        assert_eq!(error_field(&body), Some(field), "{fields:?}: {body}");
    }
    // A rep names themselves as an approver: only managers and up may approve.
    let sam = w.user("sam@example.com").await;
    let member = format!("member:{sam}");
    let (status, body) = w.rule(&[("stage_id", &closed), ("level_1", &member)]).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("level_1")),
        "{body}"
    );
    // Only admins keep rules.
    let (status, _) = w
        .app
        .call::<AddApprovalRule>(
            &w.max,
            &[
                ("name", "x"),
                ("trigger", "STAGE_ENTERED"),
                ("stage_id", &closed),
                ("amount", ""),
                ("currency", ""),
                ("level_1", "role:MANAGER"),
                ("level_2", ""),
                ("level_3", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(w.rule(&[]).await.0.is_client_error());
}

/// The rules form shows the stage or the amount and currency, never both, so the
/// browser posts only the fields on screen.
#[tokio::test]
async fn the_form_posts_only_the_fields_its_trigger_shows() {
    let w = World::new().await;
    let closed = w.stage("Closed");
    let stage_rule = [
        ("name", "Closing"),
        ("trigger", "STAGE_ENTERED"),
        ("stage_id", closed.as_str()),
        ("level_1", ""),
        ("level_2", ""),
        ("level_3", ""),
    ];
    let (status, body) = w.app.call::<AddApprovalRule>(&w.admin, &stage_rule).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("level_1")),
        "{body}"
    );
    let mut with_level = stage_rule;
    with_level[3] = ("level_1", "role:MANAGER");
    let (status, body) = w.app.call::<AddApprovalRule>(&w.admin, &with_level).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let amount_rule = [
        ("name", "Big wins"),
        ("trigger", "AMOUNT_ABOVE"),
        ("amount", "1,000,000"),
        ("currency", "USD"),
        ("level_1", "role:OWNER"),
        ("level_2", ""),
        ("level_3", ""),
    ];
    let (status, body) = w.app.call::<AddApprovalRule>(&w.admin, &amount_rule).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_two_level_rule_holds_the_move_until_both_levels_approve() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER", "role:OWNER"]).await;
    let closed = w.stage("Closed");
    let deal = w.deal(&w.rep, "Villa 7", "5000000").await;

    let (status, card) = w.mv(&w.rep, &deal, "Closed").await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(
        card["stage_id"], deal["stage_id"],
        "the card stays where it was"
    );
    assert_eq!(card["pending_approval"]["to_stage"], "Closed");
    assert_eq!(card["pending_approval"]["approver"]["Role"], "Manager");
    let id = held(&card);
    assert_eq!(w.stage_of(&deal).await, "Lead");
    let on_board = w.board_card(&w.rep, &deal).await;
    assert_eq!(
        on_board["pending_approval"]["request_id"].as_str(),
        Some(id.as_str())
    );
    // The deal page's stage control shows the same request.
    let (status, page) = w
        .app
        .call::<GetDealStage>(&w.rep, &[("deal_id", deal["id"].as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["card"]["pending_approval"]["request_id"].as_str(),
        Some(id.as_str())
    );
    assert_eq!(page["stages"].as_array().unwrap().len(), 6);
    // The level's managers hear of it; the owner (a later level) does not yet.
    assert_eq!(
        w.notifications("max@example.com", "APPROVAL_REQUESTED")
            .await
            .len(),
        1
    );
    assert_eq!(
        w.notifications("mia@example.com", "APPROVAL_REQUESTED")
            .await
            .len(),
        1
    );
    assert!(w
        .notifications("ada@example.com", "APPROVAL_REQUESTED")
        .await
        .is_empty());
    // One open request per deal and change.
    let (status, body) = w.mv(&w.rep, &deal, "Closed").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, queue) = w.app.call::<ApprovalQueue>(&w.max, &[]).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let row = &queue["requests"][0];
    assert_eq!(
        (row["id"].as_str(), row["can_decide"].as_bool()),
        (Some(id.as_str()), Some(true))
    );

    let (status, after_one) = w.decide(&w.max, &id, 1, true, "Numbers check out").await;
    assert_eq!(status, StatusCode::OK, "{after_one}");
    assert_eq!(after_one["request"]["status"], "PENDING");
    assert_eq!(after_one["request"]["level"], 2);
    assert_eq!(w.stage_of(&deal).await, "Lead", "one level is not enough");
    assert_eq!(
        w.notifications("ada@example.com", "APPROVAL_REQUESTED")
            .await
            .len(),
        1
    );

    let (status, done) = w.decide(&w.owner, &id, 2, true, "").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["request"]["status"], "APPROVED");
    assert_eq!(done["decisions"].as_array().unwrap().len(), 2);
    assert_eq!(done["decisions"][0]["comment"], "Numbers check out");
    assert_eq!(w.stage_of(&deal).await, "Closed");
    let told = w.notifications("sam@example.com", "APPROVAL_DECIDED").await;
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("Villa 7"), "{told:?}");

    // The deal's timeline and the audit log have every step.
    let timeline: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT kind, data->>'event' FROM activities WHERE deal_id = $1::uuid AND kind IN ('APPROVAL', 'STAGE_CHANGE')
          ORDER BY occurred_at, kind",
    )
    .bind(deal["id"].as_str().unwrap())
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap();
    let kinds: Vec<String> = timeline
        .iter()
        .map(|(k, e)| e.clone().unwrap_or_else(|| k.clone()))
        .collect();
    assert!(kinds.contains(&"REQUESTED".to_string()), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "APPROVED").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"STAGE_CHANGE".to_string()), "{kinds:?}");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_logs WHERE action LIKE 'approval.%' OR action = 'deal.stage_changed' ORDER BY created_at, action",
    )
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            "approval.requested",
            "approval.approved",
            "approval.approved",
            "deal.stage_changed"
        ]
    );
    // The card is in Closed now, with no marker.
    let card = w.board_card(&w.rep, &deal).await;
    assert_eq!(card["stage_id"].as_str(), Some(closed.as_str()));
    assert!(card["pending_approval"].is_null(), "{card}");
}

#[tokio::test]
async fn a_rejection_leaves_the_deal_and_tells_the_requester_why() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER", "role:OWNER"]).await;
    let deal = w.deal(&w.rep, "Flat 3", "900000").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    let (status, body) = w.decide(&w.max, &id, 1, false, "  ").await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("comment")),
        "{body}"
    );
    let (status, body) = w
        .decide(&w.max, &id, 1, false, "Price is below the floor")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["request"]["status"], "REJECTED");
    assert_eq!(body["request"]["reason"], "Price is below the floor");
    assert_eq!(w.stage_of(&deal).await, "Lead");
    let told = w.notifications("sam@example.com", "APPROVAL_DECIDED").await;
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("Price is below the floor"), "{told:?}");
    // Closed: nobody decides it again, and the same move may be asked for anew.
    let (status, _) = w.decide(&w.owner, &id, 2, true, "").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, again) = w.mv(&w.rep, &deal, "Closed").await;
    assert_ne!(held(&again), id);
}

#[tokio::test]
async fn only_the_levels_approvers_decide_and_never_the_requester() {
    let w = World::new().await;
    let mia = w.user("mia@example.com").await;
    let mia_level = format!("member:{mia}");
    w.closing_rule(&["role:ADMIN", &mia_level]).await;

    // A rep cannot decide at all.
    let deal = w.deal(&w.rep, "Shop 1", "100").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    let (status, _) = w.decide(&w.rep, &id, 1, true, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w.app.call::<ApprovalQueue>(&w.rep, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A manager is the wrong approver for an ADMIN level.
    let (status, body) = w.decide(&w.max, &id, 1, true, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains("Admins"), "{body}");
    let (status, _) = w.decide(&w.admin, &id, 1, true, "ok").await;
    assert_eq!(status, StatusCode::OK);
    // Level 2 is Mia's by name: not Max's, not even the owner's.
    for other in [&w.max, &w.owner] {
        let (status, body) = w.decide(other, &id, 2, true, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(error_text(&body).contains("Mia"), "{body}");
    }
    let (status, body) = w.decide(&w.mia, &id, 2, true, "").await;
    assert_eq!(
        (status, body["request"]["status"].as_str()),
        (StatusCode::OK, Some("APPROVED")),
        "{body}"
    );

    // The requester cannot decide their own request, whatever their role.
    let own = w.deal(&w.admin, "Admin's own", "100").await;
    let (_, card) = w.mv(&w.admin, &own, "Closed").await;
    let id = held(&card);
    let (status, body) = w.decide(&w.admin, &id, 1, true, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains("someone else"), "{body}");
}

#[tokio::test]
async fn one_person_decides_one_level() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER", "role:MANAGER"]).await;
    let deal = w.deal(&w.rep, "Duplex", "100").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    assert_eq!(w.decide(&w.max, &id, 1, true, "").await.0, StatusCode::OK);
    let (status, body) = w.decide(&w.max, &id, 2, true, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(w.decide(&w.mia, &id, 2, true, "").await.0, StatusCode::OK);
    assert_eq!(w.stage_of(&deal).await, "Closed");
}

#[tokio::test]
async fn two_concurrent_decisions_on_one_level_one_wins() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER"]).await;
    for round in 0..3 {
        let deal = w.deal(&w.rep, &format!("Race {round}"), "100").await;
        let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
        let id = held(&card);
        let (a, b) = tokio::join!(
            w.decide(&w.max, &id, 1, true, ""),
            w.decide(&w.mia, &id, 1, false, "no"),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{a:?} {b:?}"
        );
        let decisions: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM approval_decisions WHERE request_id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
        assert_eq!(decisions, 1);
    }
}

#[tokio::test]
async fn a_deal_moved_meanwhile_fails_the_request_with_the_reason() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER"]).await;
    let deal = w.deal(&w.rep, "Penthouse", "100").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    // The deal moves on (to an unguarded stage) while the request waits.
    let (status, moved) = w.mv(&w.rep, &card, "Contact").await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(w.stage_of(&deal).await, "Contact");
    let (status, body) = w.decide(&w.max, &id, 1, true, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["request"]["status"], "FAILED");
    assert!(
        body["request"]["reason"]
            .as_str()
            .unwrap()
            .contains("Contact"),
        "{body}"
    );
    assert_eq!(w.stage_of(&deal).await, "Contact");
    let told = w.notifications("sam@example.com", "APPROVAL_DECIDED").await;
    assert!(told[0].contains("not applied"), "{told:?}");
}

#[tokio::test]
async fn an_amount_rule_guards_only_big_wins() {
    let w = World::new().await;
    let (status, body) = w
        .rule(&[
            ("trigger", "AMOUNT_ABOVE"),
            ("amount", "1,000,000"),
            ("currency", "USD"),
            ("level_1", "role:MANAGER"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let big = w.deal(&w.rep, "Big", "1000000.01").await;
    let small = w.deal(&w.rep, "Small", "1000000").await;
    let (_, card) = w.mv(&w.rep, &big, "Closed").await;
    held(&card);
    // Moving a big deal between open stages is not a win: not guarded.
    let (_, card) = w.mv(&w.rep, &card, "Proposal").await;
    assert_eq!(w.stage_of(&big).await, "Proposal", "{card}");
    let (_, card) = w.mv(&w.rep, &small, "Closed").await;
    assert!(card["pending_approval"].is_null(), "{card}");
    assert_eq!(w.stage_of(&small).await, "Closed");
}

#[tokio::test]
async fn the_api_move_answers_202_with_the_request() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER"]).await;
    let deal = w.deal(&w.rep, "Via API", "100").await;
    let token = w
        .app
        .api_key(&w.owner, "ERP", &["deals:write", "deals:read"])
        .await;
    let res = w
        .app
        .api(
            reqwest::Method::POST,
            &format!("/deals/{}/move", deal["id"].as_str().unwrap()),
            &token,
        )
        .json(&json!({ "stage_id": w.stage("Closed") }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["approver"], "MANAGER");
    assert_eq!(body["stage_id"], w.stage("Closed"));
    assert_eq!(w.stage_of(&deal).await, "Lead");
    // Decided by a manager, the key's move applies; nobody is notified, a key is nobody.
    let id = body["id"].as_str().unwrap();
    let (status, done) = w.decide(&w.max, id, 1, true, "").await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["request"]["requester"], Value::Null);
    assert_eq!(w.stage_of(&deal).await, "Closed");
}

#[tokio::test]
async fn a_breached_request_escalates_to_admins() {
    let w = World::new().await;
    let mia = w.user("mia@example.com").await;
    w.closing_rule(&[&format!("member:{mia}")]).await;
    let deal = w.deal(&w.rep, "Slow one", "100").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    assert_eq!(
        w.decide(&w.admin, &id, 1, true, "").await.0,
        StatusCode::FORBIDDEN
    );
    let sweep = |at| app::review::ssr::sla_sweep(&w.app.pools.app, at);
    assert_eq!(sweep(chrono::Utc::now()).await.unwrap(), 0, "not due yet");
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    assert_eq!(sweep(later).await.unwrap(), 1);
    assert_eq!(
        w.notifications("ann@example.com", "SLA_BREACH").await.len(),
        1
    );
    let (status, body) = w.decide(&w.admin, &id, 1, true, "covering for Mia").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.stage_of(&deal).await, "Closed");
}

#[tokio::test]
async fn another_tenants_request_is_not_found() {
    let w = World::new().await;
    w.closing_rule(&["role:MANAGER"]).await;
    let deal = w.deal(&w.rep, "Ours", "100").await;
    let (_, card) = w.mv(&w.rep, &deal, "Closed").await;
    let id = held(&card);
    let other = w.app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = w.app.call::<ApprovalRequest>(&other, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w.decide(&other, &id, 1, true, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, queue) = w.app.call::<ApprovalQueue>(&other, &[]).await;
    assert_eq!(queue["requests"], json!([]));
    assert_eq!(w.stage_of(&deal).await, "Lead");
}
