//! The outreach suites' world: a server with the provider peer, Ada's workspace, and
//! helpers that set up numbers, templates, sequences and leads and drive the workers.

use super::*;

/// Far more passes than any suite needs: a pass takes up to 500 enrolments or 200
/// messages, and the largest world here has 60 leads.
const PASSES: usize = 1_000;

pub(crate) struct World {
    pub(crate) app: Arc<TestApp>,
    pub(crate) admin: reqwest::Client,
    pub(crate) tenant: Uuid,
    pub(crate) peer: peer::Peer,
    pub(crate) providers: Providers,
    pub(crate) config: AppConfig,
}

pub(crate) async fn world() -> World {
    // Internal errors carry only a reference; the log next to the failure says what.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (app, peer) = TestApp::spawn_with_peer().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    // On Pro, so these suites test sending rather than the plan's sender limits.
    sqlx::query("UPDATE subscriptions SET plan_id = 'pro' WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let config = AppConfig::local(&app.base);
    let providers = Providers::real(
        &format!("{}/v21.0", peer.http_base()),
        &format!("{}/360dialog", peer.http_base()),
    );
    World {
        app: Arc::new(app),
        admin,
        tenant,
        peer,
        providers,
        config,
    }
}

pub(crate) fn ok(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().map(str::to_string).unwrap_or_default()
}

/// The WhatsApp Business Account of Ada's numbers on the peer, and its token.
pub(super) const WABA: &str = "waba-acme";
pub(super) const WA_TOKEN: &str = "token-1";

pub(super) fn wa_number(waba_id: &str, provider_id: &str, token: &str) -> peer::WaNumber {
    peer::WaNumber {
        waba_id: waba_id.into(),
        phone_number_id: provider_id.into(),
        display_phone_number: format!("+20 {provider_id}"),
        verified_name: "Acme".into(),
        access_token: token.into(),
    }
}

impl World {
    /// Another workspace on the same server, peer and dispatchers.
    pub(crate) async fn other_tenant(&self, email: &str, company: &str) -> World {
        let admin = self.app.signup("Bea", email, company).await;
        World {
            app: self.app.clone(),
            admin,
            tenant: self.app.tenant_of(email).await,
            peer: self.peer.clone(),
            providers: self.providers.clone(),
            config: self.config.clone(),
        }
    }

    /// A number of Ada's WABA, known to the peer and saved (so confirmed) by Ada.
    pub(crate) async fn phone(
        &self,
        label: &str,
        provider_id: &str,
        quota: i32,
        priority: i32,
    ) -> Uuid {
        self.peer
            .add_whatsapp_number(wa_number(WABA, provider_id, WA_TOKEN));
        let number = format!("+2012{:08}", priority * 1000 + quota);
        let (status, body) = self
            .app
            .call::<SavePhone>(
                &self.admin,
                &[
                    ("number", &number),
                    ("label", label),
                    ("provider_phone_id", provider_id),
                    ("waba_id", WABA),
                    ("access_token", WA_TOKEN),
                    ("priority", &priority.to_string()),
                    ("daily_quota", &quota.to_string()),
                ],
            )
            .await;
        ok(status, &body).parse().unwrap()
    }

    pub(crate) async fn wa_template(&self, name: &str, body: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveTemplate>(
                &self.admin,
                &[
                    ("name", name),
                    ("channel", "WHATSAPP"),
                    ("wa_template_name", &name.to_lowercase().replace(' ', "_")),
                    ("approval_status", "APPROVED"),
                    ("body", body),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn email_template(&self, name: &str, subject: &str, body: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveTemplate>(
                &self.admin,
                &[
                    ("name", name),
                    ("channel", "EMAIL"),
                    ("subject", subject),
                    ("body", body),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn mailbox(&self) -> Uuid {
        let (status, b) = self
            .app
            .call::<AddDomain>(&self.admin, &[("domain", "acme.test")])
            .await;
        let domain = ok(status, &b);
        self.mailbox_on(&domain, "sales@acme.test", "Acme Sales")
            .await
    }

    /// Another mailbox on a domain already added (`domain`: its id).
    pub(crate) async fn mailbox_on(&self, domain: &str, address: &str, name: &str) -> Uuid {
        let (status, b) = self.save_mailbox(domain, address, name).await;
        ok(status, &b).parse().unwrap()
    }

    /// Saves a mailbox on the peer's SMTP server: the answer, refused or not.
    pub(crate) async fn save_mailbox(
        &self,
        domain: &str,
        address: &str,
        name: &str,
    ) -> (StatusCode, Value) {
        let port = self.peer.smtp_addr().port().to_string();
        self.app
            .call::<SaveMailbox>(
                &self.admin,
                &[
                    ("domain_id", domain),
                    ("from_address", address),
                    ("from_name", name),
                    ("smtp_host", "127.0.0.1"),
                    ("smtp_port", &port),
                    ("smtp_security", "NONE"),
                    (
                        "smtp_username",
                        address.split('@').next().unwrap_or(address),
                    ),
                    ("smtp_password", "pw"),
                    ("daily_cap", "100"),
                    ("warmup_start", "50"),
                    ("warmup_step", "10"),
                    ("min_gap_seconds", "0"),
                ],
            )
            .await
    }

    pub(crate) async fn sequence(&self, name: &str, hours: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveSequence>(
                &self.admin,
                &[
                    ("name", name),
                    ("business_hours", hours),
                    ("exit_on_reply", "on"),
                    ("exit_on_bounce", "on"),
                    ("max_attempts", "5"),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn step(
        &self,
        sequence: Uuid,
        template: Uuid,
        delay: i32,
        fallback: Option<Uuid>,
    ) {
        let fallback = fallback.map(|f| f.to_string()).unwrap_or_default();
        let (status, b) = self
            .app
            .call::<AddStep>(
                &self.admin,
                &[
                    ("sequence_id", &sequence.to_string()),
                    ("delay_minutes", &delay.to_string()),
                    ("template_id", &template.to_string()),
                    ("fallback_template_id", &fallback),
                    ("skip_if_replied", "on"),
                ],
            )
            .await;
        ok(status, &b);
    }

    /// `n` leads; with a WhatsApp number and/or an email address.
    pub(crate) async fn leads(&self, n: usize, phone: bool, email: bool) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::now_v7();
            let unique = &id.simple().to_string()[20..];
            let number = phone.then(|| {
                format!(
                    "+2010{:08}",
                    (u64::from_str_radix(unique, 16).unwrap() % 100_000_000)
                )
            });
            sqlx::query(
                "INSERT INTO leads (tenant_id, id, name, phone_e164, email) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.tenant)
            .bind(id)
            .bind(format!("Mona Lead{i}"))
            .bind(number)
            .bind(email.then(|| format!("lead{i}-{unique}@example.com")))
            .execute(&self.app.pools.owner)
            .await
            .unwrap();
            ids.push(id);
        }
        ids
    }

    pub(crate) async fn enrol(&self, sequence: Uuid, leads: &[Uuid]) -> Value {
        let (status, body) = self
            .app
            .call_json::<Enrol>(
                &self.admin,
                &json!({ "sequence_id": sequence, "list_id": null, "lead_ids": leads }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Runs the scheduler until it finds nothing due. A pass that keeps claiming work
    /// without finishing it would loop for ever; after [`PASSES`] it fails instead.
    pub(crate) async fn schedule(&self) -> usize {
        let mut queued = 0;
        for _ in 0..PASSES {
            let r = schedule_once(&self.app.pools.app, 500).await.unwrap();
            queued += r.queued;
            if r.claimed == 0 {
                return queued;
            }
        }
        panic!("the scheduler still claimed enrolments after {PASSES} passes");
    }

    /// Runs the dispatcher until it finds nothing to send, bounded like `schedule`.
    pub(crate) async fn dispatch(&self) -> usize {
        let mut sent = 0;
        for _ in 0..PASSES {
            let r = dispatch_once(&self.app.pools.app, &self.providers, &self.config, 200)
                .await
                .unwrap();
            sent += r.sent;
            if r.claimed == 0 {
                return sent;
            }
        }
        panic!("the dispatcher still claimed messages after {PASSES} passes");
    }

    /// Makes due what waits for a delay (moves time forward for the enrolments).
    pub(crate) async fn fast_forward(&self) {
        sqlx::query("UPDATE enrollments SET next_run_at = now() WHERE status = 'ACTIVE' AND next_run_at < now() + interval '1 day'")
            .execute(&self.app.pools.owner)
            .await
            .unwrap();
    }

    pub(crate) async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }

    pub(crate) async fn journey(&self, lead: Uuid) -> String {
        sqlx::query_scalar("SELECT state FROM lead_journeys WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }

    /// The lead's status, and who set it (`AUTO`: the journey; `MANUAL`: a person).
    pub(crate) async fn lead_status(&self, lead: Uuid) -> (String, String) {
        sqlx::query_as("SELECT status, status_source FROM leads WHERE id = $1")
            .bind(lead)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }
}
