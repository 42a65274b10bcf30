//! Duplicate contacts and leads: a record's page lists the likely duplicates (same
//! address once normalised, same phone number, a similar name); merging one folds it
//! into the record on screen, field by field as chosen, and moves its timeline, deals,
//! list memberships, messages and journey. A merge can be undone for 30 days.

use crate::crm::model::Entity;
use crate::error::AppError;
use crate::ui::{form_error, tr, Ago, Alert, Card};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// A record that may be the same person or business as the one on screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Why: "email", "phone", "name".
    pub reasons: Vec<String>,
}

/// An earlier merge into the record on screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PastMerge {
    pub id: Uuid,
    pub merged_name: String,
    pub merged_by: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub undone: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Duplicates {
    pub candidates: Vec<Candidate>,
    /// Merges of the last 30 days, newest first.
    pub merges: Vec<PastMerge>,
}

/// One field of both records, as a person reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChoice {
    pub key: String,
    pub label: String,
    pub kept: String,
    pub other: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergePreview {
    pub kept_name: String,
    pub other_name: String,
    pub fields: Vec<FieldChoice>,
    /// Timeline entries, deals, messages and the like that move over.
    pub moves: i64,
}

/// Two records that look like one; `first` is kept if they are merged here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub first: Candidate,
    pub second: Candidate,
}

/// The record a merged one lives on in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeInto {
    pub id: Uuid,
    pub name: String,
}

#[server(input = Json)]
pub async fn get_duplicates(entity: Entity, id: Uuid) -> Result<Duplicates, AppError> {
    respond(async { ssr::duplicates(&env()?, entity, id).await }).await
}

/// Records a new contact or lead with this email or phone would duplicate (the create
/// form's warning).
#[server(input = Json)]
pub async fn find_matching(
    entity: Entity,
    #[server(default)] email: String,
    #[server(default)] phone: String,
) -> Result<Vec<Candidate>, AppError> {
    respond(async { ssr::matching(&env()?, entity, &email, &phone).await }).await
}

#[server(input = Json)]
pub async fn get_duplicate_pairs(entity: Entity) -> Result<Vec<Pair>, AppError> {
    respond(async { ssr::pairs(&env()?, entity).await }).await
}

#[server(input = Json)]
pub async fn get_merge_preview(
    entity: Entity,
    kept_id: Uuid,
    other_id: Uuid,
) -> Result<MergePreview, AppError> {
    respond(async { ssr::preview(&env()?, entity, kept_id, other_id).await }).await
}

/// Folds `other_id` into `kept_id`; `take` names the fields whose value comes from
/// the other record. Answers the merge's id.
#[server(input = Json)]
pub async fn merge_records(
    entity: Entity,
    kept_id: Uuid,
    other_id: Uuid,
    #[server(default)] take: Vec<String>,
) -> Result<Uuid, AppError> {
    respond(async { ssr::merge(&env()?, entity, kept_id, other_id, &take).await }).await
}

/// Undoes a merge of the last 30 days; answers the page of the record brought back.
#[server(input = Json)]
pub async fn undo_merge(merge_id: Uuid) -> Result<String, AppError> {
    respond(async {
        let (entity, id) = ssr::undo(&env()?, merge_id).await?;
        Ok(entity.path(id))
    })
    .await
}

#[server(input = Json)]
pub async fn get_merged_into(entity: Entity, id: Uuid) -> Result<Option<MergeInto>, AppError> {
    respond(async { ssr::merged_into(&env()?, entity, id).await }).await
}

/// The "Possible duplicates" card of a lead's or contact's page.
#[component]
pub fn DuplicatesCard(entity: Entity, id: Uuid) -> impl IntoView {
    let found = Resource::new(|| (), move |_| get_duplicates(entity, id));
    let merging = RwSignal::new(None::<Candidate>);
    let undo = ServerAction::<UndoMerge>::new();
    let undo_value = undo.value();
    Effect::new(move || {
        if let Some(Ok(_)) = undo_value.get() {
            crate::ui::hard_redirect(&entity.path(id));
        }
    });
    view! {
        <Card title=tr("merge.title")>
            <Suspense fallback=|| view! { <crate::ui::Skeleton lines=2/> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(d) => view! { <DuplicateList entity duplicates=d merging undo/> }.into_any(),
                        Err(error) => view! { <crate::ui::LoadError error/> }.into_any(),
                    }
                })}
            </Suspense>
            <Alert message=form_error(undo_value, &[])/>
        </Card>
        {move || merging.get().map(|other| view! {
            <MergeDialog entity kept_id=id other on_close=move || merging.set(None)/>
        })}
    }
}

#[component]
fn DuplicateList(
    entity: Entity,
    duplicates: Duplicates,
    merging: RwSignal<Option<Candidate>>,
    undo: ServerAction<UndoMerge>,
) -> impl IntoView {
    let Duplicates { candidates, merges } = duplicates;
    let none = candidates.is_empty();
    view! {
        {none.then(|| view! { <p class="text-sm text-muted">{tr("merge.none")}</p> })}
        <ul class="space-y-2 text-sm" data-testid="duplicates">
            {candidates.into_iter().map(|c| {
                let label = crate::i18n::tf(crate::ui::locale(), "merge.review_label", &[("name", c.name.clone())]);
                let detail: Vec<String> = [c.email.clone(), c.phone.clone()].into_iter().flatten().collect();
                let candidate = c.clone();
                view! {
                    <li class="flex flex-wrap items-center gap-2">
                        <a class="link" href=entity.path(c.id)><bdi>{c.name.clone()}</bdi></a>
                        <span class="text-muted"><bdi>{detail.join(" · ")}</bdi></span>
                        {c.reasons.iter().map(|r| view! { <span class="badge badge-neutral">{tr(&format!("merge.reason.{r}"))}</span> }).collect_view()}
                        <button type="button" class="btn btn-secondary btn-sm ms-auto" aria-haspopup="dialog" aria-label=label
                            on:click=move |_| merging.set(Some(candidate.clone()))>{tr("merge.review")}</button>
                    </li>
                }
            }).collect_view()}
        </ul>
        {(!merges.is_empty()).then(|| view! {
            <h3 class="text-sm font-semibold mt-4 mb-1">{tr("merge.merged_here")}</h3>
            <ul class="space-y-2 text-sm" data-testid="past-merges">
                {merges.into_iter().map(|m| {
                    let label = crate::i18n::tf(crate::ui::locale(), "merge.undo_label", &[("name", m.merged_name.clone())]);
                    view! {
                        <li class="flex flex-wrap items-center gap-2">
                            <bdi>{m.merged_name.clone()}</bdi>
                            <span class="text-muted">
                                {m.merged_by.clone().map(|b| view! { <bdi>{b}</bdi>" · " })}
                                <Ago at=m.at/>
                            </span>
                            {if m.undone {
                                view! { <span class="badge badge-neutral">{tr("merge.undone")}</span> }.into_any()
                            } else {
                                view! {
                                    <button type="button" class="btn btn-ghost btn-sm ms-auto" aria-label=label
                                        disabled=move || undo.pending().get()
                                        on:click=move |_| { undo.dispatch(UndoMerge { merge_id: m.id }); }>{tr("merge.undo")}</button>
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        })}
    }
}

#[component]
fn MergeDialog(
    entity: Entity,
    kept_id: Uuid,
    other: Candidate,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let other_id = other.id;
    let preview = Resource::new(|| (), move |_| get_merge_preview(entity, kept_id, other_id));
    // The fields whose value comes from the other record.
    let take = RwSignal::new(Vec::<String>::new());
    let merge = ServerAction::<MergeRecords>::new();
    let value = merge.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            crate::ui::hard_redirect(&entity.path(kept_id));
        }
    });
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move || {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    let title = crate::i18n::tf(
        crate::ui::locale(),
        "merge.dialog_title",
        &[("name", other.name.clone())],
    );
    let form = move |p: MergePreview| {
        // An empty field takes the other record's value unless told otherwise.
        take.set(
            p.fields
                .iter()
                .filter(|f| f.kept.is_empty() && !f.other.is_empty())
                .map(|f| f.key.clone())
                .collect(),
        );
        let note = crate::i18n::tf(
            crate::ui::locale(),
            "merge.note",
            &[
                ("other", p.other_name.clone()),
                ("kept", p.kept_name.clone()),
                ("count", p.moves.to_string()),
            ],
        );
        view! {
            <p class="text-sm mb-3">{note}</p>
            <div class="space-y-2" data-testid="merge-fields">
                {p.fields.into_iter().map(|f| {
                    if f.kept == f.other {
                        view! {
                            <div class="text-sm"><span class="field-label">{f.label}</span>" "
                                <bdi>{if f.kept.is_empty() { "—".to_string() } else { f.kept }}</bdi></div>
                        }.into_any()
                    } else {
                        let key = f.key.clone();
                        let k2 = key.clone();
                        let k3 = key.clone();
                        let name = format!("pick-{key}");
                        let from_other = Memo::new(move |_| take.get().contains(&key));
                        let shown = |v: String| if v.is_empty() { tr("merge.empty") } else { v };
                        view! {
                            <fieldset class="border rounded p-2">
                                <legend class="field-label px-1">{f.label}</legend>
                                <label class="flex items-center gap-2 text-sm">
                                    <input type="radio" name=name.clone() prop:checked=move || !from_other.get()
                                        on:change=move |_| take.update(|t| t.retain(|x| x != &k2))/>
                                    <bdi>{shown(f.kept)}</bdi>
                                </label>
                                <label class="flex items-center gap-2 text-sm">
                                    <input type="radio" name=name prop:checked=move || from_other.get()
                                        on:change=move |_| take.update(|t| if !t.contains(&k3) { t.push(k3.clone()) })/>
                                    <bdi>{shown(f.other)}</bdi>
                                </label>
                            </fieldset>
                        }.into_any()
                    }
                }).collect_view()}
            </div>
            <p class="text-sm text-muted mt-2">{tr("merge.joined_note")}</p>
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="merge-dialog-title" data-testid="merge-dialog"
                 tabindex="-1" node_ref=dialog
                 on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { on_close() }>
                <h2 id="merge-dialog-title" class="card-title">{title}</h2>
                <Suspense fallback=|| view! { <crate::ui::Skeleton lines=4/> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(p) => form(p).into_any(),
                            Err(error) => view! { <crate::ui::LoadError error/> }.into_any(),
                        }
                    })}
                </Suspense>
                <Alert message=form_error(value, &[])/>
                <div class="flex justify-end gap-2 mt-3">
                    <button type="button" class="btn btn-secondary" on:click=move |_| on_close()>{tr("common.cancel")}</button>
                    <button type="button" class="btn btn-primary" data-testid="merge-confirm"
                        disabled=move || merge.pending().get()
                        on:click=move |_| { merge.dispatch(MergeRecords { entity, kept_id, other_id, take: take.get_untracked() }); }>
                        {tr("merge.confirm")}</button>
                </div>
            </div>
        </div>
    }
}

/// The entity a duplicates page is about, from its address.
fn page_entity(area: &str) -> Option<Entity> {
    match area {
        "contacts" => Some(Entity::Contact),
        "leads" => Some(Entity::Lead),
        _ => None,
    }
}

/// `/duplicates/contacts` and `/duplicates/leads`: every likely pair in the workspace.
#[component]
pub fn DuplicatesPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let area = Memo::new(move |_| params.get().get("area").unwrap_or_default());
    let pairs = Resource::new(
        move || area.get(),
        |area| async move {
            match page_entity(&area) {
                Some(entity) => get_duplicate_pairs(entity).await.map(|p| (entity, p)),
                None => Err(AppError::NotFound(String::new())),
            }
        },
    );
    let merging = RwSignal::new(None::<(Entity, Uuid, Candidate)>);
    view! {
        <Transition fallback=|| view! { <crate::ui::Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                let title = tr(&format!("merge.page.{}", area.get_untracked()));
                match pairs.await {
                    Ok((entity, pairs)) => view! {
                        <crate::ui::PageHeader title/>
                        <PairTable entity pairs merging/>
                    }.into_any(),
                    Err(AppError::NotFound(_)) => view! {
                        <div class="empty-state"><p>{tr("records.not_found")}</p></div>
                    }.into_any(),
                    Err(error) => view! { <crate::ui::LoadError error/> }.into_any(),
                }
            })}
        </Transition>
        {move || merging.get().map(|(entity, kept_id, other)| view! {
            <MergeDialog entity kept_id other on_close=move || merging.set(None)/>
        })}
    }
}

#[component]
fn PairTable(
    entity: Entity,
    pairs: Vec<Pair>,
    merging: RwSignal<Option<(Entity, Uuid, Candidate)>>,
) -> impl IntoView {
    if pairs.is_empty() {
        return view! { <div class="empty-state"><p>{tr("merge.none")}</p></div> }.into_any();
    }
    view! {
        <Card>
            <p class="text-sm text-muted mb-2">{tr("merge.page_note")}</p>
            <table class="table" data-testid="duplicate-pairs">
                <thead><tr>
                    <th scope="col">{tr("merge.kept")}</th>
                    <th scope="col">{tr("merge.other")}</th>
                    <th scope="col">{tr("merge.why")}</th>
                    <th scope="col"><span class="sr-only">{tr("merge.confirm")}</span></th>
                </tr></thead>
                <tbody>
                    {pairs.into_iter().map(|p| {
                        let label = crate::i18n::tf(crate::ui::locale(), "merge.pair_label",
                            &[("other", p.second.name.clone()), ("kept", p.first.name.clone())]);
                        let kept = p.first.id;
                        let other = p.second.clone();
                        let cell = |c: &Candidate| {
                            let detail: Vec<String> = [c.email.clone(), c.phone.clone()].into_iter().flatten().collect();
                            view! {
                                <td><a class="link" href=entity.path(c.id)><bdi>{c.name.clone()}</bdi></a>
                                    <div class="text-xs text-muted"><bdi>{detail.join(" · ")}</bdi></div></td>
                            }
                        };
                        view! {
                            <tr data-testid="duplicate-pair">
                                {cell(&p.first)}
                                {cell(&p.second)}
                                <td>{p.first.reasons.iter().map(|r| view! { <span class="badge badge-neutral me-1">{tr(&format!("merge.reason.{r}"))}</span> }).collect_view()}</td>
                                <td><button type="button" class="btn btn-secondary btn-sm" aria-haspopup="dialog" aria-label=label
                                    on:click=move |_| merging.set(Some((entity, kept, other.clone())))>{tr("merge.review")}</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </Card>
    }.into_any()
}

/// On the page of a record that is gone: the record it was merged into.
#[component]
pub fn MergedNotice(entity: Entity, id: Uuid) -> impl IntoView {
    let into = Resource::new(|| (), move |_| get_merged_into(entity, id));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                into.await.ok().flatten().map(|m| view! {
                    <p class="mt-2" data-testid="merged-into">
                        {tr("merge.merged_into")}" "
                        <a class="link" href=entity.path(m.id)><bdi>{m.name}</bdi></a>
                    </p>
                })
            })}
        </Suspense>
    }
}
