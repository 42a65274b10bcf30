//! Seed 001's research on a lead: evidence (sources with a type and a confidence) and
//! reports whose sections cite that evidence. Written by members for now.

use crate::error::AppError;
use crate::ui::{field_error, form_error, tr, Alert, Card, Field, LoadError, Skeleton, Submit};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const EVIDENCE_KINDS: [&str; 7] = [
    "WEBSITE",
    "SOCIAL",
    "NEWS",
    "REVIEWS",
    "GOVERNMENT",
    "FINANCIAL",
    "CUSTOM",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: Uuid,
    pub kind: String,
    pub url: Option<String>,
    pub title: String,
    pub excerpt: Option<String>,
    /// 0–100 %.
    pub confidence: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub body: String,
    pub evidence_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: Uuid,
    pub title: String,
    pub sections: Vec<Section>,
    pub author: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Research {
    pub evidence: Vec<Evidence>,
    pub reports: Vec<Report>,
}

#[server]
pub async fn get_research(lead_id: Uuid) -> Result<Research, AppError> {
    use crate::request::{env, respond};
    respond(async { ssr::research(&env()?, lead_id).await }).await
}

#[server]
pub async fn add_evidence(
    lead_id: Uuid,
    kind: String,
    title: String,
    url: Option<String>,
    excerpt: Option<String>,
    confidence: Option<String>,
) -> Result<Uuid, AppError> {
    use crate::request::{env, respond};
    let input = ssr::NewEvidence {
        kind,
        title,
        url: url.unwrap_or_default(),
        excerpt: excerpt.unwrap_or_default(),
        confidence: confidence.unwrap_or_default(),
    };
    respond(async { ssr::add_evidence(&env()?, lead_id, &input).await }).await
}

#[server(input = Json)]
pub async fn save_report(
    lead_id: Uuid,
    report_id: Option<Uuid>,
    title: String,
    sections: Vec<Section>,
) -> Result<Uuid, AppError> {
    use crate::request::{env, respond};
    respond(async { ssr::save_report(&env()?, lead_id, report_id, &title, &sections).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crm::access::Scope;
    use crate::crm::model::Entity;
    use crate::crm::records::ssr::check_visible;
    use crate::db::{internal, new_id, Tx};
    use crate::request::{Env, Principal};
    use sqlx::Row;

    async fn open_lead(env: &Env, lead_id: Uuid) -> Result<(&Principal, Tx), AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let scope = Scope::load(&mut tx, p).await?;
        check_visible(env, &mut tx, &scope, Entity::Lead, lead_id).await?;
        Ok((p, tx))
    }

    pub async fn research(env: &Env, lead_id: Uuid) -> Result<Research, AppError> {
        let (_, mut tx) = open_lead(env, lead_id).await?;
        let evidence = sqlx::query(
            "SELECT id, kind, url, title, excerpt, confidence, created_at FROM evidence
              WHERE lead_id = $1 ORDER BY created_at, id",
        )
        .bind(lead_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Evidence {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                url: r.try_get("url")?,
                title: r.try_get("title")?,
                excerpt: r.try_get("excerpt")?,
                confidence: (r.try_get::<f32, _>("confidence")? * 100.0).round() as i32,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let reports = sqlx::query(
            "SELECT r.id, r.title, r.sections, u.name AS author, r.updated_at
               FROM reports r LEFT JOIN users u ON u.id = r.author_id
              WHERE r.lead_id = $1 ORDER BY r.updated_at DESC",
        )
        .bind(lead_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(Report {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                sections: serde_json::from_value(r.try_get("sections")?).unwrap_or_default(),
                author: r.try_get("author")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok(Research { evidence, reports })
    }

    pub struct NewEvidence {
        pub kind: String,
        pub title: String,
        pub url: String,
        pub excerpt: String,
        pub confidence: String,
    }

    pub async fn add_evidence(
        env: &Env,
        lead_id: Uuid,
        input: &NewEvidence,
    ) -> Result<Uuid, AppError> {
        let kind = input.kind.trim().to_ascii_uppercase();
        if !EVIDENCE_KINDS.contains(&kind.as_str()) {
            return Err(AppError::field("kind", env.t("research.kind_invalid")));
        }
        let title = input.title.trim();
        if title.is_empty() || title.chars().count() > 300 {
            return Err(AppError::field("title", env.t("research.title_required")));
        }
        let url = input.url.trim();
        let web_link = url.starts_with("https://") || url.starts_with("http://");
        if !(url.is_empty() || web_link) || url.len() > 2000 {
            return Err(AppError::field("url", env.t("research.url_invalid")));
        }
        let confidence = match input.confidence.trim() {
            "" => 50,
            text => match text.trim_end_matches('%').parse::<i32>() {
                Ok(n) if (0..=100).contains(&n) => n,
                _ => {
                    return Err(AppError::field(
                        "confidence",
                        env.t("research.confidence_invalid"),
                    ))
                }
            },
        };
        let excerpt = input.excerpt.trim();
        if excerpt.chars().count() > 5000 {
            return Err(AppError::field("excerpt", env.t("records.too_long")));
        }
        let (p, mut tx) = open_lead(env, lead_id).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO evidence (tenant_id, id, lead_id, kind, url, title, excerpt, confidence, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(lead_id)
        .bind(&kind)
        .bind((!url.is_empty()).then_some(url))
        .bind(title)
        .bind((!excerpt.is_empty()).then_some(excerpt))
        .bind(confidence as f32 / 100.0)
        .bind(p.user_id)
        .execute(&mut *tx)
        .await
        ?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("evidence.added", "evidence", Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn save_report(
        env: &Env,
        lead_id: Uuid,
        report_id: Option<Uuid>,
        title: &str,
        sections: &[Section],
    ) -> Result<Uuid, AppError> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(AppError::field("title", env.t("research.title_required")));
        }
        if sections.is_empty() || sections.len() > 50 {
            return Err(AppError::field(
                "sections",
                env.t("research.sections_required"),
            ));
        }
        for (i, s) in sections.iter().enumerate() {
            if s.heading.trim().is_empty()
                || s.heading.chars().count() > 200
                || s.body.chars().count() > 20_000
            {
                return Err(AppError::field(
                    &format!("section.{i}"),
                    env.t("research.section_invalid"),
                ));
            }
        }
        let (p, mut tx) = open_lead(env, lead_id).await?;
        // A section may cite only this lead's evidence.
        let cited: Vec<Uuid> = sections
            .iter()
            .flat_map(|s| s.evidence_ids.iter().copied())
            .collect();
        let known: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT id) FROM evidence WHERE lead_id = $1 AND id = ANY($2)",
        )
        .bind(lead_id)
        .bind(&cited)
        .fetch_one(&mut *tx)
        .await?;
        let distinct = cited.iter().collect::<std::collections::HashSet<_>>().len() as i64;
        if known != distinct {
            return Err(AppError::field(
                "sections",
                env.t("research.unknown_evidence"),
            ));
        }
        let clean: Vec<Section> = sections
            .iter()
            .map(|s| Section {
                heading: s.heading.trim().to_string(),
                body: s.body.trim().to_string(),
                evidence_ids: s.evidence_ids.clone(),
            })
            .collect();
        let body = serde_json::to_value(&clean).map_err(internal)?;
        let id = match report_id {
            Some(id) => {
                let n = sqlx::query(
                    "UPDATE reports SET title = $3, sections = $4, updated_at = now() WHERE id = $1 AND lead_id = $2",
                )
                .bind(id)
                .bind(lead_id)
                .bind(title)
                .bind(&body)
                .execute(&mut *tx)
                .await
                ?
                .rows_affected();
                if n == 0 {
                    return Err(AppError::NotFound(env.t("research.report_not_found")));
                }
                id
            }
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO reports (tenant_id, id, lead_id, title, sections, author_id) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(p.tenant_id)
                .bind(id)
                .bind(lead_id)
                .bind(title)
                .bind(&body)
                .bind(p.user_id)
                .execute(&mut *tx)
                .await
                ?;
                id
            }
        };
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("report.saved", "reports", Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// The research cards on a lead's page.
#[component]
pub fn LeadResearch(lead_id: Uuid) -> impl IntoView {
    let add = ServerAction::<AddEvidence>::new();
    let value = add.value();
    let saved = RwSignal::new(0_u32);
    let data = Resource::new(
        move || (add.version().get(), saved.get()),
        move |_| get_research(lead_id),
    );
    view! {
        <Card title=tr("research.evidence")>
            <Transition fallback=|| view! { <Skeleton lines=2/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(r) => view! { <EvidenceList evidence=r.evidence.clone()/><Reports lead_id research=r saved/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Transition>
            <details class="mt-3">
                <summary class="cursor-pointer text-sm font-medium">{tr("research.add_evidence")}</summary>
                <ActionForm action=add attr:class="space-y-2 mt-2" attr:data-testid="evidence-form" attr:novalidate="">
                    <input type="hidden" name="lead_id" value=lead_id.to_string()/>
                    <div class="field">
                        <label for="f-ev-kind" class="field-label">{tr("research.kind")}</label>
                        <select id="f-ev-kind" name="kind" class="input">
                            {EVIDENCE_KINDS.into_iter().map(|k| view! { <option value=k>{tr(&format!("research.kind.{k}"))}</option> }).collect_view()}
                        </select>
                    </div>
                    <Field label=tr("research.source_title") name="title" required=true error=field_error(value, "title")/>
                    <Field label=tr("research.url") name="url" kind="url" error=field_error(value, "url")/>
                    <Field label=tr("research.excerpt") name="excerpt" error=field_error(value, "excerpt")/>
                    <Field label=tr("research.confidence") name="confidence" kind="number" value="50" error=field_error(value, "confidence")/>
                    <Submit label=tr("research.add_evidence") pending=add.pending()/>
                    <Alert message=form_error(value, &["title", "url", "excerpt", "confidence", "kind"])/>
                </ActionForm>
            </details>
        </Card>
    }
}

#[component]
fn EvidenceList(evidence: Vec<Evidence>) -> impl IntoView {
    if evidence.is_empty() {
        return view! { <p class="text-sm text-muted">{tr("research.no_evidence")}</p> }.into_any();
    }
    view! {
        <ol class="space-y-2 text-sm" data-testid="evidence">
            {evidence.into_iter().enumerate().map(|(i, e)| view! {
                <li id=format!("ev-{}", e.id)>
                    <span class="font-mono text-xs me-1">{format!("[{}]", i + 1)}</span>
                    {match e.url.clone() {
                        Some(url) => view! { <a class="link" href=url rel="noopener noreferrer" target="_blank">{e.title.clone()}</a> }.into_any(),
                        None => view! { <span>{e.title.clone()}</span> }.into_any(),
                    }}
                    <span class="badge badge-neutral ms-2">{tr(&format!("research.kind.{}", e.kind))}</span>
                    <span class="badge badge-neutral ms-1">{format!("{}%", e.confidence)}</span>
                    {e.excerpt.clone().map(|x| view! { <p class="text-muted mt-1">{x}</p> })}
                </li>
            }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn Reports(lead_id: Uuid, research: Research, saved: RwSignal<u32>) -> impl IntoView {
    let Research { evidence, reports } = research;
    let cite_no = {
        let ids: Vec<Uuid> = evidence.iter().map(|e| e.id).collect();
        move |id: &Uuid| ids.iter().position(|x| x == id).map(|i| i + 1)
    };
    let writing = RwSignal::new(false);
    let title = RwSignal::new(String::new());
    let sections = RwSignal::new(vec![Section::default()]);
    let error = RwSignal::new(None::<String>);
    let save = Action::new(move |input: &(String, Vec<Section>)| {
        let (title, sections) = input.clone();
        async move { save_report(lead_id, None, title, sections).await }
    });
    Effect::new(move || match save.value().get() {
        Some(Ok(_)) => {
            writing.set(false);
            error.set(None);
            saved.update(|s| *s += 1);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let ev_choices: Vec<(Uuid, String)> = evidence
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id, format!("[{}] {}", i + 1, e.title)))
        .collect();
    view! {
        <h3 class="font-semibold mt-4 mb-2">{tr("research.reports")}</h3>
        <div data-testid="reports" class="space-y-3">
            {reports.into_iter().map(|r| view! {
                <article class="border border-line rounded p-3">
                    <h4 class="font-semibold">{r.title.clone()}</h4>
                    <p class="text-xs text-muted">{r.author.clone().unwrap_or_default()} " · " {crate::ui::day_of(r.updated_at)}</p>
                    {r.sections.into_iter().map(|s| view! {
                        <section class="mt-2">
                            <h5 class="font-medium text-sm">{s.heading}</h5>
                            <p class="text-sm whitespace-pre-wrap">{s.body}</p>
                            <p class="text-xs">
                                {s.evidence_ids.iter().filter_map(|id| cite_no(id).map(|n| (n, *id))).map(|(n, id)| view! {
                                    <a class="link me-1" href=format!("#ev-{id}")>{format!("[{n}]")}</a>
                                }).collect_view()}
                            </p>
                        </section>
                    }).collect_view()}
                </article>
            }).collect_view()}
        </div>
        <button type="button" class="btn btn-secondary mt-2" data-testid="write-report" on:click=move |_| writing.update(|w| *w = !*w)>{tr("research.write_report")}</button>
        {move || writing.get().then(|| {
            let choices = ev_choices.clone();
            view! {
                <form class="space-y-2 mt-2" data-testid="report-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    save.dispatch((title.get_untracked(), sections.get_untracked()));
                }>
                    <div class="field">
                        <label for="rp-title" class="field-label">{tr("research.report_title")}</label>
                        <input id="rp-title" class="input" on:input=move |ev| title.set(event_target_value(&ev))/>
                    </div>
                    {move || sections.get().into_iter().enumerate().map(|(i, s)| {
                        let choices = choices.clone();
                        view! {
                            <fieldset class="border border-line rounded p-2 space-y-2">
                                <legend class="text-xs px-1">{format!("{} {}", tr("research.section"), i + 1)}</legend>
                                <label class="sr-only" for=format!("rp-h-{i}")>{tr("research.heading")}</label>
                                <input id=format!("rp-h-{i}") class="input" placeholder=tr("research.heading") prop:value=s.heading.clone()
                                    on:change=move |ev| sections.update(|all| all[i].heading = event_target_value(&ev))/>
                                <label class="sr-only" for=format!("rp-b-{i}")>{tr("research.body")}</label>
                                <textarea id=format!("rp-b-{i}") class="input" rows="3" placeholder=tr("research.body") prop:value=s.body.clone()
                                    on:change=move |ev| sections.update(|all| all[i].body = event_target_value(&ev))></textarea>
                                <div class="flex flex-wrap gap-2 text-xs">
                                    {choices.into_iter().map(|(id, label)| {
                                        let cited = s.evidence_ids.contains(&id);
                                        view! {
                                            <label class="flex items-center gap-1">
                                                <input type="checkbox" prop:checked=cited on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    sections.update(|all| {
                                                        all[i].evidence_ids.retain(|x| *x != id);
                                                        if on { all[i].evidence_ids.push(id); }
                                                    });
                                                }/>
                                                {label}
                                            </label>
                                        }
                                    }).collect_view()}
                                </div>
                            </fieldset>
                        }
                    }).collect_view()}
                    <div class="flex gap-2">
                        <button type="button" class="btn btn-ghost" on:click=move |_| sections.update(|s| s.push(Section::default()))>{tr("research.add_section")}</button>
                        <button type="submit" class="btn btn-primary">{tr("research.save_report")}</button>
                    </div>
                    <Alert message=error/>
                </form>
            }
        })}
    }
}
