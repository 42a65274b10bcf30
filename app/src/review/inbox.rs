//! My inbox: the replies on the viewer's own leads, unread first and then newest first,
//! with what the classifier read in each, answerable in place through the outbox. New
//! replies are announced live (the tab's `notice` events) and shown on request, so a
//! half-written answer is never swept away by a refresh.

use super::model::Intent;
use crate::error::AppError;
use crate::i18n::{t, tf};
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
    /// Marked read, or answered, by the lead's owner.
    pub seen: bool,
}

#[server]
pub async fn my_inbox() -> Result<Vec<InboxReply>, AppError> {
    respond(async { ssr::inbox(&env()?).await }).await
}

/// Marks a reply on one of the viewer's leads as read.
#[server]
pub async fn mark_reply_read(message_id: Uuid) -> Result<(), AppError> {
    respond(async { ssr::mark_read(&env()?, message_id).await }).await
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
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let rows: Vec<InboxReply> = sqlx::query_as(
            "SELECT m.id, m.lead_id, l.name AS lead_name, m.channel, m.subject, m.body, m.intent,
                    m.created_at AS at, m.seen_at IS NOT NULL AS seen
               FROM messages m JOIN leads l ON l.id = m.lead_id
              WHERE m.direction = 'IN' AND l.owner_id = $1
              ORDER BY m.seen_at IS NULL DESC, m.created_at DESC LIMIT $2",
        )
        .bind(p.user_id)
        .bind(INBOX_SIZE)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Marks it seen; a reply already seen stays as it was. Not the viewer's lead, or
    /// not a reply: 404, as for a message that does not exist.
    pub async fn mark_read(env: &Env, message_id: Uuid) -> Result<(), AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let found = sqlx::query(
            "UPDATE messages m SET seen_at = coalesce(m.seen_at, now()) FROM leads l
              WHERE m.id = $1 AND m.direction = 'IN' AND l.id = m.lead_id AND l.owner_id = $2",
        )
        .bind(message_id)
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if found == 0 {
            return Err(AppError::NotFound(env.t("review.not_found")));
        }
        Ok(())
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
        let mut tx = env.tx(p).await?;
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
        .await?;
        // Answered is read.
        mark_read(env, message_id).await
    }
}

#[component]
pub fn InboxPage() -> impl IntoView {
    let l = locale();
    let answer = ServerAction::<AnswerReply>::new();
    let read = ServerAction::<MarkReplyRead>::new();
    // Bumped by "Show new replies": the list re-reads only when the member asks.
    let shown = RwSignal::new(0u32);
    let replies = Resource::new(
        move || (answer.version().get(), read.version().get(), shown.get()),
        |_| my_inbox(),
    );
    // Replies that arrived since the list was read, announced but not yet shown.
    let arrived = RwSignal::new(0usize);
    crate::live::on_event("notice", move |_| {
        let listed: Vec<Uuid> = match replies.get_untracked() {
            Some(Ok(list)) => list.iter().map(|r| r.id).collect(),
            _ => return,
        };
        leptos::task::spawn_local(async move {
            if let Ok(now) = my_inbox().await {
                let new = now.iter().filter(|r| !listed.contains(&r.id)).count();
                arrived.try_set(new);
            }
        });
    });
    Effect::new(move || {
        shown.track();
        answer.version().track();
        arrived.set(0);
    });
    view! {
        <PageHeader title=tr("inbox.title")/>
        <div role="status" class="mb-3 empty:hidden" data-testid="inbox-arrived">
            {move || (arrived.get() > 0).then(|| view! {
                <button type="button" class="btn btn-secondary" on:click=move |_| shown.update(|n| *n += 1)>
                    {tf(l, "inbox.show_new", &[("n", arrived.get().to_string())])}
                </button>
            })}
        </div>
        {move || match answer.value().get() {
            Some(Ok(())) => Some(view! { <p class="alert alert-success" role="status">{tr("inbox.sent")}</p> }.into_any()),
            Some(Err(e)) => Some(view! { <p class="alert alert-danger" role="alert">{e.to_string()}</p> }.into_any()),
            None => None,
        }}
        {move || read.value().get().and_then(|r| r.err()).map(|e| view! {
            <p class="alert alert-danger" role="alert">{e.to_string()}</p>
        })}
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
                                let unread = !r.seen;
                                view! {
                                    <li class="card" class:border-info=unread data-testid="inbox-reply" data-unread=unread.to_string()>
                                        <p class="flex flex-wrap items-center gap-2">
                                            {unread.then(|| view! { <Badge text=t(l, "inbox.unread") tone="info"/> })}
                                            <a class="link font-medium" href=format!("/leads/{}", r.lead_id)>{r.lead_name.clone()}</a>
                                            <span class="text-sm text-muted">{r.channel.clone()} " · " {crate::ui::when(r.at)}</span>
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
                                        {unread.then(|| view! {
                                            <ActionForm action=read attr:class="mt-2">
                                                <input type="hidden" name="message_id" value=r.id.to_string()/>
                                                <button type="submit" class="btn btn-ghost">{tr("inbox.mark_read")}</button>
                                            </ActionForm>
                                        })}
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
