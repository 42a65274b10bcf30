//! Messages metered against the plan's monthly limit per channel: counted as they go
//! to the provider, refused to a member at the limit, held (never dropped) past it,
//! and let go by an upgrade.

use super::world::world;
use super::*;
use app::billing::api::{BillingOverview, BuyMessagePack};
use app::billing::model::{Metric, Overview};
use app::outreach::api::SendMessage;

#[tokio::test]
async fn messages_past_the_monthly_limit_wait_visibly_and_go_after_an_upgrade() {
    let w = world().await;
    // Pro, with room for three WhatsApp messages a month (each test has its database).
    sqlx::query("UPDATE plans SET wa_messages_limit = 3 WHERE id = 'pro'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.phone("P", "meter-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Metered", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(5, true, false).await;
    w.enrol(seq, &leads).await;

    // The scheduler queues what the month has room for; the rest wait, still enrolled.
    assert_eq!(w.schedule().await, 3);
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM enrollments WHERE status = 'ACTIVE' AND next_run_at > now()"
        )
        .await,
        2
    );
    // A member's own message is refused with the limit named, not queued.
    let (status, body) = w
        .app
        .call::<SendMessage>(
            &w.admin,
            &[
                ("lead_id", &leads[4].to_string()),
                ("channel", "WHATSAPP"),
                ("template_id", &template.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("WhatsApp messages this month")
            && text.contains("allows 3")
            && text.contains("/billing"),
        "{text}"
    );

    // A send that fails for now is not counted: its place is given back.
    w.peer.fail_next(1, peer::Failure::Transient);
    assert_eq!(w.dispatch().await, 2);
    let counted = || {
        w.scalar_i64(
            "SELECT coalesce(sum(used), 0)::bigint FROM usage_counters WHERE metric = 'WhatsAppMessages'",
        )
    };
    assert_eq!(counted().await, 2);

    // The plan shrinks under a queued message: it waits in the outbox, marked, with
    // the reason on the message, instead of going or being dropped.
    sqlx::query("UPDATE plans SET wa_messages_limit = 2 WHERE id = 'pro'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET due_at = now()")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 0);
    let (status, reason, held, next_month): (String, String, bool, bool) = sqlx::query_as(
        "SELECT m.status, m.last_error, o.held_by_limit,
                o.due_at = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 month'
           FROM messages m JOIN outbox o ON o.message_id = m.id",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!((status.as_str(), held, next_month), ("QUEUED", true, true));
    assert!(
        reason.starts_with("Waiting: WhatsApp messages this month (2)"),
        "{reason}"
    );
    assert_eq!(
        w.scalar_i64("SELECT attempts::bigint FROM outbox").await,
        1,
        "a held message's try is not counted: the transient failure's is"
    );
    assert_eq!(counted().await, 2);

    // The billing page shows the usage, the cap and the waiting message; the owner
    // was told at 80 % and at 100 %.
    let (status, o) = w.app.call::<BillingOverview>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    let o: Overview = serde_json::from_value(o).unwrap();
    let wa = o
        .usage
        .iter()
        .find(|u| u.metric == Metric::WhatsAppMessages)
        .unwrap();
    assert_eq!((wa.used, wa.limit), (2, Some(2)));
    assert_eq!(o.held_messages, 1);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM usage_warnings WHERE metric = 'WhatsAppMessages'")
            .await,
        2
    );
    assert!(
        w.scalar_i64(
            "SELECT count(*) FROM notifications WHERE kind = 'USAGE_WARNING' AND body LIKE 'WhatsApp messages this month: 3 of 3%'"
        )
        .await
            >= 1
    );

    // An upgrade lets it go at once; the waiting note goes with it.
    sqlx::query("UPDATE subscriptions SET plan_id = 'enterprise' WHERE tenant_id = $1")
        .bind(w.tenant)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 1);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'SENT' AND last_error IS NULL")
            .await,
        3
    );
    assert_eq!(counted().await, 3);
    assert_eq!(w.scalar_i64("SELECT count(*) FROM outbox").await, 0);
    // And the enrolments that waited take their step when they come due.
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 2);
    assert_eq!(w.dispatch().await, 2);
    assert_eq!(counted().await, 5);
    assert_eq!(w.peer.messages().len(), 5);
}

#[tokio::test]
async fn a_message_pack_lets_messages_held_by_the_cap_go_this_month() {
    let w = world().await;
    sqlx::query("UPDATE plans SET wa_messages_limit = 3 WHERE id = 'pro'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.phone("P", "meter-pack", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Metered", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(3, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 3);
    // The cap shrinks to one under three queued messages: one goes, two are held
    // until next month.
    sqlx::query("UPDATE plans SET wa_messages_limit = 1 WHERE id = 'pro'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 1);
    let held = "SELECT count(*) FROM outbox WHERE held_by_limit AND due_at > now()";
    assert_eq!(w.scalar_i64(held).await, 2);

    // An email pack is no use to WhatsApp: they stay held.
    let (status, body) = w
        .app
        .call::<BuyMessagePack>(&w.admin, &[("addon", "email_pack"), ("packs", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.scalar_i64(held).await, 2);

    // A WhatsApp pack: due now, and they go in this month.
    let (status, body) = w
        .app
        .call::<BuyMessagePack>(&w.admin, &[("addon", "wa_pack"), ("packs", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM outbox WHERE held_by_limit")
            .await,
        0
    );
    assert_eq!(w.dispatch().await, 2);
    assert_eq!(
        w.scalar_i64(
            "SELECT coalesce(sum(used), 0)::bigint FROM usage_counters WHERE metric = 'WhatsAppMessages'",
        )
        .await,
        3
    );
    assert_eq!(w.peer.messages().len(), 3);
}
