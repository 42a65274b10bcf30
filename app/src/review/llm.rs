//! The tenant's own LLM for uncertain replies (Settings → Review rules, "AI
//! assistant"): an OpenAI-compatible endpoint, model and key, the confidence below
//! which a reply is sent, the timeout and the calls allowed per day. Managers see it
//! and today's figures; admins change it, since the key is the workspace's and replies
//! leave the workspace through it. The key is sealed at rest and never sent back.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The settings as the form edits them; an empty key keeps the saved one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmForm {
    pub enabled: bool,
    pub url: String,
    pub model: String,
    pub api_key: String,
    /// Percent, 1–100: replies the built-in classifier is less sure of are sent.
    pub threshold: String,
    pub timeout_s: String,
    pub daily_budget: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmView {
    pub form: LlmForm,
    pub configured: bool,
    pub key_saved: bool,
    pub can_edit: bool,
    /// Today, in the workspace's time zone.
    pub calls_today: i64,
    pub refined_today: i64,
    pub failed_today: i64,
    /// The last failure and when, in the workspace's time zone.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

#[server(input = Json)]
pub async fn review_llm() -> Result<LlmView, AppError> {
    respond(async { ssr::load(&env()?).await }).await
}

#[server(input = Json)]
pub async fn save_review_llm(form: LlmForm) -> Result<(), AppError> {
    respond(async { ssr::save(&env()?, &form).await }).await
}

#[server(input = Json)]
pub async fn remove_review_llm() -> Result<(), AppError> {
    respond(async { ssr::remove(&env()?).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crypto;
    use crate::i18n::tf;
    use crate::request::Env;
    use crate::review::ssr::refine::key_at;

    const KEY_MAX: usize = 500;

    #[derive(sqlx::FromRow)]
    struct Row {
        enabled: bool,
        url: String,
        model: String,
        has_key: bool,
        threshold: f32,
        timeout_ms: i32,
        daily_budget: i32,
        last_error: Option<String>,
        last_error_at: Option<String>,
    }

    #[derive(sqlx::FromRow)]
    struct Today {
        calls: i64,
        refined: i64,
        failed: i64,
    }

    pub async fn load(env: &Env) -> Result<LlmView, AppError> {
        let (p, mut tx) = env.begin(Permission::ReviewWork).await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT s.enabled, s.url, s.model, s.key_sealed IS NOT NULL AS has_key, s.threshold,
                    s.timeout_ms, s.daily_budget, s.last_error,
                    to_char(s.last_error_at AT TIME ZONE t.timezone, 'YYYY-MM-DD HH24:MI') AS last_error_at
               FROM review_llm s JOIN tenants t ON t.id = s.tenant_id",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let today: Today = sqlx::query_as(
            "SELECT coalesce(sum(c.called), 0)::bigint AS calls,
                    count(*) FILTER (WHERE c.status = 'DONE') AS refined,
                    count(*) FILTER (WHERE c.status = 'FAILED') AS failed
               FROM review_llm_calls c JOIN tenants t ON t.id = c.tenant_id
              WHERE c.day = (now() AT TIME ZONE t.timezone)::date",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let can_edit = Permission::TenantSettings.allowed_for(p.role);
        Ok(match row {
            Some(r) => LlmView {
                form: LlmForm {
                    enabled: r.enabled,
                    url: r.url,
                    model: r.model,
                    api_key: String::new(),
                    threshold: ((r.threshold * 100.0).round() as i32).to_string(),
                    timeout_s: (r.timeout_ms / 1000).to_string(),
                    daily_budget: r.daily_budget.to_string(),
                },
                configured: true,
                key_saved: r.has_key,
                can_edit,
                calls_today: today.calls,
                refined_today: today.refined,
                failed_today: today.failed,
                last_error: r.last_error,
                last_error_at: r.last_error_at,
            },
            None => LlmView {
                form: LlmForm {
                    enabled: true,
                    url: String::new(),
                    model: String::new(),
                    api_key: String::new(),
                    threshold: "60".into(),
                    timeout_s: "8".into(),
                    daily_budget: "500".into(),
                },
                configured: false,
                key_saved: false,
                can_edit,
                calls_today: today.calls,
                refined_today: today.refined,
                failed_today: today.failed,
                last_error: None,
                last_error_at: None,
            },
        })
    }

    fn int_in(env: &Env, field: &str, text: &str, min: i32, max: i32) -> Result<i32, AppError> {
        text.trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                AppError::field(
                    field,
                    tf(
                        env.locale(),
                        "review.rules.error.range",
                        &[("min", min.to_string()), ("max", max.to_string())],
                    ),
                )
            })
    }

    pub async fn save(env: &Env, form: &LlmForm) -> Result<(), AppError> {
        let p = env.require(Permission::TenantSettings)?;
        let url = form.url.trim();
        if url.is_empty() || url.chars().count() > 500 {
            return Err(AppError::field("url", env.t("review.llm.error.url")));
        }
        crate::developers::deliver::allowed_target(url, env.ctx.config.egress)
            .await
            .map_err(|reason| AppError::field("url", env.t(reason.message_key())))?;
        let model = form.model.trim();
        if model.is_empty() || model.chars().count() > 100 || model.chars().any(char::is_control) {
            return Err(AppError::field("model", env.t("review.llm.error.model")));
        }
        let key = form.api_key.trim();
        if key.chars().count() > KEY_MAX || key.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::field("api_key", env.t("review.llm.error.key")));
        }
        let threshold = int_in(env, "threshold", &form.threshold, 1, 100)?;
        let timeout_s = int_in(env, "timeout_s", &form.timeout_s, 1, 30)?;
        let budget = int_in(env, "daily_budget", &form.daily_budget, 0, 100_000)?;
        let mut tx = env.tx(p).await?;
        if form.enabled {
            // AI reply review is a plan feature (Pro and up); settings may be kept
            // switched off on any plan, ready for an upgrade.
            crate::billing::features::require(
                &mut tx,
                p.tenant_id,
                env.locale(),
                crate::billing::model::Feature::ReviewAi,
            )
            .await?;
        }
        let has_key: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM review_llm WHERE key_sealed IS NOT NULL)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if key.is_empty() && !has_key {
            return Err(AppError::field(
                "api_key",
                env.t("review.llm.error.key_required"),
            ));
        }
        let sealed = (!key.is_empty()).then(|| {
            crypto::seal_field(
                &env.ctx.config.secret_key,
                &key_at(p.tenant_id),
                key.as_bytes(),
            )
        });
        sqlx::query(
            "INSERT INTO review_llm (tenant_id, enabled, url, model, key_sealed, threshold, timeout_ms, daily_budget)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tenant_id) DO UPDATE SET
                enabled = EXCLUDED.enabled, url = EXCLUDED.url, model = EXCLUDED.model,
                key_sealed = coalesce(EXCLUDED.key_sealed, review_llm.key_sealed),
                threshold = EXCLUDED.threshold, timeout_ms = EXCLUDED.timeout_ms,
                daily_budget = EXCLUDED.daily_budget, updated_at = now()",
        )
        .bind(p.tenant_id)
        .bind(form.enabled)
        .bind(url)
        .bind(model)
        .bind(&sealed)
        .bind(threshold as f32 / 100.0)
        .bind(timeout_s * 1000)
        .bind(budget)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("review_llm.updated", "review_llm", Some(p.tenant_id)).after(
                serde_json::json!({
                    "enabled": form.enabled, "url": url, "model": model, "key_changed": sealed.is_some(),
                    "threshold": threshold, "timeout_s": timeout_s, "daily_budget": budget,
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the endpoint and its key; replies waiting for it keep their built-in
    /// verdict.
    pub async fn remove(env: &Env) -> Result<(), AppError> {
        let (p, mut tx) = env.begin(Permission::TenantSettings).await?;
        sqlx::query("DELETE FROM review_llm")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE review_llm_calls SET status = 'SKIPPED', error = 'the LLM was removed',
                    finished_at = now() WHERE status = 'PENDING'",
        )
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("review_llm.removed", "review_llm", Some(p.tenant_id)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The "AI assistant" card: the form for admins, the same read-only for managers,
/// and today's figures.
#[component]
pub fn LlmCard() -> impl IntoView {
    use crate::ui::{tr, LoadError, Skeleton};
    let settings = Resource::new(|| (), |_| review_llm());
    // Said before the form, so nobody fills it in for nothing.
    let not_in_plan = Resource::new(
        || (),
        |_| crate::billing::api::feature_refusal("review.ai".to_string()),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                not_in_plan.await.ok().flatten().map(|why| view! {
                    <p class="alert alert-warning mb-3" role="status" data-testid="review-ai-not-in-plan">
                        {why} " " <a class="underline" href="/billing">{tr("nav.billing")}</a>
                    </p>
                })
            })}
        </Transition>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(view) => view! { <LlmEditor view/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

type Read = fn(&LlmForm) -> String;
type Write = fn(&mut LlmForm, String);

#[component]
fn LlmEditor(view: LlmView) -> impl IntoView {
    use crate::i18n::tf;
    use crate::ui::{field_error, form_error, locale, tr, Alert, Card};
    let l = locale();
    let form = RwSignal::new(view.form);
    let key_saved = RwSignal::new(view.key_saved);
    let configured = RwSignal::new(view.configured);
    let can_edit = view.can_edit;
    let save = ServerAction::<SaveReviewLlm>::new();
    let remove = ServerAction::<RemoveReviewLlm>::new();
    let value = save.value();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(()))) {
            configured.set(true);
            if !form.with_untracked(|f| f.api_key.trim().is_empty()) {
                key_saved.set(true);
            }
            form.update(|f| f.api_key.clear());
        }
    });
    Effect::new(move |_| {
        if matches!(remove.value().get(), Some(Ok(()))) {
            configured.set(false);
            key_saved.set(false);
            form.update(|f| {
                f.url.clear();
                f.model.clear();
                f.api_key.clear();
            });
        }
    });
    const FIELDS: &[&str] = &[
        "url",
        "model",
        "api_key",
        "threshold",
        "timeout_s",
        "daily_budget",
    ];
    let input = move |name: &'static str,
                      kind: &'static str,
                      label: String,
                      hint: Option<String>,
                      get: Read,
                      set: Write| {
        let id = format!("llm-{name}");
        let error = field_error(value, name);
        let described = format!("{id}-note");
        let hint_view = hint.map(|h| view! { <p class="field-hint">{h}</p> });
        view! {
            <div class="field">
                <label for=id.clone() class="field-label">{label}</label>
                <input id=id type=kind class="input" disabled=!can_edit
                    autocomplete=if kind == "password" { "new-password" } else { "off" }
                    inputmode=(kind == "number").then_some("numeric")
                    class:input-invalid=move || error.get().is_some()
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=described.clone()
                    prop:value=move || form.with(get)
                    on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))/>
                <div id=described>
                    {hint_view}
                    {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
            </div>
        }
    };
    let figures = tf(
        l,
        "review.llm.today",
        &[
            ("calls", view.calls_today.to_string()),
            ("refined", view.refined_today.to_string()),
            ("failed", view.failed_today.to_string()),
        ],
    );
    let last_error = view.last_error.map(|e| {
        tf(
            l,
            "review.llm.last_error",
            &[("at", view.last_error_at.unwrap_or_default()), ("error", e)],
        )
    });
    view! {
        <form novalidate data-testid="llm-settings" on:submit=move |ev| {
            ev.prevent_default();
            save.dispatch(SaveReviewLlm { form: form.get_untracked() });
        }>
            <Card title=tr("review.llm.title")>
                <p class="text-sm text-muted">{tr("review.llm.intro")}</p>
                {(!can_edit).then(|| view! { <p class="mt-2 text-sm" role="note">{tr("review.llm.admins_only")}</p> })}
                <label class="mt-3 flex items-center gap-2 text-sm">
                    <input type="checkbox" class="h-4 w-4" disabled=!can_edit
                        prop:checked=move || form.with(|f| f.enabled)
                        on:change=move |ev| form.update(|f| f.enabled = event_target_checked(&ev))/>
                    {tr("review.llm.enabled")}
                </label>
                <div class="mt-3 grid gap-3 md:grid-cols-3">
                    {input("url", "url", tr("review.llm.url"), Some(tr("review.llm.url_hint")),
                        |f| f.url.clone(), |f, v| f.url = v)}
                    {input("model", "text", tr("review.llm.model"), None, |f| f.model.clone(), |f, v| f.model = v)}
                    {move || {
                        let hint = if key_saved.get() { tr("review.llm.key_saved") } else { tr("review.llm.key_hint") };
                        input("api_key", "password", tr("review.llm.key"), Some(hint), |f| f.api_key.clone(), |f, v| f.api_key = v)
                    }}
                    {input("threshold", "number", tr("review.llm.threshold"), Some(tr("review.llm.threshold_hint")),
                        |f| f.threshold.clone(), |f, v| f.threshold = v)}
                    {input("timeout_s", "number", tr("review.llm.timeout"), None, |f| f.timeout_s.clone(), |f, v| f.timeout_s = v)}
                    {input("daily_budget", "number", tr("review.llm.budget"), Some(tr("review.llm.budget_hint")),
                        |f| f.daily_budget.clone(), |f, v| f.daily_budget = v)}
                </div>
                <p class="mt-3 text-sm" data-testid="llm-today">{figures}</p>
                {last_error.map(|e| view! { <p class="mt-1 text-sm text-danger">{e}</p> })}
            </Card>
            <Alert message=form_error(value, FIELDS)/>
            {can_edit.then(|| view! {
                <div class="flex items-center gap-3">
                    <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>{tr("review.llm.save")}</button>
                    {move || configured.get().then(|| view! {
                        <button type="button" class="btn" disabled=move || remove.pending().get()
                            on:click=move |_| { remove.dispatch(RemoveReviewLlm {}); }>{tr("review.llm.remove")}</button>
                    })}
                    {move || matches!(value.get(), Some(Ok(()))).then(|| view! {
                        <p class="text-sm text-success" role="status">{tr("review.llm.saved")}</p>
                    })}
                </div>
            })}
        </form>
    }
}
