//! Invites, seats, roles and deactivation.

use crate::common;

use app::team::api::*;
use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn an_invite_is_accepted_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, link) = app
        .call::<CreateInvite>(&owner, &[("email", "Bob@Example.com"), ("role", "MANAGER")])
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert!(link["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/invite/", app.base)));
    let token = token_of(&link);
    let guest = app.client();
    let (_, state) = app.call::<LookupInvite>(&guest, &[("token", &token)]).await;
    assert_eq!(state["Open"]["email"], "bob@example.com", "{state}");
    assert_eq!(state["Open"]["viewer"], "SignedOut", "{state}");
    assert!(
        !state.to_string().contains("account"),
        "nothing says whether the address has an account: {state}"
    );
    let (status, body) = app
        .call::<AcceptInvite>(
            &guest,
            &[("token", &token), ("name", "Bob"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body, "SignInNext",
        "the account is made; signing in is next"
    );
    let (status, _) = app.call::<GetTeam>(&guest, &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "not signed in by the invite form"
    );
    let (status, _) = app
        .call::<app::auth::api::Login>(
            &guest,
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, state) = app.call::<LookupInvite>(&guest, &[("token", &token)]).await;
    assert_eq!(state["Joined"]["tenant_name"], "Acme", "{state}");
    let (status, team) = app.call::<GetTeam>(&guest, &[]).await;
    assert_eq!(status, StatusCode::OK, "a manager sees the team: {team}");
    assert_eq!(team["members"].as_array().unwrap().len(), 2);

    let again = app.client();
    let (status, body) = app
        .call::<AcceptInvite>(
            &again,
            &[("token", &token), ("name", "Eve"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a used invite is refused: {body}"
    );
    let (_, state) = app.call::<LookupInvite>(&again, &[("token", &token)]).await;
    assert_eq!(state, "Used");
    let (_, state) = app
        .call::<LookupInvite>(&again, &[("token", "deadbeef")])
        .await;
    assert_eq!(state, "Unknown");
}

#[tokio::test]
async fn expired_and_revoked_invites_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, late) = app
        .call::<CreateInvite>(&owner, &[("email", "late@example.com"), ("role", "SALES")])
        .await;
    sqlx::query("UPDATE invites SET expires_at = now() - interval '1 minute' WHERE email = 'late@example.com'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let guest = app.client();
    let (_, state) = app
        .call::<LookupInvite>(&guest, &[("token", &token_of(&late))])
        .await;
    assert_eq!(state, "Expired");
    let (status, _) = app
        .call::<AcceptInvite>(
            &guest,
            &[
                ("token", &token_of(&late)),
                ("name", "L"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, gone) = app
        .call::<CreateInvite>(&owner, &[("email", "gone@example.com"), ("role", "SALES")])
        .await;
    let team: serde_json::Value = app.call::<GetTeam>(&owner, &[]).await.1;
    let id = id_in_team(&team, "invites", "gone@example.com", "id");
    let (status, _) = app
        .call::<RevokeInvite>(&owner, &[("invite_id", &id)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, state) = app
        .call::<LookupInvite>(&guest, &[("token", &token_of(&gone))])
        .await;
    assert_eq!(state, "Revoked");

    // A new link replaces the old one.
    let (_, first) = app
        .call::<CreateInvite>(&owner, &[("email", "again@example.com"), ("role", "SALES")])
        .await;
    let team: serde_json::Value = app.call::<GetTeam>(&owner, &[]).await.1;
    let id = id_in_team(&team, "invites", "again@example.com", "id");
    let (status, second) = app
        .call::<ResendInvite>(&owner, &[("invite_id", &id)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(token_of(&first), token_of(&second));
    let (_, state) = app
        .call::<LookupInvite>(&guest, &[("token", &token_of(&first))])
        .await;
    assert_eq!(state, "Unknown");
}

#[tokio::test]
async fn the_plan_seat_limit_holds() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    sqlx::query("UPDATE subscriptions SET plan_id = 'free'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    // Free has 3 seats: the owner plus two.
    app.invite_and_join(&owner, "one@example.com", "SALES")
        .await;
    let (status, pending) = app
        .call::<CreateInvite>(&owner, &[("email", "two@example.com"), ("role", "SALES")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call::<CreateInvite>(&owner, &[("email", "three@example.com"), ("role", "SALES")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("seats"), "{body}");
    // Seats filled another way meanwhile (a reactivation, say) still stop an acceptance.
    let tenant = app.tenant_of("ada@example.com").await;
    let extra = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'extra@example.com', 'Extra', 'x')")
        .bind(extra)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    sqlx::query("INSERT INTO memberships (id, tenant_id, user_id, role) VALUES (gen_random_uuid(), $1, $2, 'SALES')")
        .bind(tenant)
        .bind(extra)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app
        .call::<AcceptInvite>(
            &app.client(),
            &[
                ("token", &token_of(&pending)),
                ("name", "Two"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("seats"), "{body}");
}

#[tokio::test]
async fn roles_are_enforced_and_changes_audited() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let admin = app
        .invite_and_join(&owner, "admin@example.com", "ADMIN")
        .await;
    let sales = app
        .invite_and_join(&owner, "sales@example.com", "SALES")
        .await;

    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "sales does not see the team page"
    );
    let (status, _) = app
        .call::<CreateInvite>(&sales, &[("email", "x@example.com"), ("role", "SALES")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let team = app.call::<GetTeam>(&admin, &[]).await.1;
    let member = |email: &str| id_in_team(&team, "members", email, "membership_id");
    let (status, _) = app
        .call::<ChangeRole>(
            &admin,
            &[
                ("membership_id", &member("sales@example.com")),
                ("role", "OWNER"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an admin cannot make owners");
    let (status, _) = app
        .call::<ChangeRole>(
            &admin,
            &[
                ("membership_id", &member("ada@example.com")),
                ("role", "SALES"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin cannot demote the owner"
    );
    let (status, _) = app
        .call::<CreateInvite>(&admin, &[("email", "o@example.com"), ("role", "OWNER")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .call::<ChangeRole>(
            &owner,
            &[
                ("membership_id", &member("ada@example.com")),
                ("role", "ADMIN"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "nobody changes their own role"
    );
    let (status, body) = app
        .call::<ChangeRole>(
            &admin,
            &[
                ("membership_id", &member("sales@example.com")),
                ("role", "MANAGER"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(status, StatusCode::OK, "the promotion takes effect at once");

    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action = 'team.role_changed'
            AND before->>'role' = 'SALES' AND after->>'role' = 'MANAGER'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    let (status, _) = app
        .call::<SetMemberActive>(
            &admin,
            &[
                ("membership_id", &member("sales@example.com")),
                ("active", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deactivated member loses access at once"
    );
    let (_, status, body) = app.login("sales@example.com", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "and cannot sign back in: {body}"
    );
}

#[tokio::test]
async fn ids_from_another_tenant_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.signup("Ada", "ada@example.com", "Acme").await;
    app.invite_and_join(&a, "rep@example.com", "SALES").await;
    let b = app.signup("Bea", "bea@example.com", "Beta").await;
    let a_team = app.call::<GetTeam>(&a, &[]).await.1;
    let rep = id_in_team(&a_team, "members", "rep@example.com", "membership_id");
    let (status, _) = app
        .call::<ChangeRole>(&b, &[("membership_id", &rep), ("role", "ADMIN")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<SetMemberActive>(&b, &[("membership_id", &rep), ("active", "false")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let b_team = app.call::<GetTeam>(&b, &[]).await.1;
    assert_eq!(
        b_team["members"].as_array().unwrap().len(),
        1,
        "B sees only its own members: {b_team}"
    );
}

#[tokio::test]
async fn a_member_of_two_tenants_switches_between_them() {
    let app = TestApp::spawn().await;
    let a = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    // Bea invites Ada, who already has an account: she joins once signed in as herself.
    let (_, link) = app
        .call::<CreateInvite>(&bea, &[("email", "ada@example.com"), ("role", "ADMIN")])
        .await;
    let token = token_of(&link);
    let (_, state) = app.call::<LookupInvite>(&a, &[("token", &token)]).await;
    assert_eq!(state["Open"]["viewer"], "Invited", "{state}");
    let (_, state) = app.call::<LookupInvite>(&bea, &[("token", &token)]).await;
    assert_eq!(
        state["Open"]["viewer"]["Other"]["email"], "bea@example.com",
        "{state}"
    );
    let (status, _) = app
        .call::<AcceptInvite>(&bea, &[("token", &token), ("name", ""), ("password", "")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "someone else cannot use it");

    // Signed out, the form is no password oracle: a wrong and a right password for the
    // existing account get the answer a brand-new account gets, and neither joins.
    let mut answers = Vec::new();
    for password in ["wrong password!", PASSWORD] {
        let guest = app.client();
        answers.push(
            app.call::<AcceptInvite>(
                &guest,
                &[("token", &token), ("name", "Ada"), ("password", password)],
            )
            .await,
        );
        let (status, _) = app.call::<GetTeam>(&guest, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0],
        (StatusCode::OK, serde_json::Value::from("SignInNext"))
    );
    let (_, state) = app.call::<LookupInvite>(&a, &[("token", &token)]).await;
    assert_eq!(state["Open"]["viewer"], "Invited", "still open: {state}");

    let (status, body) = app
        .call::<AcceptInvite>(&a, &[("token", &token), ("name", ""), ("password", "")])
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::Value::from("Joined"))
    );
    let home = app.page(&a, "/").await.1;
    assert!(
        home.contains("Beta") && home.contains("Acme"),
        "both workspaces in the switcher"
    );
    let acme = app.tenant_of("ada@example.com").await;
    let (status, _) = app
        .call::<app::auth::api::SwitchTenant>(&a, &[("tenant_id", &acme.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, team) = app.call::<GetTeam>(&a, &[]).await;
    assert!(
        team["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["email"] == "ada@example.com" && m["role"] == "Owner"),
        "{team}"
    );
    let beta = app.tenant_of("bea@example.com").await;
    let stranger = app.signup("Cy", "cy@example.com", "Gamma").await;
    let (status, _) = app
        .call::<app::auth::api::SwitchTenant>(&stranger, &[("tenant_id", &beta.to_string())])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no switching into a tenant one is not a member of"
    );
}

/// Seats, members, owners and the tenant's own settings in one tenant, read by a
/// member who belongs to another tenant too.
#[tokio::test]
async fn a_member_of_two_tenants_is_counted_once_in_each() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let (_, link) = app
        .call::<CreateInvite>(&bea, &[("email", "ada@example.com"), ("role", "ADMIN")])
        .await;
    let (status, body) = app
        .call::<AcceptInvite>(
            &ada,
            &[
                ("token", &token_of(&link)),
                ("name", ""),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (acme, beta) = (
        app.tenant_of("ada@example.com").await,
        app.tenant_of("bea@example.com").await,
    );
    // Each tenant reads local numbers as its own country's.
    for (tenant, region) in [(acme, "EG"), (beta, "AE")] {
        sqlx::query("UPDATE tenants SET phone_region = $2 WHERE id = $1")
            .bind(tenant)
            .bind(region)
            .execute(&app.pools.owner)
            .await
            .unwrap();
    }
    let phone_saved_as = |phone: &'static str| {
        let (app, ada) = (&app, &ada);
        async move {
            let (status, id) = app
                .call::<app::crm::records::api::SaveRecord>(
                    ada,
                    &[("entity", "CONTACT"), ("name", "Local"), ("phone", phone)],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{phone}: {id}");
            sqlx::query_scalar::<_, String>("SELECT phone_e164 FROM contacts WHERE id = $1")
                .bind(id.as_str().unwrap().parse::<uuid::Uuid>().unwrap())
                .fetch_one(&app.pools.owner)
                .await
                .unwrap()
        }
    };

    // Accepting the invite signed Ada in to Beta: Bea and Ada.
    let (_, team) = app.call::<GetTeam>(&ada, &[]).await;
    assert_eq!(team["members"].as_array().unwrap().len(), 2, "{team}");
    assert_eq!(team["seats_used"], 2, "{team}");
    assert_eq!(phone_saved_as("050 123 4567").await, "+971501234567");

    let (status, _) = app
        .call::<app::auth::api::SwitchTenant>(&ada, &[("tenant_id", &acme.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, team) = app.call::<GetTeam>(&ada, &[]).await;
    assert_eq!(team["members"].as_array().unwrap().len(), 1, "{team}");
    assert_eq!(team["seats_used"], 1, "{team}");
    assert_eq!(phone_saved_as("0100 765 4321").await, "+201007654321");
    // The switcher, which reads across tenants, still lists both.
    let home = app.page(&ada, "/").await.1;
    assert!(home.contains("Beta") && home.contains("Acme"), "{home}");

    // What the last-owner rule counts, and any unfiltered read of tenants, as the
    // runtime role sees them in a transaction of Ada's.
    let ada_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    let db = app::db::Db::new(app.pools.app.clone());
    for tenant in [acme, beta] {
        let mut tx = db.tenant_tx(tenant, Some(ada_id)).await.unwrap();
        let (owners, memberships, tenants): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM memberships WHERE role = 'OWNER' AND status = 'ACTIVE'),
                    (SELECT count(*) FROM memberships),
                    (SELECT count(*) FROM tenants)",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let members = if tenant == acme { 1 } else { 2 };
        assert_eq!((owners, memberships, tenants), (1, members, 1), "{tenant}");
    }
    // Before a tenant is chosen, the user still sees their own rows everywhere.
    let mut tx = db.user_tx(ada_id).await.unwrap();
    let (memberships, tenants): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM memberships), (SELECT count(*) FROM tenants)")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!((memberships, tenants), (2, 2));
}

/// A workspace built only through the team page's own calls: the owner invites a
/// manager, a team lead and two reps and draws the reporting lines. Each manager then
/// sees their reports' leads at every depth, and nobody else's; loops and non-managers
/// are refused by field, and every change is audited.
#[tokio::test]
async fn a_manager_sees_the_team_the_team_page_draws() {
    use app::crm::records::api::{ListRecords, SaveRecord};
    use serde_json::json;
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    // Reps see only their own leads, not unassigned ones, so the scopes are exact.
    let client = |email: &'static str, role: &'static str| app.invite_and_join(&owner, email, role);
    let head = client("head@example.com", "MANAGER").await;
    let lead = client("lead@example.com", "MANAGER").await;
    let rep_a = client("a@example.com", "SALES").await;
    let rep_b = client("b@example.com", "SALES").await;
    for (who, name) in [
        (&rep_a, "A's buyer"),
        (&rep_b, "B's buyer"),
        (&lead, "Lead's buyer"),
    ] {
        let (status, body) = app
            .call::<SaveRecord>(who, &[("entity", "LEAD"), ("name", name)])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, team) = app.call::<GetTeam>(&owner, &[]).await;
    let member = |email: &str| {
        let m = team["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap();
        (
            m["membership_id"].as_str().unwrap().to_string(),
            m["user_id"].as_str().unwrap().to_string(),
        )
    };
    let (head_m, head_u) = member("head@example.com");
    let (lead_m, lead_u) = member("lead@example.com");
    let (a_m, a_u) = member("a@example.com");
    let set = |membership: String, manager: String| {
        let app = &app;
        let owner = &owner;
        async move {
            app.call::<SetManager>(
                owner,
                &[("membership_id", &membership), ("manager", &manager)],
            )
            .await
        }
    };
    // rep A → team lead → head of sales; rep B reports to nobody.
    for (m, manager) in [
        (a_m.clone(), lead_u.clone()),
        (lead_m.clone(), head_u.clone()),
    ] {
        let (status, body) = set(m, manager).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let leads = |who: &reqwest::Client| {
        let app = &app;
        let who = who.clone();
        async move {
            let (status, body) = app
                .call_json::<ListRecords>(
                    &who,
                    &json!({ "entity": "Lead", "filter": {}, "sort": "Newest", "after": null }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let mut names: Vec<String> = body["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        leads(&head).await,
        ["A's buyer", "Lead's buyer"],
        "two levels down"
    );
    assert_eq!(leads(&lead).await, ["A's buyer", "Lead's buyer"]);
    assert_eq!(leads(&rep_a).await, ["A's buyer"]);

    // No loops, no reps as managers, nothing from outside the workspace.
    let (status, body) = set(head_m.clone(), a_u.clone()).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("manager")),
        "{body}"
    );
    let (status, body) = set(head_m.clone(), lead_u.clone()).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("manager")),
        "{body}"
    );
    let (status, _) = set(lead_m.clone(), lead_u.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "oneself");
    let other = app.signup("Eve", "eve@example.com", "Elsewhere").await;
    let (_, theirs) = app.call::<GetTeam>(&other, &[]).await;
    let eve = theirs["members"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = set(a_m.clone(), eve).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another tenant's member"
    );
    let (status, _) = app
        .call::<SetManager>(&other, &[("membership_id", &a_m), ("manager", "")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's membership");
    let (status, _) = app
        .call::<SetManager>(&rep_a, &[("membership_id", &a_m), ("manager", "")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Lines can be undone, and the manager then sees only their own.
    let (status, _) = set(lead_m.clone(), String::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(leads(&head).await.is_empty(), "no reports any more");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'team.manager_changed'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(audited, 3);
}
