//! Row-level security, proven from the catalog: every table with a tenant_id column is
//! checked, so a new table is covered the day it is added.

use crate::common;

use common::*;
use sqlx::{Executor, Row};
use uuid::Uuid;

/// Two tenants with a row of their own in every tenant table.
async fn two_tenants(app: &TestApp) -> (Uuid, Uuid) {
    let a = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = app.signup("Bea", "bea@example.com", "Beta").await;
    for (client, email) in [(&a, "a-invitee@example.com"), (&b, "b-invitee@example.com")] {
        let (status, body) = app
            .call::<app::team::api::CreateInvite>(client, &[("email", email), ("role", "SALES")])
            .await;
        assert!(status.is_success(), "{body}");
    }
    let (ta, tb) = (
        app.tenant_of("ada@example.com").await,
        app.tenant_of("bea@example.com").await,
    );
    sqlx::query("INSERT INTO feature_flags (key, enabled, rollout_percentage) VALUES ('demo.flag', true, 50)")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    for t in [ta, tb] {
        sqlx::query("INSERT INTO tenant_features (tenant_id, id, feature_key, enabled) VALUES ($1, gen_random_uuid(), 'demo.flag', true)")
            .bind(t)
            .execute(&app.pools.owner)
            .await
            .unwrap();
    }
    for (t, email) in [(ta, "ada@example.com"), (tb, "bea@example.com")] {
        crm_fixture(app, t, email).await;
    }
    (ta, tb)
}

/// One row in every CRM table for tenant `t`, owned by the member with `email`.
async fn crm_fixture(app: &TestApp, t: Uuid, email: &str) {
    let statements = [
        "INSERT INTO companies (tenant_id, id, name, owner_id) VALUES ($1, gen_random_uuid(), 'Co', $2)",
        "INSERT INTO contacts (tenant_id, id, full_name, company_id, owner_id)
         SELECT $1, gen_random_uuid(), 'Cy', id, $2 FROM companies WHERE tenant_id = $1",
        "INSERT INTO leads (tenant_id, id, name, contact_id, owner_id)
         SELECT $1, gen_random_uuid(), 'Le', id, $2 FROM contacts WHERE tenant_id = $1",
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, position, owner_id, lead_id)
         SELECT $1, gen_random_uuid(), s.pipeline_id, s.id, 'De', 1, $2, (SELECT id FROM leads WHERE tenant_id = $1)
           FROM stages s WHERE s.tenant_id = $1 AND s.position = 1",
        "INSERT INTO activities (tenant_id, id, kind, deal_id, actor_id, body)
         SELECT $1, gen_random_uuid(), 'NOTE', id, $2, 'hi' FROM deals WHERE tenant_id = $1",
        // Fills deal_stage_reached through its trigger.
        "INSERT INTO activities (tenant_id, id, kind, deal_id, actor_id, data)
         SELECT $1, gen_random_uuid(), 'STAGE_CHANGE', id, $2, jsonb_build_object('to_stage', stage_id::text)
           FROM deals WHERE tenant_id = $1",
        // Meetings and calendar feeds (0046).
        "INSERT INTO activities (tenant_id, id, kind, deal_id, actor_id, subject, starts_at, ends_at)
         SELECT $1, gen_random_uuid(), 'MEETING', id, $2, 'Meet', now(), now() + interval '1 hour' FROM deals WHERE tenant_id = $1",
        "INSERT INTO meeting_attendees (tenant_id, activity_id, user_id)
         SELECT $1, id, $2 FROM activities WHERE tenant_id = $1 AND kind = 'MEETING'",
        "INSERT INTO calendar_feeds (tenant_id, user_id, token_hash) VALUES ($1, $2, sha256($1::text::bytea))",
        "INSERT INTO support_sessions (tenant_id, staff_user_id, reason, expires_at)
         VALUES ($1, $2, 'ticket', now() + interval '1 hour')",
        "INSERT INTO usage_counters (tenant_id, metric, period, used)
         SELECT $1, 'EmailMessages', date_trunc('month', now())::date, 1 WHERE $2::uuid IS NOT NULL",
        "INSERT INTO record_merges (tenant_id, id, entity, kept_id, merged_id, merged_name, kept_before,
                                    kept_after, merged_row, moved, merged_by)
         SELECT $1, gen_random_uuid(), 'LEAD', id, gen_random_uuid(), 'Gone', '{}', '{}', '{}', '{}', $2
           FROM leads WHERE tenant_id = $1",
        "INSERT INTO lists (tenant_id, id, name, entity, kind, owner_id) VALUES ($1, gen_random_uuid(), 'L', 'LEAD', 'STATIC', $2)",
        "INSERT INTO list_members (tenant_id, list_id, record_id)
         SELECT $1, l.id, d.id FROM lists l, leads d WHERE l.tenant_id = $1 AND d.tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO custom_fields (tenant_id, id, entity, key, label, kind) SELECT $1, gen_random_uuid(), 'LEAD', 'budget', 'Budget', 'NUMBER' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO evidence (tenant_id, id, lead_id, kind, title, created_by)
         SELECT $1, gen_random_uuid(), id, 'WEBSITE', 'Site', $2 FROM leads WHERE tenant_id = $1",
        "INSERT INTO reports (tenant_id, id, lead_id, title, author_id)
         SELECT $1, gen_random_uuid(), id, 'Report', $2 FROM leads WHERE tenant_id = $1",
        "INSERT INTO jobs (tenant_id, id, kind, entity, created_by) VALUES ($1, gen_random_uuid(), 'EXPORT', 'LEAD', $2)",
        "INSERT INTO job_files (tenant_id, job_id, name, content)
         SELECT $1, id, 'output', 'a,b' FROM jobs WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO job_logs (tenant_id, job_id, level, message)
         SELECT $1, id, 'INFO', 'started' FROM jobs WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO review_items (tenant_id, id, lead_id, reason, priority, sla_due_at, created_by)
         SELECT $1, gen_random_uuid(), id, 'MANUAL', 'LOW', now(), $2 FROM leads WHERE tenant_id = $1",
        "INSERT INTO review_settings (tenant_id, keywords) SELECT $1, ARRAY['lawyer'] WHERE $2::uuid IS NOT NULL",
        // Approvals (0028).
        "INSERT INTO approval_rules (tenant_id, id, name, trigger, stage_id, created_by)
         SELECT $1, gen_random_uuid(), 'R', 'STAGE_ENTERED', id, $2 FROM stages WHERE tenant_id = $1 AND position = 5",
        "INSERT INTO approval_rule_levels (tenant_id, rule_id, position, role)
         SELECT $1, id, 1, 'MANAGER' FROM approval_rules WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO approval_requests (tenant_id, id, rule_id, rule_name, deal_id, from_stage_id, to_stage_id,
                                        deal_version, levels, requested_by, sla_due_at)
         SELECT $1, gen_random_uuid(), r.id, r.name, d.id, d.stage_id, r.stage_id, d.version, '[{\"role\": \"MANAGER\"}]', $2, now()
           FROM approval_rules r, deals d WHERE r.tenant_id = $1 AND d.tenant_id = $1",
        "INSERT INTO approval_decisions (tenant_id, id, request_id, level, actor_id, decision)
         SELECT $1, gen_random_uuid(), id, 1, $2, 'APPROVED' FROM approval_requests WHERE tenant_id = $1",
        "INSERT INTO billing_profiles (tenant_id, company_name) SELECT $1, 'Co' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO invoice_counters (tenant_id, last_number) SELECT $1, 1 WHERE $2::uuid IS NOT NULL",
        "INSERT INTO invoices (tenant_id, id, number, currency, subtotal_minor, total_minor) SELECT $1, gen_random_uuid(), 1, 'USD', 100, 100 WHERE $2::uuid IS NOT NULL",
        "INSERT INTO invoice_lines (tenant_id, invoice_id, position, kind, description, amount_minor) SELECT $1, id, 0, 'PLAN', 'Plan', 100 FROM invoices WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO billing_events (id, tenant_id, type, created, payload, outcome) SELECT 'evt_' || $1::text, $1, 'invoice.paid', now(), '{}', 'applied' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO payment_attempts (tenant_id, id, invoice_id, attempt, kind, due_at, idempotency_key)
         SELECT $1, gen_random_uuid(), id, 1, 'ISSUE', now(), 'key-' || id FROM invoices WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO usage_warnings (tenant_id, metric, period, threshold) SELECT $1, 'Records', current_date, 80 WHERE $2::uuid IS NOT NULL",
        "INSERT INTO developers (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'Dev' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO projects (tenant_id, id, developer_id, name) SELECT $1, gen_random_uuid(), id, 'Towers' FROM developers WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO unit_types (tenant_id, code, label, kind) SELECT $1, 'PENTHOUSE', 'Penthouse', 'UNIT' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, price_minor) SELECT $1, gen_random_uuid(), id, 'A-1', 'APT_1BR', 100 FROM projects WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency) SELECT $1, gen_random_uuid(), id, 100, 'EGP' FROM units WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO unit_components (tenant_id, id, unit_id, type_code, label) SELECT $1, gen_random_uuid(), id, 'ROOM_BED', 'Bedroom' FROM units WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO unit_status_history (tenant_id, unit_id, from_status, to_status) SELECT $1, id, 'AVAILABLE', 'BLOCKED' FROM units WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO unit_holds (tenant_id, id, unit_id, deal_id, held_by, expires_at)
         SELECT $1, gen_random_uuid(), u.id, d.id, $2, now() + interval '1 day' FROM units u, deals d WHERE u.tenant_id = $1 AND d.tenant_id = $1",
        "INSERT INTO floor_plans (tenant_id, id, project_id, name, width_px, height_px) SELECT $1, gen_random_uuid(), id, 'F1', 100, 100 FROM projects WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO map_shapes (tenant_id, id, plan_id, geometry) SELECT $1, gen_random_uuid(), id, '{\"type\": \"Polygon\", \"coordinates\": []}' FROM floor_plans WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO import_mappings (tenant_id, user_id, entity, mapping) VALUES ($1, $2, 'LEAD', '{}')",
        // Lead sources (0022).
        "INSERT INTO integration_connections (tenant_id, id, provider, name, lead_source, public_id, credentials_sealed, created_by)
         SELECT $1, gen_random_uuid(), 'WEB_FORM', 'F', 'Web', 'form_' || left(md5($1::text), 24), '\\x00', $2",
        "INSERT INTO integration_events (tenant_id, connection_id, event_id, outcome)
         SELECT $1, id, 'e1', 'CREATED' FROM integration_connections WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        // The public API (0021).
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, scopes, created_by)
         SELECT $1, gen_random_uuid(), 'K', 'llk_' || left(md5($1::text), 16), sha256('x'), '{contacts:read}', $2",
        "INSERT INTO api_idempotency (tenant_id, api_key_id, key, request_hash)
         SELECT $1, id, 'k1', sha256('x') FROM api_keys WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_sealed, created_by)
         SELECT $1, gen_random_uuid(), 'https://example.com/h', '{contact.created}', '\\x00', $2",
        "INSERT INTO webhook_events (tenant_id, id, type, payload)
         SELECT $1, 'msg_' || $1::text, 'contact.created', '{}' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id)
         SELECT $1, gen_random_uuid(), e.id, 'msg_' || $1::text FROM webhook_endpoints e
          WHERE e.tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, status, duration_ms)
         SELECT $1, gen_random_uuid(), id, 1, 200, 5 FROM webhook_deliveries WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        // Outreach (0005).
        "INSERT INTO wa_phone_numbers (tenant_id, id, number, label, provider_phone_id, access_token)
         SELECT $1, gen_random_uuid(), '+201001112233', 'P1', 'pp-' || $1::text, '\\x00' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO wa_quota_usage (tenant_id, phone_id, day)
         SELECT $1, id, current_date FROM wa_phone_numbers WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO email_domains (tenant_id, id, domain, dkim_private, dkim_public)
         SELECT $1, gen_random_uuid(), 'd' || left($1::text, 8) || '.test', '\\x00', 'pk' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO email_accounts (tenant_id, id, domain_id, from_address, from_name, smtp_host, smtp_port)
         SELECT $1, gen_random_uuid(), id, 'a@' || domain, 'A', 'localhost', 25 FROM email_domains
          WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO email_daily_usage (tenant_id, account_id, day)
         SELECT $1, id, current_date FROM email_accounts WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        // The platform's sending addresses and the domains assigned to them (0068).
        "INSERT INTO sending_ips (address) SELECT '5.9.0.10' WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL
         ON CONFLICT (address) DO NOTHING",
        "INSERT INTO domain_ip_assignments (tenant_id, domain_id, ip_id)
         SELECT $1, d.id, i.id FROM email_domains d, sending_ips i
          WHERE d.tenant_id = $1 AND i.address = '5.9.0.10' AND $2::uuid IS NOT NULL",
        // Add-ons held and message packs bought (0065).
        "INSERT INTO subscription_addons (tenant_id, addon_id, units) SELECT $1, 'extra_seat', 1 WHERE $2::uuid IS NOT NULL",
        "INSERT INTO message_packs (tenant_id, id, addon_id, metric, messages, period, invoice_id, created_by)
         SELECT $1, gen_random_uuid(), 'wa_pack', 'WhatsAppMessages', 1000, date_trunc('month', now())::date, id, $2
           FROM invoices WHERE tenant_id = $1",
        "INSERT INTO templates (tenant_id, id, name, channel, created_by) VALUES ($1, gen_random_uuid(), 'T', 'WHATSAPP', $2)",
        "INSERT INTO template_versions (tenant_id, id, template_id, version_no, label, body, created_by)
         SELECT $1, gen_random_uuid(), id, 1, 'A', 'Hi', $2 FROM templates WHERE tenant_id = $1",
        // Template files and their uploads to a number's API (0062).
        "INSERT INTO template_files (tenant_id, id, template_id, file_name, content_type, byte_size, sha256, file_key, created_by)
         SELECT $1, gen_random_uuid(), id, 'a.pdf', 'application/pdf', 1, repeat('0', 64), 'k', $2 FROM templates WHERE tenant_id = $1",
        "INSERT INTO wa_media_uploads (tenant_id, phone_id, file_id, provider, media_id)
         SELECT $1, p.id, f.id, 'META_CLOUD', 'm1' FROM wa_phone_numbers p, template_files f
          WHERE p.tenant_id = $1 AND f.tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO sequences (tenant_id, id, name, created_by) VALUES ($1, gen_random_uuid(), 'S', $2)",
        "INSERT INTO sequence_steps (tenant_id, id, sequence_id, position, channel, template_id)
         SELECT $1, gen_random_uuid(), s.id, 1, 'WHATSAPP', t.id FROM sequences s, templates t
          WHERE s.tenant_id = $1 AND t.tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO lead_journeys (tenant_id, lead_id) SELECT $1, id FROM leads WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        "INSERT INTO enrollments (tenant_id, id, sequence_id, lead_id, enrolled_by)
         SELECT $1, gen_random_uuid(), s.id, l.id, $2 FROM sequences s, leads l WHERE s.tenant_id = $1 AND l.tenant_id = $1",
        "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, to_address, body,
                               idempotency_key, created_by)
         SELECT $1, gen_random_uuid(), l.id, 'WHATSAPP', 'OUT', 'SENT', p.id, '+201001234567', 'hi', 'k1', $2
           FROM leads l, wa_phone_numbers p WHERE l.tenant_id = $1 AND p.tenant_id = $1",
        "INSERT INTO outbox (tenant_id, message_id) SELECT $1, id FROM messages WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
        // Provider switching (0023).
        "INSERT INTO provider_migrations (tenant_id, id, phone_id, from_provider, to_provider, new_credential, started_by)
         SELECT $1, gen_random_uuid(), id, 'META_CLOUD', 'DIALOG360', '\\x00', $2 FROM wa_phone_numbers WHERE tenant_id = $1",
        "INSERT INTO suppressions (tenant_id, id, channel, address, reason)
         SELECT $1, gen_random_uuid(), 'EMAIL', 'x@y.test', 'MANUAL' WHERE $2::uuid IS NOT NULL",
        // Lifted suppressions (0029).
        "INSERT INTO suppression_lifts (tenant_id, id, suppression_id, channel, address, reason, suppressed_at, lift_reason, lifted_by)
         VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'EMAIL', 'old@y.test', 'MANUAL', now(), 'asked again', $2)",
        "INSERT INTO webhook_receipts (tenant_id, source, event_id) SELECT $1, 'EMAIL', 'evt' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO outreach_daily_stats (tenant_id, day) SELECT $1, current_date WHERE $2::uuid IS NOT NULL",
        "INSERT INTO notifications (tenant_id, id, user_id, kind, body) VALUES ($1, gen_random_uuid(), $2, 'SEND_FAILED', 'x')",
        "INSERT INTO notification_prefs (tenant_id, user_id, kind, email) VALUES ($1, $2, 'REPLY', true)",
        // The review queue's LLM (0033).
        "INSERT INTO review_llm (tenant_id, url, model) SELECT $1, 'https://llm.test/v1', 'm' WHERE $2::uuid IS NOT NULL",
        "INSERT INTO review_llm_calls (tenant_id, message_id, day) SELECT $1, gen_random_uuid(), current_date WHERE $2::uuid IS NOT NULL",
        // Retention (0014).
        "INSERT INTO audit_archives (tenant_id, month, entries, content)
         SELECT $1, date '2020-01-01', 1, '{}' WHERE $2::uuid IS NOT NULL",
    ];
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    for sql in statements {
        sqlx::query(sql)
            .bind(t)
            .bind(user)
            .execute(&app.pools.owner)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn tenant_tables(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
          WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
          ORDER BY 1",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_runtime_role_cannot_cross_tenants_in_any_table() {
    let app = TestApp::spawn().await;
    let (ta, tb) = two_tenants(&app).await;
    let tables = tenant_tables(&app).await;
    assert!(tables.len() >= 6, "{tables:?}");

    for table in &tables {
        // RLS is enabled and forced.
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
        )
        .bind(table)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
        assert!(
            enabled && forced,
            "{table}: row-level security must be enabled and forced"
        );

        // A row of tenant B to aim at, read past RLS by the owner.
        let row: Option<serde_json::Value> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(x) FROM {table} x WHERE tenant_id = $1 LIMIT 1"
        ))
        .bind(tb)
        .fetch_optional(&app.pools.owner)
        .await
        .unwrap();
        let row = row.unwrap_or_else(|| {
            panic!("{table}: add a row for it to two_tenants() so RLS is tested")
        });

        let mut tx = app.pools.app.begin().await.unwrap();
        tx.execute(
            sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(ta.to_string()),
        )
        .await
        .unwrap();
        let seen: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = $1"
        ))
        .bind(tb)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(seen, 0, "{table}: tenant A sees rows of tenant B");
        let own: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert!(own > 0, "{table}: tenant A should see its own rows");

        // These are written only by definer functions, or are append-only (lifted
        // suppressions): the runtime role may not even try to change them.
        if !matches!(
            table.as_str(),
            "audit_logs"
                | "audit_archives"
                | "billing_events"
                | "suppression_lifts"
                | "support_sessions"
                | "domain_ip_assignments"
        ) {
            let updated = sqlx::query(&format!(
                "UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = $1"
            ))
            .bind(tb)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
            assert_eq!(updated, 0, "{table}: tenant A updated rows of tenant B");
            let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tb)
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(deleted, 0, "{table}: tenant A deleted rows of tenant B");
            // Moving one's own row into tenant B is refused by WITH CHECK.
            let moved = sqlx::query(&format!("UPDATE {table} SET tenant_id = $1"))
                .bind(tb)
                .execute(&mut *tx)
                .await;
            assert!(moved.is_err(), "{table}: a row was moved into tenant B");
            tx.rollback().await.unwrap();
            tx = app.pools.app.begin().await.unwrap();
            tx.execute(
                sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(ta.to_string()),
            )
            .await
            .unwrap();
        }

        // Inserting tenant B's row (with a fresh id where there is one) is refused by
        // the policy before any constraint is looked at.
        let mut copy = row.clone();
        if let Some(id) = copy.get("id") {
            copy["id"] = match id.as_i64() {
                Some(n) => serde_json::json!(n + 1_000_000),
                None => serde_json::json!(Uuid::new_v4()),
            };
        }
        // Generated columns (search text) cannot be inserted; list the others.
        let columns: String = sqlx::query_scalar(
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
               FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER'",
        )
        .bind(table)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
        let inserted = sqlx::query(&format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_populate_record(NULL::{table}, $1)"
        ))
        .bind(&copy)
        .execute(&mut *tx)
        .await;
        let err = inserted.expect_err(&format!("{table}: tenant A inserted a row for tenant B"));
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "{table}: expected an RLS violation, got {err}"
        );
        tx.rollback().await.unwrap();

        // With no tenant set, nothing at all is visible.
        let mut tx = app.pools.app.begin().await.unwrap();
        let none: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(none, 0, "{table}: rows visible without a tenant");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn global_tables_with_secrets_are_fenced_too() {
    let app = TestApp::spawn().await;
    let (ta, _) = two_tenants(&app).await;
    let mut tx = app.pools.app.begin().await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(users, 0, "no user is visible without a tenant or a user");
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, 0);
    tx.execute(sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(ta.to_string()))
        .await
        .unwrap();
    let emails: Vec<String> = sqlx::query_scalar("SELECT email::text FROM users ORDER BY 1")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(emails, vec!["ada@example.com"], "only tenant A's people");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM tenants")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, vec!["Acme"]);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_runtime_role_is_unprivileged_and_the_audit_log_append_only() {
    let app = TestApp::spawn().await;
    two_tenants(&app).await;
    let row = sqlx::query("SELECT rolsuper, rolbypassrls, current_user::text AS me FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&app.pools.app)
        .await
        .unwrap();
    assert!(!row.try_get::<bool, _>("rolsuper").unwrap());
    assert!(!row.try_get::<bool, _>("rolbypassrls").unwrap());
    let owns: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")
        .fetch_one(&app.pools.app)
        .await
        .unwrap();
    assert_eq!(owns, 0, "the runtime role owns nothing");
    // Even the owner cannot rewrite history.
    for sql in [
        "UPDATE audit_logs SET action = 'forged'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
    ] {
        let err = sqlx::query(sql)
            .execute(&app.pools.owner)
            .await
            .expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// Every SECURITY DEFINER function, from the catalog: a definer that searched pg_temp
/// before public (or at all, before its own schema) would run whatever a caller put
/// there under the owner's rights; and nobody but the owner may put objects in public.
#[tokio::test]
async fn definers_search_pg_temp_last_and_public_is_closed() {
    let app = TestApp::spawn().await;
    let definers: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert!(
        definers.iter().any(|(f, _)| f == "claim_job()"),
        "{definers:?}"
    );
    for (function, config) in &definers {
        let path = config
            .iter()
            .flatten()
            .find_map(|c| c.strip_prefix("search_path="))
            .unwrap_or_else(|| panic!("{function} sets no search_path"));
        let schemas: Vec<&str> = path.split(',').map(str::trim).collect();
        assert_eq!(schemas.last(), Some(&"pg_temp"), "{function}: {path}");
        assert_eq!(schemas.first(), Some(&"public"), "{function}: {path}");
    }
    let err = sqlx::query("CREATE TABLE public.planted (id int)")
        .execute(&app.pools.app)
        .await
        .expect_err("the runtime role creates nothing in public");
    assert!(err.to_string().contains("permission denied"), "{err}");
    let public_create: bool =
        sqlx::query_scalar("SELECT has_schema_privilege('public', 'public', 'CREATE')")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(!public_create, "PUBLIC may not create in schema public");
}

#[tokio::test]
async fn feature_flags_roll_out_deterministically_with_overrides() {
    let app = TestApp::spawn().await;
    let (ta, tb) = two_tenants(&app).await;
    let db = app::db::Db::new(app.pools.app.clone());
    sqlx::query("INSERT INTO feature_flags (key, enabled, rollout_percentage) VALUES ('half.on', true, 50), ('all.on', true, 100), ('off', false, 100)")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    for t in [ta, tb] {
        let mut tx = db.tenant_tx(t, None).await.unwrap();
        assert!(app::flags::is_enabled(&mut tx, "all.on", t).await.unwrap());
        assert!(!app::flags::is_enabled(&mut tx, "off", t).await.unwrap());
        assert!(!app::flags::is_enabled(&mut tx, "missing", t).await.unwrap());
        let expected = app::flags::rollout_bucket("half.on", t) < 50;
        assert_eq!(
            app::flags::is_enabled(&mut tx, "half.on", t).await.unwrap(),
            expected
        );
        // The demo.flag override (enabled) wins over its 50% rollout.
        assert!(app::flags::is_enabled(&mut tx, "demo.flag", t)
            .await
            .unwrap());
    }
}
