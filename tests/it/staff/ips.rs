//! The sending IP pool: addresses staff add and assign domains to, checked against
//! DNS blocklists over real DNS (the test's own server answers), warmed up day by day,
//! and changed only by staff who hold `ips.manage`.

use super::make_staff;
use crate::common::*;
use app::outreach::api::AddDomain;
use app::staff::api::{
    AddSendingIp, AssignIpDomain, CheckSendingIp, SetConfig, SetIpStatus, StaffAuditLog,
    StaffSendingIps, UnassignIpDomain,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn ip<'a>(pool: &'a Value, address: &str) -> &'a Value {
    pool["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ip| ip["address"] == address)
        .unwrap_or_else(|| panic!("{address} not in {pool}"))
}

async fn slug_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT slug FROM tenants WHERE id = $1")
        .bind(app.tenant_of(email).await)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn staff_check_sending_ips_against_blocklists_warm_them_up_and_assign_domains() {
    // Three lists: one lists 5.9.0.10 (with a reason), one lists nothing, and one
    // holds no test entry, so it cannot vouch for anything.
    let records: crate::common::dns::Records = Arc::new(Mutex::new(HashMap::from([
        (
            "2.0.0.127.bl.test".to_string(),
            vec!["127.0.0.2".to_string()],
        ),
        (
            "10.0.9.5.bl.test".to_string(),
            vec![
                "127.0.0.3".to_string(),
                "https://bl.test/query/5.9.0.10".to_string(),
            ],
        ),
        (
            "2.0.0.127.clean.test".to_string(),
            vec!["127.0.0.2".to_string()],
        ),
    ])));
    let resolver = crate::common::dns::server(records.clone()).await;
    let app = TestApp::spawn_with(|c| c.dns_resolver = resolver).await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let sam = app.signup("Sam", "sam@leadline.test", "Leadline HQ").await;
    let (acme, beta) = (
        slug_of(&app, "ada@example.com").await,
        slug_of(&app, "bea@example.com").await,
    );
    for (client, domain) in [(&ada, "mail.acme.example"), (&bea, "mail.beta.example")] {
        let (status, body) = app.call::<AddDomain>(client, &[("domain", domain)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // A workspace OWNER is nobody here; support staff may look but not change.
    let (status, _) = app.call::<StaffSendingIps>(&ada, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    make_staff(&app, "sam@leadline.test", "support", true).await;
    let (status, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    assert_eq!(status, StatusCode::OK, "{pool}");
    assert_eq!(pool["can_manage"], false);
    let (status, _) = app
        .call::<AddSendingIp>(&sam, &[("address", "5.9.0.10")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    make_staff(&app, "sam@leadline.test", "owner", true).await;

    // The lists to ask are a platform setting.
    let (status, body) = app
        .call::<SetConfig>(
            &sam,
            &[
                ("key", "sending.dnsbl_zones"),
                ("value", "bl.test, clean.test, quiet.test"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Only public host addresses, each once.
    for (typed, problem) in [
        ("10.0.0.7", "private or reserved"),
        ("203.0.113.9", "private or reserved"),
        ("5.9.0.0/24", "one IPv4 or IPv6 address"),
        ("mail.example.com", "one IPv4 or IPv6 address"),
    ] {
        let (status, body) = app.call::<AddSendingIp>(&sam, &[("address", typed)]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}: {body}");
        assert_eq!(error_field(&body), Some("address"));
        assert!(error_text(&body).contains(problem), "{typed}: {body}");
    }
    for address in ["5.9.0.10", "5.9.0.11", "2a01:4f8::25"] {
        let (status, body) = app
            .call::<AddSendingIp>(&sam, &[("address", address), ("note", "fsn1 rack 4")])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .call::<AddSendingIp>(&sam, &[("address", " 5.9.0.10 ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_text(&body).contains("in the pool already"), "{body}");

    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    assert_eq!(pool["can_manage"], true);
    assert_eq!(
        pool["zones"],
        serde_json::json!(["bl.test", "clean.test", "quiet.test"])
    );
    let bad = ip(&pool, "5.9.0.10")["id"].as_str().unwrap().to_string();
    let good = ip(&pool, "5.9.0.11")["id"].as_str().unwrap().to_string();
    assert_eq!(ip(&pool, "5.9.0.10")["status"], "Available");
    assert_eq!(ip(&pool, "5.9.0.10")["reputation"], Value::Null);

    // Warming starts the warm-up at day 1.
    let (status, body) = app
        .call::<SetIpStatus>(&sam, &[("id", &bad), ("status", "warming")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    assert_eq!(
        ip(&pool, "5.9.0.10")["warmup"],
        serde_json::json!({ "day": 1, "daily_cap": 50 })
    );
    let (status, body) = app
        .call::<SetIpStatus>(&sam, &[("id", &bad), ("status", "assigned")])
        .await;
    assert_eq!(error_field(&body), Some("status"), "{status} {body}");

    // Domains: only a workspace's own domain, under its own address.
    let assign = |id: &str, workspace: &str, domain: &str| {
        let (id, workspace, domain) = (id.to_string(), workspace.to_string(), domain.to_string());
        let app = &app;
        let sam = &sam;
        async move {
            app.call::<AssignIpDomain>(
                sam,
                &[
                    ("id", id.as_str()),
                    ("workspace", workspace.as_str()),
                    ("domain", domain.as_str()),
                ],
            )
            .await
        }
    };
    let (status, body) = assign(&bad, "no-such-workspace", "mail.acme.example").await;
    assert_eq!(error_field(&body), Some("workspace"), "{status} {body}");
    let (status, body) = assign(&bad, &acme, "mail.beta.example").await;
    assert_eq!(error_field(&body), Some("domain"), "{status} {body}");
    assert!(error_text(&body).contains("no sending domain"), "{body}");
    let (status, body) = assign(&bad, &acme, "Mail.Acme.Example.").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = assign(&bad, &acme, "mail.acme.example").await;
    assert!(error_text(&body).contains("already"), "{status} {body}");
    let (status, body) = assign(&good, &beta, "mail.beta.example").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    let domains = &ip(&pool, "5.9.0.10")["domains"];
    assert_eq!(domains.as_array().unwrap().len(), 1);
    assert_eq!(domains[0]["domain"], "mail.acme.example");
    assert_eq!(domains[0]["workspace"], "Acme");

    // A workspace reads its own domain's address and nobody else's.
    let db = app::db::Db::new(app.pools.app.clone());
    for (email, expected) in [
        ("ada@example.com", vec!["5.9.0.10".to_string()]),
        ("bea@example.com", vec!["5.9.0.11".to_string()]),
    ] {
        let mut tx = db
            .tenant_tx(app.tenant_of(email).await, None)
            .await
            .unwrap();
        let seen: Vec<String> = sqlx::query_scalar(
            "SELECT host(i.address) FROM domain_ip_assignments a JOIN sending_ips i ON i.id = a.ip_id",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(seen, expected, "{email}");
        let moved = sqlx::query("UPDATE sending_ips SET status = 'warmed'")
            .execute(&mut *tx)
            .await;
        assert!(moved.is_err(), "the runtime role cannot change the pool");
    }

    // Check now: listed on one list, clear on one, and one that cannot vouch. One
    // listing is a fair reputation, and an address in use that is listed is degraded.
    let (status, body) = app.call::<CheckSendingIp>(&sam, &[("id", &bad)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    let checked = ip(&pool, "5.9.0.10");
    assert_eq!(checked["reputation"], "Fair", "{checked}");
    assert_eq!(checked["status"], "Degraded");
    assert_eq!(checked["status_note"], "Listed on bl.test");
    assert_eq!(checked["warmup"], Value::Null);
    let lists = checked["blocklists"].as_array().unwrap();
    assert_eq!(lists[0]["zone"], "bl.test");
    assert_eq!(lists[0]["verdict"], "listed");
    assert_eq!(lists[0]["codes"], serde_json::json!(["127.0.0.3"]));
    assert_eq!(lists[0]["reason"], "https://bl.test/query/5.9.0.10");
    assert_eq!(lists[1]["verdict"], "clear");
    assert_eq!(lists[2]["verdict"], "unknown");
    assert!(
        lists[2]["reason"]
            .as_str()
            .unwrap()
            .contains("test entry 127.0.0.2"),
        "{}",
        lists[2]
    );
    // A degraded address takes no new domains.
    let (status, body) = assign(&bad, &beta, "mail.beta.example").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Burning it moves its domains off, and says which.
    let (status, ended) = app
        .call::<SetIpStatus>(
            &sam,
            &[
                ("id", &bad),
                ("status", "burned"),
                ("reason", "on three lists"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended, serde_json::json!(["mail.acme.example (Acme)"]));
    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    assert_eq!(ip(&pool, "5.9.0.10")["domains"], serde_json::json!([]));

    // Moving a domain off by hand.
    let assignment = ip(&pool, "5.9.0.11")["domains"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = app
        .call::<UnassignIpDomain>(&sam, &[("assignment", &assignment)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .call::<UnassignIpDomain>(&sam, &[("assignment", &assignment)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The schedule's run: a clean address warming for its 30 days is warmed; the IPv6
    // address has no list that holds an IPv6 test entry, so its grade stays unknown.
    let (status, _) = app
        .call::<SetIpStatus>(&sam, &[("id", &good), ("status", "warming")])
        .await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query("UPDATE sending_ips SET warmup_started_on = current_date - 30 WHERE id = $1::uuid")
        .bind(&good)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let summary = app::staff::ssr::ips::check_all(&app.pools.app, resolver)
        .await
        .unwrap();
    assert_eq!(
        summary,
        "3 sending addresses checked against 3 blocklists; 0 newly degraded, 1 newly warmed"
    );
    let (_, pool) = app.call::<StaffSendingIps>(&sam, &[]).await;
    assert_eq!(ip(&pool, "5.9.0.11")["status"], "Warmed");
    assert_eq!(ip(&pool, "5.9.0.11")["reputation"], "Good");
    assert_eq!(ip(&pool, "2a01:4f8::25")["reputation"], Value::Null);
    assert!(ip(&pool, "2a01:4f8::25")["checked_at"].is_string());
    assert_eq!(
        ip(&pool, "5.9.0.10")["status"],
        "Burned",
        "a check never lifts staff's verdict"
    );

    // Every change is in the staff log.
    let (_, log) = app.call::<StaffAuditLog>(&sam, &[]).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["ip.added", "ip.status", "ip.assigned", "ip.unassigned"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
