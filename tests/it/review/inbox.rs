//! My inbox and the tab's live stream: replies on a rep's own leads, unread first,
//! answered in place, and who hears of what.

use super::*;

#[tokio::test]
async fn my_inbox_holds_the_replies_on_my_leads_and_answers_them_in_place() {
    use app::review::inbox::{AnswerReply, MyInbox};
    let w = world().await;
    let leads = contacted(&w, 2).await;
    // Ada owns the first lead; nobody owns the second.
    sqlx::query("UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com') WHERE id = $1")
        .bind(leads[0].0)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    reply(&w, &leads[0].1, "Can you send the floor plans?").await;
    reply(&w, &leads[1].1, "Who is this?").await;
    let (status, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let replies = inbox.as_array().unwrap();
    assert_eq!(replies.len(), 1, "{inbox}");
    assert_eq!(replies[0]["body"], "Can you send the floor plans?");
    assert_eq!(replies[0]["intent"], "QUESTION");
    let id = replies[0]["id"].as_str().unwrap().to_string();
    // A rep sees none of Ada's replies, and cannot answer them.
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (_, theirs) = w.app.call::<MyInbox>(&rep, &[]).await;
    assert_eq!(theirs.as_array().unwrap().len(), 0);
    let (status, _) = w
        .app
        .call::<AnswerReply>(&rep, &[("message_id", &id), ("body", "hi")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ada answers; it goes out through the outbox.
    let (status, body) = w
        .app
        .call::<AnswerReply>(&w.admin, &[("message_id", &id), ("body", "  ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = w
        .app
        .call::<AnswerReply>(
            &w.admin,
            &[("message_id", &id), ("body", "Here they are: floor 12.")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.dispatch().await;
    assert!(w
        .peer
        .messages()
        .iter()
        .any(|m| m.body.contains("Here they are: floor 12.")));
    // Answered is read.
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(inbox[0]["seen"], true, "{inbox}");
}

/// Everything a stream carries within `secs` seconds.
async fn heard(stream: &mut reqwest::Response, secs: u64) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut seen = String::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, stream.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn a_tabs_one_stream_tells_reviewers_of_the_queue_and_owners_of_their_replies_only() {
    let w = world().await;
    let leads = contacted(&w, 2).await;
    let sam = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let bea = w.app.signup("Bea", "bea@example.com", "Beta").await;
    for (lead, owner) in [
        (leads[0].0, "ada@example.com"),
        (leads[1].0, "sam@example.com"),
    ] {
        sqlx::query(
            "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = $2) WHERE id = $1",
        )
        .bind(lead)
        .bind(owner)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    }
    let mut ada_stream = w.app.get(&w.admin, "/events").await;
    assert_eq!(ada_stream.status(), StatusCode::OK);
    let mut sam_stream = w.app.get(&sam, "/events").await;
    let mut bea_stream = w.app.get(&bea, "/events").await;
    // The listener starts with the first stream; give it a moment to LISTEN.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // A refusal on Ada's lead: a queue item (to confirm) and a notice for Ada.
    reply(&w, &leads[0].1, "Not interested, thanks").await;
    let ada_heard = heard(&mut ada_stream, 2).await;
    assert!(ada_heard.contains("event: review"), "{ada_heard}");
    assert!(ada_heard.contains("event: notice"), "{ada_heard}");
    // Sam neither reviews nor owns that lead; Bea is another workspace.
    let sam_heard = heard(&mut sam_stream, 1).await;
    assert!(!sam_heard.contains("event:"), "{sam_heard}");
    let bea_heard = heard(&mut bea_stream, 1).await;
    assert!(!bea_heard.contains("event:"), "{bea_heard}");

    // A question on Sam's lead: Sam hears of it.
    reply(&w, &leads[1].1, "Can you send the floor plans?").await;
    let sam_heard = heard(&mut sam_stream, 2).await;
    assert!(sam_heard.contains("event: notice"), "{sam_heard}");
    assert!(!sam_heard.contains("event: review"), "{sam_heard}");

    // Signed out: no stream.
    let anon = w.app.client();
    let res = w.app.get(&anon, "/events").await;
    assert!(res.status().is_redirection() || res.status() == StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn my_inbox_lists_unread_replies_first_and_marks_them_read() {
    use app::review::inbox::{MarkReplyRead, MyInbox};
    let w = world().await;
    let leads = contacted(&w, 2).await;
    sqlx::query(
        "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    reply(&w, &leads[0].1, "Can you send the floor plans?").await;
    reply(&w, &leads[1].1, "What is the price per metre?").await;
    let bodies = |inbox: &Value| -> Vec<(String, bool)> {
        inbox
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["body"].as_str().unwrap().to_string(),
                    r["seen"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(
        bodies(&inbox),
        [
            ("What is the price per metre?".to_string(), false),
            ("Can you send the floor plans?".to_string(), false)
        ]
    );
    let newest = inbox[0]["id"].as_str().unwrap().to_string();
    // Another member may not mark Ada's replies, nor learn they exist.
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&rep, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Twice is fine.
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(
        bodies(&inbox),
        [
            ("Can you send the floor plans?".to_string(), false),
            ("What is the price per metre?".to_string(), true)
        ],
        "unread first"
    );
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", "not-an-id")])
        .await;
    assert!(status.is_client_error(), "{status}");
}
