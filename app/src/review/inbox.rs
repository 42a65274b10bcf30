//! My inbox: the replies on the viewer's own leads, newest first, with what the
//! classifier read in each, answerable in place through the outbox.

use super::model::Intent;
use crate::error::AppError;
use crate::i18n::t;
use crate::ui::{locale, tr, Badge, LoadError, PageHeader, Skeleton};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Replies the inbox shows at most.
pub const INBOX_SIZE: i64 = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct InboxReply {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub lead_name: String,
    pub channel: String,
    pub subject: Option<String>,
    pub body: String,
    pub intent: Option<String>,
    pub at: DateTime<Utc>,
}

#[server]
pub async fn my_inbox() -> Result<Vec<InboxReply>, AppError> {
    respond(async { ssr::inbox(&env()?).await }).await
}

/// Answers a reply on the channel it came on.
#[server]
pub async fn answer_reply(message_id: Uuid, body: String) -> Result<(), AppError> {
    respond(async { ssr::answer(&env()?, message_id, &body).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::{InboxReply, INBOX_SIZE};
    use crate::auth::model::Permission;
    use crate::error::AppError;
    use crate::outreach::ssr::lead::{send_one_off, OneOff};
    use crate::request::Env;
    use uuid::Uuid;

    /// Longest answer (the queue's own limit).
    const ANSWER_MAX: usize = 4000;

    pub async fn inbox(env: &Env) -> Result<Vec<InboxReply>, AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
        let rows: Vec<InboxReply> = sqlx::query_as(
            "SELECT m.id, m.lead_id, l.name AS lead_name, m.channel, m.subject, m.body, m.intent,
                    m.created_at AS at
               FROM messages m JOIN leads l ON l.id = m.lead_id
              WHERE m.direction = 'IN' AND l.owner_id = $1
              ORDER BY m.created_at DESC LIMIT $2",
        )
        .bind(p.user_id)
        .bind(INBOX_SIZE)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    pub async fn answer(env: &Env, message_id: Uuid, body: &str) -> Result<(), AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let body = body.trim();
        if body.is_empty() {
            return Err(AppError::field("body", env.t("review.error.reply_empty")));
        }
        if body.chars().count() > ANSWER_MAX {
            return Err(AppError::field("body", env.t("review.error.reply_long")));
        }
        let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
        let reply: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT m.lead_id, m.channel, m.subject FROM messages m JOIN leads l ON l.id = m.lead_id
              WHERE m.id = $1 AND m.direction = 'IN' AND l.owner_id = $2",
        )
        .bind(message_id)
        .bind(p.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let (lead, channel, subject) =
            reply.ok_or_else(|| AppError::NotFound(env.t("review.not_found")))?;
        let subject = subject
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                if s.to_lowercase().starts_with("re:") {
                    s
                } else {
                    format!("Re: {s}")
                }
            })
            .unwrap_or_default();
        send_one_off(
            env,
            lead,
            &OneOff {
                channel,
                template_id: String::new(),
                subject,
                body: body.to_string(),
            },
        )
        .await
        .map(|_| ())
    }
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let l = locale();
    let answer = ServerAction::<AnswerReply>::new();
    let replies = Resource::new(move || answer.version().get(), |_| my_inbox());
    view! {
        <PageHeader title=tr("inbox.title")/>
        {move || match answer.value().get() {
            Some(Ok(())) => Some(view! { <p class="alert alert-success" role="status">{tr("inbox.sent")}</p> }.into_any()),
            Some(Err(e)) => Some(view! { <p class="alert alert-danger" role="alert">{e.to_string()}</p> }.into_any()),
            None => None,
        }}
        <Transition fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match replies.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <div class="empty-state"><p>{tr("inbox.empty")}</p></div>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="space-y-3" data-testid="inbox">
                            {list.into_iter().map(|r| {
                                let field = format!("answer-{}", r.id);
                                view! {
                                    <li class="card" data-testid="inbox-reply">
                                        <p class="flex flex-wrap items-center gap-2">
                                            <a class="link font-medium" href=format!("/leads/{}", r.lead_id)>{r.lead_name.clone()}</a>
                                            <span class="text-sm text-muted">{r.channel.clone()} " · " {r.at.format("%Y-%m-%d %H:%M").to_string()}</span>
                                            {r.intent.as_deref().and_then(Intent::parse).map(|i| view! { <Badge text=t(l, i.label_key())/> })}
                                        </p>
                                        {r.subject.clone().filter(|s| !s.is_empty()).map(|s| view! { <p class="font-medium mt-1">{s}</p> })}
                                        <p class="whitespace-pre-wrap break-words mt-1">{r.body.clone()}</p>
                                        <ActionForm action=answer attr:class="mt-2 flex flex-wrap items-end gap-2">
                                            <input type="hidden" name="message_id" value=r.id.to_string()/>
                                            <div class="field grow">
                                                <label for=field.clone() class="field-label">{tr("inbox.answer")}</label>
                                                <textarea id=field name="body" class="input" rows="2"></textarea>
                                            </div>
                                            <button type="submit" class="btn btn-primary">{tr("inbox.send")}</button>
                                        </ActionForm>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
