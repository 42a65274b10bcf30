//! Working the queue beyond the basics: manual flags, filters by assignee and
//! sequence, and replies from templates outside WhatsApp's window.

use super::*;

#[tokio::test]
async fn a_member_flags_any_message_of_a_lead_they_see_for_review() {
    use app::outreach::api::GetLeadOutreach;
    use app::review::api::FlagForReview;
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(
        &w,
        &leads[0].1,
        "Yes I'm interested, send me the details 👍",
    )
    .await;
    assert_eq!(w.scalar_i64("SELECT count(*) FROM review_items").await, 0);
    let message: Uuid =
        sqlx::query_scalar("SELECT id FROM messages WHERE lead_id = $1 AND direction = 'IN'")
            .bind(leads[0].0)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();

    // A rep sees only their own leads (and unassigned ones): Ada's is not theirs to flag.
    sqlx::query(
        "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let flag = |note: &str| json!({ "message_id": message, "note": note });
    let (status, _) = w.app.call_json::<FlagForReview>(&rep, &flag("")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = w
        .app
        .call_json::<FlagForReview>(&w.admin, &flag(&"x".repeat(501)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("note"), "{body}");

    let (status, body) = w
        .app
        .call_json::<FlagForReview>(&w.admin, &flag("Asks for a discount we cannot give"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (reason, priority, note, by): (String, String, String, Option<Uuid>) = sqlx::query_as(
        "SELECT reason, priority, note, created_by FROM review_items WHERE message_id = $1",
    )
    .bind(message)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!((reason.as_str(), priority.as_str()), ("MANUAL", "MEDIUM"));
    assert_eq!(note, "Asks for a discount we cannot give");
    assert!(by.is_some());
    let (status, body) = w.app.call_json::<FlagForReview>(&w.admin, &flag("")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("already in the review queue"));
    let (_, outreach) = w
        .app
        .call_json::<GetLeadOutreach>(&w.admin, &json!({ "lead_id": leads[0].0 }))
        .await;
    let flagged: Vec<bool> = outreach["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["in_review"].as_bool().unwrap())
        .collect();
    assert!(
        flagged.contains(&true) && flagged.contains(&false),
        "{flagged:?}"
    );

    // Another workspace's admin cannot reach the message at all.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let (status, _) = w
        .app
        .call_json::<FlagForReview>(&other.admin, &flag(""))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'review_item.flagged'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_queue_filters_by_assignee_and_by_sequence() {
    use app::review::api::ReviewFilterOptions;
    let w = world().await;
    let leads = contacted(&w, 2).await;
    reply(&w, &leads[0].1, "Not interested").await;
    reply(&w, &leads[1].1, "Not interested, thanks").await;
    let all = queue(&w, &w.admin, default_filter()).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let id = all["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = w
        .app
        .call_json::<ReviewAct>(&w.admin, &json!({ "id": id, "action": "Claim" }))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, options) = w
        .app
        .call_json::<ReviewFilterOptions>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let ada = options["assignees"][0][0].clone();
    assert_eq!(options["assignees"][0][1], "Ada");
    assert_eq!(options["sequences"][0][1], "Review");
    let sequence = options["sequences"][0][0].clone();

    let mut by_assignee = default_filter();
    by_assignee["assignee"] = ada;
    let page = queue(&w, &w.admin, by_assignee).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let mut by_sequence = default_filter();
    by_sequence["sequence"] = sequence;
    assert_eq!(
        queue(&w, &w.admin, by_sequence.clone()).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    by_sequence["sequence"] = json!(Uuid::new_v4());
    assert_eq!(
        queue(&w, &w.admin, by_sequence).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn outside_whatsapps_window_the_queue_answers_with_an_approved_template() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "ok").await;
    let page = queue(&w, &w.admin, default_filter()).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    // The lead wrote two days ago: free text may no longer go out on WhatsApp.
    sqlx::query("UPDATE lead_journeys SET last_inbound_at = now() - interval '2 days'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let (status, detail) = w.app.call::<ReviewItem>(&w.admin, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let template = detail["templates"][0]["id"].as_str().unwrap().to_string();
    let text = detail["templates"][0]["text"].as_str().unwrap().to_string();
    let (status, body) = w
        .app
        .call::<ReviewReply>(&w.admin, &[("id", &id), ("body", "Still interested?")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, detail) = w
        .app
        .call::<ReviewReply>(
            &w.admin,
            &[("id", &id), ("body", &text), ("template_id", &template)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["resolution"], "Replied");
    let (name, body): (Option<String>, String) = sqlx::query_as(
        "SELECT wa_template_name, body FROM messages WHERE direction = 'OUT' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        name.as_deref(),
        Some("intro"),
        "sent as Meta's approved template"
    );
    assert_eq!(body, text);
}
