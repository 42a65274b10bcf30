//! Demo data for a first run, and large synthetic tenants for benchmarks.

use crate::bootstrap::Pools;
use app::auth::ssr::{create_workspace, NewWorkspace};
use app::db::{new_id, Db};
use app::i18n::Locale;
use app::request::{AppConfig, RequestCtx};
use std::sync::Arc;

mod outreach;
mod plans;
mod review;
mod synthetic;

use outreach::{demo_history, demo_outreach};
use review::demo_review;
pub use synthetic::{synthetic, synthetic_from_args};

pub const DEMO_PASSWORD: &str = "leadline-demo";
pub const DEMO_USERS: [(&str, &str, &str); 4] = [
    ("owner@demo.leadline.test", "Amira Hassan", "OWNER"),
    ("admin@demo.leadline.test", "Omar Farouk", "ADMIN"),
    ("manager@demo.leadline.test", "Layla Nasser", "MANAGER"),
    ("sales@demo.leadline.test", "Karim Adel", "SALES"),
];

/// A request context for work that no request started (seeding, benchmarks).
pub fn system_ctx(db: Db) -> RequestCtx {
    RequestCtx {
        db,
        config: Arc::new(AppConfig::local("")),
        request_id: "seed".into(),
        ip: None,
        user_agent: Some("leadline seed".into()),
        locale: Locale::En,
        principal: None,
    }
}

/// The demo's WhatsApp Business Account on the dev peer and the token that manages
/// it; the peer is told of its numbers when it starts, so they confirm and route.
pub const DEMO_WABA_ID: &str = "100000000000001";
pub const DEMO_WA_TOKEN: &str = "demo-token";
/// The demo's numbers: `phone_number_id`, number, label.
pub const DEMO_WA_NUMBERS: [(&str, &str, &str); 2] = [
    ("demo-nile-01", "+201550000101", "Nile 01"),
    ("demo-nile-02", "+201550000102", "Nile 02"),
];

/// The demo numbers as the dev peer knows them.
#[cfg(feature = "dev-tools")]
pub fn demo_wa_numbers() -> Vec<peer::WaNumber> {
    DEMO_WA_NUMBERS
        .iter()
        .map(|(id, number, _)| peer::WaNumber {
            waba_id: DEMO_WABA_ID.into(),
            phone_number_id: (*id).into(),
            display_phone_number: (*number).into(),
            verified_name: "Nile Realty".into(),
            access_token: DEMO_WA_TOKEN.into(),
        })
        .collect()
}

/// Where the demo's senders point: the local provider peer's SMTP port, and the key
/// their secrets are sealed with.
pub struct DemoSenders {
    pub smtp: std::net::SocketAddr,
    pub secret_key: [u8; 32],
}

/// On an empty database: the demo tenant "Nile Realty" with one user per role, and
/// with `senders` (the dev peer running) WhatsApp numbers, a mailbox, templates and a
/// two-step sequence ready to enrol a list into.
pub async fn demo_if_empty(
    pools: &Pools,
    senders: Option<&DemoSenders>,
    files: &app::files::FileStore,
) -> Result<(), String> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants)")
        .fetch_one(&pools.owner)
        .await
        .map_err(|e| e.to_string())?;
    if any {
        let demo: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
            .bind(DEMO_USERS[0].0)
            .fetch_one(&pools.owner)
            .await
            .map_err(|e| e.to_string())?;
        if demo {
            print_demo_logins();
        }
        return Ok(());
    }
    let hash = app::crypto::hash_password(DEMO_PASSWORD.into())
        .await
        .map_err(|e| e.to_string())?;
    let ctx = system_ctx(Db::new(pools.app.clone()));
    let (owner_email, owner_name, _) = DEMO_USERS[0];
    let (owner_id, tenant_id) = create_workspace(
        &ctx,
        NewWorkspace {
            name: owner_name.into(),
            email: owner_email.into(),
            password_hash: hash.clone(),
            company: "Nile Realty".into(),
            locale: Locale::En,
            plan: "starter",
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut tx = pools.owner.begin().await.map_err(|e| e.to_string())?;
    // Nile Realty is in Egypt: local numbers like 0100 123 4567 read as +20.
    sqlx::query("UPDATE tenants SET phone_region = 'EG' WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = vec![owner_id];
    for (email, name, role) in &DEMO_USERS[1..] {
        let user_id = new_id();
        ids.push(user_id);
        sqlx::query("INSERT INTO users (id, email, name, password_hash, last_tenant_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(user_id)
            .bind(email)
            .bind(name)
            .bind(&hash)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query("INSERT INTO memberships (id, tenant_id, user_id, role, manager_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(new_id())
            .bind(tenant_id)
            .bind(user_id)
            .bind(role)
            // The rep reports to the manager, who then sees the rep's records.
            .bind((*role == "SALES").then(|| ids[2]))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
    }
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    // The demo addresses cannot receive mail; they count as confirmed.
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let (sales, manager) = (ids[3], ids[2]);
    for sql in DEMO_CRM {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(owner_id)
            .bind(sales)
            .bind(manager)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("demo CRM data: {e}"))?;
    }
    demo_review(&mut tx, tenant_id, manager).await?;
    for sql in DEMO_INVENTORY
        .iter()
        .chain(DEMO_BILLING)
        .chain(DEMO_NOTICES)
    {
        sqlx::query(sql)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("demo inventory, billing and notifications: {e}"))?;
    }
    plans::store(&mut tx, tenant_id, files).await?;
    sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, scopes, per_minute, created_by)
         VALUES ($1, gen_random_uuid(), 'Demo key', $2, $3, $4, 100000, $5)",
    )
    .bind(tenant_id)
    .bind(&DEMO_API_TOKEN[..20])
    .bind(app::crypto::sha256(DEMO_API_TOKEN.as_bytes()))
    .bind(app::developers::model::all_scopes())
    .bind(owner_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| format!("demo API key: {e}"))?;
    if let Some(senders) = senders {
        demo_outreach(&mut tx, tenant_id, owner_id, senders).await?;
        demo_history(&mut tx, tenant_id, sales).await?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    demo_staff(pools, &ctx, hash.clone()).await?;
    demo_free_at_limit(pools, &ctx, hash, owner_id).await?;
    // The console's figures over time start with today's, as the worker's hourly
    // schedule would keep them.
    sqlx::query("SELECT platform_daily_take((now() AT TIME ZONE 'UTC')::date)")
        .execute(&pools.app)
        .await
        .map_err(|e| format!("platform figures: {e}"))?;
    print_demo_logins();
    Ok(())
}

/// A second demo workspace, "Delta Brokers", on Free at its contact limit: the
/// demo's owner is its owner too, so the limit's refusal is one workspace switch away.
pub const DEMO_FREE_WORKSPACE: &str = "Delta Brokers";

async fn demo_free_at_limit(
    pools: &Pools,
    ctx: &RequestCtx,
    hash: String,
    nile_owner: uuid::Uuid,
) -> Result<(), String> {
    let (user_id, tenant_id) = create_workspace(
        ctx,
        NewWorkspace {
            name: "Tarek Said".into(),
            email: "free@demo.leadline.test".into(),
            password_hash: hash,
            company: DEMO_FREE_WORKSPACE.into(),
            locale: Locale::En,
            plan: "free",
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut tx = pools.owner.begin().await.map_err(|e| e.to_string())?;
    sqlx::query(
        "UPDATE subscriptions SET status = 'ACTIVE', trial_ends_at = now() - interval '30 days'
          WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, user_id, role) VALUES (gen_random_uuid(), $1, $2, 'OWNER')",
    )
    .bind(tenant_id)
    .bind(nile_owner)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    // Exactly the plan's contacts-and-leads limit.
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, full_name, owner_id)
         SELECT $1, gen_random_uuid(), 'Broker contact ' || g, $2
           FROM generate_series(1, (SELECT records_limit FROM plans WHERE id = 'free')) g",
    )
    .bind(tenant_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// The demo's platform staff member, who opens the staff console (`/staff`). Staff
/// need 2FA, so the account has it on with a secret as public as the demo password
/// (add it to an authenticator app, or compute the code from it). They work in a
/// workspace of their own on Free, apart from Nile Realty's team.
pub const DEMO_STAFF: (&str, &str) = ("staff@demo.leadline.test", "Sara Mansour");
pub const DEMO_STAFF_TOTP: &str = "JBSWY3DPEHPK3PXPLEADLINEDEMO2345";

async fn demo_staff(pools: &Pools, ctx: &RequestCtx, hash: String) -> Result<(), String> {
    let (user_id, _) = create_workspace(
        ctx,
        NewWorkspace {
            name: DEMO_STAFF.1.into(),
            email: DEMO_STAFF.0.into(),
            password_hash: hash,
            company: "Leadline HQ".into(),
            locale: Locale::En,
            plan: "free",
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut tx = pools.owner.begin().await.map_err(|e| e.to_string())?;
    for sql in [
        "UPDATE users SET totp_secret = $2, totp_enabled_at = now() WHERE id = $1",
        "INSERT INTO staff_members (user_id, role_key, notes) VALUES ($1, 'owner', $2)",
    ] {
        sqlx::query(sql)
            .bind(user_id)
            .bind(if sql.starts_with("UPDATE") {
                DEMO_STAFF_TOTP
            } else {
                "Demo staff member"
            })
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
    }
    for sql in DEMO_SENDING_IPS {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("demo sending IPs: {e}"))?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// The console's sending IP pool: a warmed address carrying Nile Realty's domain, one
/// on day 4 of its warm-up, and one a blocklist listed, each as a past check left it.
const DEMO_SENDING_IPS: &[&str] = &[
    r#"INSERT INTO sending_ips (address, status, warmup_started_on, reputation, blocklists, checked_at, status_note, note)
       VALUES ('5.9.0.10', 'warmed', current_date - 45, 'good',
               '[{"zone": "zen.spamhaus.org", "verdict": "clear"}, {"zone": "bl.spamcop.net", "verdict": "clear"},
                 {"zone": "b.barracudacentral.org", "verdict": "clear"}]',
               now() - interval '2 hours', NULL, 'fsn1, rack 4'),
              ('5.9.0.11', 'warming', current_date - 3, 'good',
               '[{"zone": "zen.spamhaus.org", "verdict": "clear"}, {"zone": "bl.spamcop.net", "verdict": "clear"},
                 {"zone": "b.barracudacentral.org", "verdict": "clear"}]',
               now() - interval '2 hours', NULL, 'fsn1, rack 4'),
              ('5.9.0.12', 'degraded', NULL, 'fair',
               '[{"zone": "zen.spamhaus.org", "verdict": "clear"},
                 {"zone": "bl.spamcop.net", "verdict": "listed", "codes": ["127.0.0.2"], "reason": "Blocked - see https://www.spamcop.net/bl.shtml?5.9.0.12"},
                 {"zone": "b.barracudacentral.org", "verdict": "clear"}]',
               now() - interval '2 hours', 'Listed on bl.spamcop.net', 'nbg1')"#,
    "INSERT INTO domain_ip_assignments (tenant_id, domain_id, ip_id, assigned_at)
     SELECT d.tenant_id, d.id, i.id, now() - interval '40 days'
       FROM email_domains d, sending_ips i
      WHERE d.domain = 'nile-realty.test' AND i.address = '5.9.0.10'",
];

/// A developer, two projects and their plans: floor 12 of a tower drawn with 40
/// apartments, and a site plan with 6 villas, in mixed statuses. A plan pixel is 8 cm.
const DEMO_INVENTORY: &[&str] = &[
    "INSERT INTO developers (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Nile Developments')",
    "INSERT INTO projects (tenant_id, id, developer_id, name, location, status, delivery_on)
     SELECT $1, gen_random_uuid(), d.id, p.name, p.location, 'SELLING', p.delivery::date
       FROM developers d,
            (VALUES ('Nile Towers', 'Maadi, Cairo', '2028-06-30'), ('Sahel Villas', 'North Coast', '2027-09-30')) AS p (name, location, delivery)
      WHERE d.tenant_id = $1",
    "INSERT INTO units (tenant_id, id, project_id, code, type_code, building, floor, size_sqm, bedrooms, bathrooms,
                        view, price_minor, currency, status)
     SELECT $1, gen_random_uuid(), p.id, 'B-12' || lpad(n::text, 2, '0'),
            CASE WHEN n % 4 = 0 THEN 'APT_3BR' WHEN n % 3 = 0 THEN 'APT_1BR' ELSE 'APT_2BR' END,
            'B', 12, 134.4, CASE WHEN n % 4 = 0 THEN 3 WHEN n % 3 = 0 THEN 1 ELSE 2 END,
            CASE WHEN n % 4 = 0 THEN 2 ELSE 1 END,
            CASE WHEN n <= 8 THEN 'Nile' ELSE 'Garden' END,
            (3800000 + n * 25000)::bigint * 100, 'EGP',
            CASE WHEN n % 6 = 0 THEN 'SOLD' WHEN n % 9 = 0 THEN 'RESERVED' WHEN n % 13 = 0 THEN 'BLOCKED' ELSE 'AVAILABLE' END
       FROM projects p, generate_series(1, 40) n
      WHERE p.tenant_id = $1 AND p.name = 'Nile Towers'",
    "INSERT INTO units (tenant_id, id, project_id, code, type_code, size_sqm, bedrooms, bathrooms, view, price_minor,
                        currency, status)
     SELECT $1, gen_random_uuid(), p.id, 'V-' || n, 'VILLA_4BR', 320, 4, 4, 'Sea', (14500000 + n * 400000)::bigint * 100,
            'EGP', CASE WHEN n = 2 THEN 'SOLD' ELSE 'AVAILABLE' END
       FROM projects p, generate_series(1, 6) n
      WHERE p.tenant_id = $1 AND p.name = 'Sahel Villas'",
    "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency, reason, changed_at)
     SELECT $1, gen_random_uuid(), u.id, u.price_minor - 15000000, u.currency, 'Launch price', now() - interval '60 days'
       FROM units u WHERE u.tenant_id = $1",
    // What each tower apartment is made of: its bedrooms, bathrooms, a kitchen and a
    // balcony, measured.
    "INSERT INTO unit_components (tenant_id, id, unit_id, type_code, label, length_m, width_m, area_sqm, created_at)
     SELECT $1, gen_random_uuid(), u.id, c.code, c.label, c.l, c.w, round(c.l * c.w, 2),
            now() + c.n * interval '1 ms'
       FROM units u JOIN projects p ON p.id = u.project_id
       JOIN LATERAL (
            SELECT 'ROOM_BED' AS code, 'Bedroom ' || b AS label, 4.2 AS l, 3.6 AS w, b AS n
              FROM generate_series(1, u.bedrooms) b
            UNION ALL
            SELECT 'ROOM_BATH', 'Bathroom ' || b, 2.6, 2.0, 10 + b FROM generate_series(1, u.bathrooms) b
            UNION ALL SELECT 'KITCHEN_STD', 'Kitchen', 3.8, 3.0, 20
            UNION ALL SELECT 'BALCONY_STD', 'Balcony', 4.0, 1.6, 21) c ON true
      WHERE u.tenant_id = $1 AND p.name = 'Nile Towers'",
    "INSERT INTO floor_plans (tenant_id, id, project_id, name, width_px, height_px, meters_per_px)
     SELECT $1, gen_random_uuid(), p.id, f.name, f.w, f.h, 0.08
       FROM projects p JOIN (VALUES ('Nile Towers', 'Floor 12', 1240, 860), ('Sahel Villas', 'Site plan', 1000, 620)) AS f (project, name, w, h)
         ON f.project = p.name
      WHERE p.tenant_id = $1",
    // Tower: 8 columns by 5 rows of 140 × 150 px (11.2 × 12 m) with 10 px walls between.
    "INSERT INTO map_shapes (tenant_id, id, plan_id, unit_id, label, geometry, area_sqm, perimeter_m)
     SELECT $1, gen_random_uuid(), f.id, u.id, u.code,
            jsonb_build_object('type', 'Polygon', 'coordinates', jsonb_build_array(jsonb_build_array(
                jsonb_build_array(x, y), jsonb_build_array(x + 140, y), jsonb_build_array(x + 140, y + 150),
                jsonb_build_array(x, y + 150), jsonb_build_array(x, y)))),
            140 * 150 * 0.0064, 2 * (140 + 150) * 0.08
       FROM floor_plans f JOIN projects p ON p.id = f.project_id
       JOIN units u ON u.project_id = p.id,
            LATERAL (SELECT substr(u.code, 5)::int - 1 AS k) k,
            LATERAL (SELECT 20 + (k.k % 8) * 150 AS x, 20 + (k.k / 8) * 160 AS y) xy
      WHERE f.tenant_id = $1 AND p.name = 'Nile Towers'",
    // Villas: two rows of three 280 × 240 px plots.
    "INSERT INTO map_shapes (tenant_id, id, plan_id, unit_id, label, geometry, area_sqm, perimeter_m)
     SELECT $1, gen_random_uuid(), f.id, u.id, u.code,
            jsonb_build_object('type', 'Polygon', 'coordinates', jsonb_build_array(jsonb_build_array(
                jsonb_build_array(x, y), jsonb_build_array(x + 280, y), jsonb_build_array(x + 280, y + 240),
                jsonb_build_array(x, y + 240), jsonb_build_array(x, y)))),
            280 * 240 * 0.0064, 2 * (280 + 240) * 0.08
       FROM floor_plans f JOIN projects p ON p.id = f.project_id
       JOIN units u ON u.project_id = p.id,
            LATERAL (SELECT substr(u.code, 3)::int - 1 AS k) k,
            LATERAL (SELECT 40 + (k.k % 3) * 310 AS x, 40 + (k.k / 3) * 280 AS y) xy
      WHERE f.tenant_id = $1 AND p.name = 'Sahel Villas'",
];

/// The demo workspace's API key, so the API can be tried at once (and is probed by
/// the schema-driven tests): as public as the demo password, and like it refused in
/// production, where no demo is seeded.
pub const DEMO_API_TOKEN: &str = "llk_00000000000de0de_bGVhZGxpbmUtZGVtby1hcGkta2V5LW5vdC1zZWNyZXQ";

/// Nile Realty trials Pro in Egyptian pounds after two paid months of Starter.
/// A few unread notifications for every member, so the bell and the notification
/// centre show what they are for on first sign-in.
const DEMO_NOTICES: &[&str] = &[
    "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link, created_at)
     SELECT $1, gen_random_uuid(), m.user_id, n.kind, n.body, n.link, now() - n.ago
       FROM memberships m,
            (VALUES ('REPLY', 'Yasmine Fouad replied: Is the Zamalek flat still available?', '/inbox', interval '3 hours'),
                    ('SLA_BREACH', 'A review item passed its SLA and was escalated.', '/review', interval '1 day'),
                    ('JOB_FINISHED', 'Your lead export is ready to download.', NULL, interval '2 days')) AS n (kind, body, link, ago)
      WHERE m.tenant_id = $1",
];

const DEMO_BILLING: &[&str] = &[
    "UPDATE subscriptions SET plan_id = 'pro', status = 'TRIALING', currency = 'EGP',
            trial_ends_at = now() + interval '9 days', current_period_start = now() - interval '5 days',
            current_period_end = now() + interval '9 days'
      WHERE tenant_id = $1",
    "INSERT INTO billing_profiles (tenant_id, company_name, address, country, email)
     VALUES ($1, 'Nile Realty S.A.E.', '12 Corniche El Nil, Maadi, Cairo', 'EG', 'billing@nile-realty.example')",
    "INSERT INTO invoice_counters (tenant_id, last_number) VALUES ($1, 2)",
    "INSERT INTO invoices (tenant_id, id, number, status, currency, subtotal_minor, tax_rate_bp, tax_note, tax_minor,
                           total_minor, period_start, period_end, issued_at, paid_at)
     SELECT $1, gen_random_uuid(), n, 'PAID', 'EGP', 145000, 1400, 'VAT 14%', 20300, 165300,
            now() - make_interval(days => 65 - 30 * n), now() - make_interval(days => 35 - 30 * n),
            now() - make_interval(days => 65 - 30 * n), now() - make_interval(days => 64 - 30 * n)
       FROM generate_series(1, 2) n",
    "INSERT INTO invoice_lines (tenant_id, invoice_id, position, kind, description, amount_minor)
     SELECT $1, id, 0, 'PLAN', 'Starter, monthly', 145000 FROM invoices WHERE tenant_id = $1",
];

/// Companies, contacts, leads, deals and a few activities for the demo tenant, so the
/// board, tables and dashboard have something to show on a first run.
const DEMO_CRM: [&str; 6] = [
    "INSERT INTO companies (tenant_id, id, name, domain, industry, city, country, owner_id)
     SELECT $1, gen_random_uuid(), c.name, c.domain, 'Real estate', c.city, 'EG', $2
       FROM (VALUES ('Nile Towers Developments', 'niletowers.example', 'Cairo'),
                    ('Delta Homes', 'deltahomes.example', 'Mansoura'),
                    ('Zamalek Estates', 'zamalek.example', 'Cairo'),
                    ('شركة الإسكندرية للاستثمار', 'alex-invest.example', 'Alexandria')) AS c (name, domain, city)",
    "INSERT INTO contacts (tenant_id, id, full_name, email, phone_e164, title, company_id, owner_id)
     SELECT $1, gen_random_uuid(), c.name, c.email, c.phone, c.title,
            (SELECT id FROM companies WHERE tenant_id = $1 AND name = c.company),
            CASE WHEN c.mine THEN $3 ELSE $4 END
       FROM (VALUES ('Mona Zaki', 'mona@niletowers.example', '+201001234567', 'Procurement lead', 'Nile Towers Developments', true),
                    ('Omar Sherif', 'omar@deltahomes.example', '+201112223344', 'CEO', 'Delta Homes', true),
                    ('محمد عبد الله', 'mohamed@alex-invest.example', '+201223334455', 'مدير الاستثمار', 'شركة الإسكندرية للاستثمار', false),
                    ('Yasmine Fouad', 'yasmine@zamalek.example', '+201005556677', 'Head of sales', 'Zamalek Estates', true),
                    ('نور حسن', 'nour@example.com', '+201006667788', 'مشترية', NULL, false),
                    ('Hany Salama', 'hany@example.com', '+201007778899', 'Investor', NULL, true)) AS c (name, email, phone, title, company, mine)",
    "INSERT INTO leads (tenant_id, id, name, email, phone_e164, source, status, score, tags, owner_id, contact_id, company_id)
     SELECT $1, gen_random_uuid(), l.name, l.email, l.phone, l.source, l.status, l.score, l.tags,
            CASE WHEN l.mine THEN $3 ELSE $4 END,
            (SELECT id FROM contacts WHERE tenant_id = $1 AND full_name = l.name),
            (SELECT company_id FROM contacts WHERE tenant_id = $1 AND full_name = l.name)
       FROM (VALUES ('Mona Zaki', 'mona@niletowers.example', '+201001234567', 'Website', 'QUALIFIED', 82, ARRAY['bulk', 'cairo'], true),
                    ('Omar Sherif', 'omar@deltahomes.example', '+201112223344', 'Referral', 'CONTACTED', 64, ARRAY['delta'], true),
                    ('محمد عبد الله', 'mohamed@alex-invest.example', '+201223334455', 'Facebook', 'PROSPECTED', 48, ARRAY['alex', 'vip'], false),
                    ('Yasmine Fouad', 'yasmine@zamalek.example', '+201005556677', 'Exhibition', 'NEW', 30, ARRAY['zamalek'], true),
                    ('نور حسن', 'nour@example.com', '+201006667788', 'WhatsApp', 'NEW', 22, ARRAY[]::text[], false),
                    ('Hany Salama', 'hany@example.com', '+201007778899', 'Website', 'LOST', 10, ARRAY['investor'], true)) AS l (name, email, phone, source, status, score, tags, mine)",
    "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, amount_minor, currency, probability, owner_id,
                        contact_id, company_id, lead_id, status, lost_reason, position, stage_entered_at, closed_at, tags,
                        created_at)
     SELECT $1, gen_random_uuid(), s.pipeline_id, s.id, d.name, d.amount::bigint * 100, 'EGP', s.probability,
            CASE WHEN d.mine THEN $3 ELSE $4 END,
            (SELECT id FROM contacts WHERE tenant_id = $1 AND full_name = d.contact),
            (SELECT company_id FROM contacts WHERE tenant_id = $1 AND full_name = d.contact),
            (SELECT id FROM leads WHERE tenant_id = $1 AND name = d.contact),
            s.kind, CASE WHEN s.kind = 'LOST' THEN 'Chose a competitor' END,
            d.n * 1024, now() - d.age * interval '1 day',
            CASE WHEN s.kind <> 'OPEN' THEN now() - interval '2 days' END, d.tags,
            now() - d.age * interval '1 day'
       FROM (VALUES (1, 'Nile Towers — 40 units', 'Mona Zaki', 'Proposal', 96000000, 5, true, ARRAY['bulk']),
                    (2, 'Delta Homes show flat', 'Omar Sherif', 'Contact', 3500000, 2, true, ARRAY[]::text[]),
                    (3, 'فيلا الساحل الشمالي', 'محمد عبد الله', 'Negotiation', 18500000, 9, false, ARRAY['vip']),
                    (4, 'Zamalek penthouse', 'Yasmine Fouad', 'Lead', 27000000, 1, true, ARRAY['vip']),
                    (5, 'شقة التجمع الخامس', 'نور حسن', 'Lead', 4200000, 3, false, ARRAY[]::text[]),
                    (6, 'New Capital offices', 'Hany Salama', 'Lost', 12000000, 20, true, ARRAY[]::text[]),
                    (7, 'Maadi duplex', 'Omar Sherif', 'Closed', 6800000, 4, true, ARRAY[]::text[]),
                    (8, 'Sheikh Zayed villa', 'Mona Zaki', 'Contact', 15500000, 6, false, ARRAY[]::text[])) AS d (n, name, contact, stage, amount, age, mine, tags)
       JOIN stages s ON s.tenant_id = $1 AND s.name = d.stage",
    "INSERT INTO activities (tenant_id, id, kind, deal_id, lead_id, actor_id, subject, body, data, occurred_at)
     SELECT $1, gen_random_uuid(), a.kind, d.id, d.lead_id, $3, a.subject, a.body, a.data::jsonb, now() - a.ago * interval '1 hour'
       FROM (VALUES ('Nile Towers — 40 units', 'CALL', 'Intro call', 'Wants 40 units in two phases.', '{\"duration_minutes\": 18, \"outcome\": \"Interested\"}', 30),
                    ('Nile Towers — 40 units', 'NOTE', NULL, 'Sent the payment plan; waiting for their board.', '{}', 6),
                    ('Zamalek penthouse', 'MEETING', 'Viewing', 'Loved the terrace, asked about parking.', '{}', 20),
                    ('Delta Homes show flat', 'NOTE', NULL, 'Prefers a ground floor unit.', '{}', 3)) AS a (deal, kind, subject, body, data, ago)
       JOIN deals d ON d.tenant_id = $1 AND d.name = a.deal",
    "INSERT INTO activities (tenant_id, id, kind, deal_id, actor_id, assignee_id, subject, due_at)
     SELECT $1, gen_random_uuid(), 'TASK', d.id, $3, $3, t.subject, now() + t.due * interval '1 hour'
       FROM (VALUES ('Nile Towers — 40 units', 'Send the revised contract', -20),
                    ('Zamalek penthouse', 'Book a second viewing', 4),
                    ('Delta Homes show flat', 'Call back about ground floor', 50)) AS t (deal, subject, due)
       JOIN deals d ON d.tenant_id = $1 AND d.name = t.deal",
];

fn print_demo_logins() {
    println!(
        "\nDemo workspace \"Nile Realty\" is ready. Sign in with password {DEMO_PASSWORD:?} as:"
    );
    for (email, name, role) in DEMO_USERS {
        println!("  {role:<8} {email:<28} ({name})");
    }
    println!(
        "The owner also owns \"{DEMO_FREE_WORKSPACE}\", on Free at its contact limit (switch workspace at the top)."
    );
    println!(
        "The staff console (/staff) opens for {} (same password; 2FA secret {DEMO_STAFF_TOTP}).",
        DEMO_STAFF.0
    );
    println!("The API (/api/v1, documented at /api/v1/openapi.json) answers the demo key:");
    println!("  Authorization: Bearer {DEMO_API_TOKEN}");
    println!();
}
