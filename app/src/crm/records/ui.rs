//! Table views, record pages with their timeline, "My tasks" and search results.

use super::api::*;
use super::model::*;
use crate::crm::model::{Entity, MemberRef, RecordFilter};
use crate::crm::money;
use crate::error::AppError;
use crate::i18n::tf;
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, PageHeader, Skeleton,
    Submit,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use uuid::Uuid;

fn entity_key(entity: Entity, what: &str) -> String {
    format!("records.{}.{what}", entity.table())
}

fn area(entity: Entity) -> &'static str {
    entity.table()
}

/// The table's filters and sort, read from the URL.
fn view_from_query() -> Memo<(RecordFilter, Sort)> {
    let query = use_query_map();
    Memo::new(move |_| {
        let q = query.get();
        let text = |k: &str| {
            q.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        (
            RecordFilter {
                q: text("q").unwrap_or_default(),
                owner: text("owner").and_then(|v| v.parse().ok()),
                tag: text("tag"),
                status: text("status"),
                list_id: text("list").and_then(|v| v.parse().ok()),
            },
            Sort::parse(&text("sort").unwrap_or_default()),
        )
    })
}

#[component]
pub fn LeadsPage() -> impl IntoView {
    view! { <RecordsTable entity=Entity::Lead/> }
}

#[component]
pub fn ContactsPage() -> impl IntoView {
    view! { <RecordsTable entity=Entity::Contact/> }
}

#[component]
pub fn CompaniesPage() -> impl IntoView {
    view! { <RecordsTable entity=Entity::Company/> }
}

#[component]
pub fn DealsPage() -> impl IntoView {
    view! { <RecordsTable entity=Entity::Deal/> }
}

#[component]
fn RecordsTable(entity: Entity) -> impl IntoView {
    let view_state = view_from_query();
    let reload = RwSignal::new(0_u32);
    let page = Resource::new(
        move || (view_state.get(), reload.get()),
        move |((filter, sort), _)| list_records(entity, filter, sort, None),
    );
    let lists = Resource::new(move || reload.get(), move |_| get_lists(entity));
    let show_new = RwSignal::new(false);
    // Outlives the table, which re-renders after every bulk action.
    let notice = RwSignal::new(None::<String>);
    view! {
        <PageHeader title=tr(&entity_key(entity, "title"))>
            {(entity != Entity::Deal).then(|| view! {
                <button type="button" class="btn btn-primary" data-testid="new-record"
                        on:click=move |_| show_new.update(|s| *s = !*s)>{tr(&entity_key(entity, "new"))}</button>
            })}
        </PageHeader>
        {move || show_new.get().then(|| view! { <NewRecordForm entity/> })}
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                let lists = lists.await.unwrap_or_default();
                match page.await {
                    Ok(first) => {
                        let (filter, sort) = view_state.get_untracked();
                        view! { <TableView entity first filter sort lists reload notice/> }.into_any()
                    }
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TableView(
    entity: Entity,
    first: RecordPage,
    filter: RecordFilter,
    sort: Sort,
    lists: Vec<ListRef>,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let RecordPage {
        rows,
        next,
        members,
    } = first;
    let rows = RwSignal::new(rows);
    let next = RwSignal::new(next);
    let selected = RwSignal::new(Vec::<Uuid>::new());
    let confirm_delete = RwSignal::new(false);
    let path = format!("/{}", area(entity));
    let has_status = matches!(entity, Entity::Lead | Entity::Deal);
    let statuses: Vec<&str> = match entity {
        Entity::Lead => LEAD_STATUSES.to_vec(),
        Entity::Deal => vec!["OPEN", "WON", "LOST"],
        _ => vec![],
    };
    let static_lists: Vec<ListRef> = lists.iter().filter(|l| !l.smart).cloned().collect();
    let shown = RwSignal::new(table_columns(entity).to_vec());
    #[cfg(feature = "hydrate")]
    columns_memory::remember(entity, shown);
    let filter_for_more = filter.clone();
    let filter_for_save = filter.clone();
    let export_filter = filter.clone();

    let run_bulk = move |action: BulkAction| {
        let ids = selected.get_untracked();
        if ids.is_empty() {
            return;
        }
        spawn_local(async move {
            match apply_bulk(entity, ids, action).await {
                Ok(n) => {
                    notice.set(Some(tf(
                        locale(),
                        "records.bulk_done",
                        &[("count", n.to_string())],
                    )));
                    selected.set(Vec::new());
                    reload.update(|r| *r += 1);
                }
                Err(e) => notice.set(Some(e.to_string())),
            }
        });
    };
    let bulk_owner = RwSignal::new(String::new());
    let bulk_tag = RwSignal::new(String::new());
    let bulk_list = RwSignal::new(String::new());
    let smart_name = RwSignal::new(String::new());
    let members_for_bulk = members.clone();

    view! {
        <form method="get" action=path.clone() class="table-filters" role="search" aria-label=tr("records.filters")>
            <label class="sr-only" for="rf-q">{tr("records.search")}</label>
            <input id="rf-q" name="q" type="search" class="input" value=filter.q.clone() placeholder=tr("records.search")/>
            <label class="sr-only" for="rf-owner">{tr("board.owner")}</label>
            <select id="rf-owner" name="owner" class="input">
                <option value="">{tr("board.any_owner")}</option>
                {members.iter().map(|m| view! {
                    <option value=m.user_id.to_string() selected=filter.owner == Some(m.user_id)>{m.name.clone()}</option>
                }).collect_view()}
            </select>
            <label class="sr-only" for="rf-tag">{tr("board.tag")}</label>
            <input id="rf-tag" name="tag" class="input" value=filter.tag.clone().unwrap_or_default() placeholder=tr("board.tag")/>
            {has_status.then(|| view! {
                <label class="sr-only" for="rf-status">{tr("records.status")}</label>
                <select id="rf-status" name="status" class="input">
                    <option value="">{tr("records.any_status")}</option>
                    {statuses.iter().map(|s| view! {
                        <option value=*s selected=filter.status.as_deref() == Some(*s)>{tr(&format!("status.{s}"))}</option>
                    }).collect_view()}
                </select>
            })}
            <label class="sr-only" for="rf-list">{tr("lists.list")}</label>
            <select id="rf-list" name="list" class="input">
                <option value="">{tr("lists.all")}</option>
                {lists.iter().map(|l| view! {
                    <option value=l.id.to_string() selected=filter.list_id == Some(l.id)>
                        {if l.smart { format!("⚡ {}", l.name) } else { l.name.clone() }}
                    </option>
                }).collect_view()}
            </select>
            <label class="sr-only" for="rf-sort">{tr("records.sort")}</label>
            <select id="rf-sort" name="sort" class="input">
                <option value="newest" selected=sort == Sort::Newest>{tr("records.sort_newest")}</option>
                <option value="name" selected=sort == Sort::Name>{tr("records.sort_name")}</option>
            </select>
            <button type="submit" class="btn btn-secondary">{tr("board.apply")}</button>
        </form>
        <details class="menu mb-2" data-testid="columns-menu">
            <summary class="btn btn-ghost">{tr("records.columns")}</summary>
            <div class="menu-panel space-y-1">
                {table_columns(entity).iter().map(|c| view! {
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" prop:checked=move || shown.with(|v| v.contains(c))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                shown.update(|v| { v.retain(|x| x != c); if on { v.push(c); } });
                            }/>
                        {tr(column_label(c))}
                    </label>
                }).collect_view()}
            </div>
        </details>
        <div class="flex flex-wrap items-center gap-2 mb-3">
            <crate::crm::import::ui::ExportButton entity filter=Signal::derive(move || export_filter.clone())/>
            {(entity != Entity::Deal).then(|| view! { <a class="btn btn-ghost" href="/import" data-testid="import-link">{tr("records.import")}</a> })}
            <label class="sr-only" for="smart-name">{tr("lists.smart_name")}</label>
            <input id="smart-name" class="input max-w-56" placeholder=tr("lists.smart_name")
                   on:input=move |ev| smart_name.set(event_target_value(&ev))/>
            <button type="button" class="btn btn-ghost" data-testid="save-smart-list" on:click=move |_| {
                let name = smart_name.get_untracked();
                let filter = RecordFilter { list_id: None, ..filter_for_save.clone() };
                spawn_local(async move {
                    match create_list(entity, name, Some(filter)).await {
                        Ok(_) => { notice.set(Some(tr("lists.saved"))); reload.update(|r| *r += 1); }
                        Err(e) => notice.set(Some(e.to_string())),
                    }
                });
            }>{tr("lists.save_smart")}</button>
            <button type="button" class="btn btn-ghost" on:click=move |_| {
                let name = smart_name.get_untracked();
                spawn_local(async move {
                    match create_list(entity, name, None).await {
                        Ok(_) => { notice.set(Some(tr("lists.saved"))); reload.update(|r| *r += 1); }
                        Err(e) => notice.set(Some(e.to_string())),
                    }
                });
            }>{tr("lists.new_static")}</button>
        </div>
        <div role="status" aria-live="polite" class="mb-2">
            {move || notice.get().map(|n| view! { <div class="alert alert-success" data-testid="table-notice">{n}</div> })}
        </div>
        {move || (!selected.get().is_empty()).then(|| {
            let members = members_for_bulk.clone();
            let static_lists = static_lists.clone();
            view! {
                <div class="bulk-bar" data-testid="bulk-bar">
                    <span class="font-medium">{tf(locale(), "records.selected", &[("count", selected.get().len().to_string())])}</span>
                    <label class="sr-only" for="bulk-owner">{tr("records.assign_to")}</label>
                    <select id="bulk-owner" class="input max-w-48" on:change=move |ev| bulk_owner.set(event_target_value(&ev))>
                        <option value="">{tr("records.assign_to")}</option>
                        {members.iter().map(|m| view! { <option value=m.user_id.to_string()>{m.name.clone()}</option> }).collect_view()}
                    </select>
                    <button type="button" class="btn btn-secondary" on:click=move |_| {
                        if let Ok(owner) = bulk_owner.get_untracked().parse::<Uuid>() {
                            run_bulk(BulkAction::Assign(Some(owner)));
                        }
                    }>{tr("records.assign")}</button>
                    <label class="sr-only" for="bulk-tag">{tr("board.tag")}</label>
                    <input id="bulk-tag" class="input max-w-36" placeholder=tr("board.tag") on:input=move |ev| bulk_tag.set(event_target_value(&ev))/>
                    <button type="button" class="btn btn-secondary" on:click=move |_| run_bulk(BulkAction::Tag(bulk_tag.get_untracked()))>{tr("records.tag")}</button>
                    {(!static_lists.is_empty()).then(|| view! {
                        <label class="sr-only" for="bulk-list">{tr("lists.list")}</label>
                        <select id="bulk-list" class="input max-w-48" on:change=move |ev| bulk_list.set(event_target_value(&ev))>
                            <option value="">{tr("lists.choose")}</option>
                            {static_lists.iter().map(|l| view! { <option value=l.id.to_string()>{l.name.clone()}</option> }).collect_view()}
                        </select>
                        <button type="button" class="btn btn-secondary" on:click=move |_| {
                            if let Ok(list) = bulk_list.get_untracked().parse::<Uuid>() {
                                run_bulk(BulkAction::AddToList(list));
                            }
                        }>{tr("lists.add")}</button>
                    })}
                    {(entity == Entity::Lead).then(|| view! { <crate::outreach::ui::EnrolSelection selected/> })}
                    <button type="button" class="btn btn-danger-ghost" data-testid="bulk-delete" on:click=move |_| confirm_delete.set(true)>{tr("records.delete")}</button>
                </div>
            }
        })}
        {move || confirm_delete.get().then(|| view! {
            <div class="modal-backdrop">
                <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
                    <h2 id="confirm-title" class="card-title">{tf(locale(), "records.confirm_delete", &[("count", selected.get_untracked().len().to_string())])}</h2>
                    <p class="text-sm text-muted">{tr("records.delete_warning")}</p>
                    <div class="flex justify-end gap-2 mt-3">
                        <button type="button" class="btn btn-secondary" on:click=move |_| confirm_delete.set(false)>{tr("common.cancel")}</button>
                        <button type="button" class="btn btn-danger" on:click=move |_| { confirm_delete.set(false); run_bulk(BulkAction::Delete); }>{tr("records.delete")}</button>
                    </div>
                </div>
            </div>
        })}
        <div class="table-wrap">
            <table class="table" data-testid="records-table">
                <thead>
                    <tr>
                        <th class="w-8">
                            <input type="checkbox" aria-label=tr("records.select_all")
                                prop:checked=move || { let n = rows.with(Vec::len); n > 0 && selected.with(Vec::len) == n }
                                on:change=move |ev| {
                                    if event_target_checked(&ev) {
                                        selected.set(rows.with_untracked(|r| r.iter().map(|r| r.id).collect()));
                                    } else {
                                        selected.set(Vec::new());
                                    }
                                }/>
                        </th>
                        <th>{tr("records.name")}</th>
                        {move || table_columns(entity).iter().filter(|c| shown.with(|v| v.contains(*c))).map(|c| view! {
                            <th>{tr(column_label(c))}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let list = rows.get();
                        if list.is_empty() {
                            return view! { <tr><td colspan="8" class="p-6 text-center text-muted">{tr("records.empty")}</td></tr> }.into_any();
                        }
                        list.into_iter().map(|row| {
                            let id = row.id;
                            view! {
                                <tr data-testid="record-row" data-name=row.name.clone()>
                                    <td>
                                        <input type="checkbox" aria-label=tf(locale(), "records.select_one", &[("name", row.name.clone())])
                                            prop:checked=move || selected.with(|s| s.contains(&id))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                selected.update(|s| { s.retain(|x| *x != id); if on { s.push(id); } });
                                            }/>
                                    </td>
                                    <td><a class="link" href=entity.path(id)>{row.name.clone()}</a></td>
                                    {table_columns(entity).iter().filter(|c| shown.with(|v| v.contains(*c))).map(|c| view! {
                                        <td dir=(*c == "phone").then_some("ltr")>{cell(&row, c)}</td>
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view().into_any()
                    }}
                </tbody>
            </table>
        </div>
        {move || next.get().map(|cursor| {
            let filter = filter_for_more.clone();
            view! {
                <button type="button" class="btn btn-secondary mt-3" data-testid="table-more" on:click=move |_| {
                    let filter = filter.clone();
                    let cursor = cursor.clone();
                    spawn_local(async move {
                        match list_records(entity, filter, sort, Some(cursor)).await {
                            Ok(page) => { rows.update(|r| r.extend(page.rows)); next.set(page.next); }
                            Err(e) => notice.set(Some(e.to_string())),
                        }
                    });
                }>{tr("board.load_more")}</button>
            }
        })}
    }
}

/// The optional columns of each table, in display order (the name is always shown).
fn table_columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Lead => &[
            "email", "phone", "company", "status", "score", "owner", "tags", "created",
        ],
        Entity::Contact => &["email", "phone", "company", "owner", "tags", "created"],
        Entity::Company => &["phone", "owner", "tags", "created"],
        Entity::Deal => &["amount", "company", "status", "owner", "tags", "created"],
    }
}

fn column_label(column: &str) -> &'static str {
    match column {
        "email" => "records.email",
        "phone" => "records.phone",
        "company" => "records.company",
        "status" => "records.status",
        "score" => "field.score",
        "owner" => "board.owner",
        "amount" => "board.amount",
        "created" => "records.created",
        _ => "records.tags",
    }
}

fn cell(row: &RecordRow, column: &str) -> AnyView {
    match column {
        "email" => row.email.clone().unwrap_or_default().into_any(),
        "phone" => row.phone.clone().unwrap_or_default().into_any(),
        "company" => row
            .company
            .clone()
            .map(|c| view! { <a class="link" href=c.entity.path(c.id)>{c.name}</a> }.into_any())
            .unwrap_or_else(|| ().into_any()),
        "status" => row
            .status
            .clone()
            .map(|s| tr(&format!("status.{s}")))
            .unwrap_or_default()
            .into_any(),
        "score" => row
            .score
            .map(|s| s.to_string())
            .unwrap_or_default()
            .into_any(),
        "owner" => row
            .owner
            .clone()
            .map(|o| o.name)
            .unwrap_or_default()
            .into_any(),
        "amount" => row
            .amount
            .clone()
            .map(|m| money::format(m.minor, &m.currency))
            .unwrap_or_default()
            .into_any(),
        "created" => row.created_at.format("%Y-%m-%d").to_string().into_any(),
        _ => row.tags.join(", ").into_any(),
    }
}

/// The columns a member picked for a table, kept in this browser.
#[cfg(feature = "hydrate")]
mod columns_memory {
    use super::*;

    fn key(entity: Entity) -> String {
        format!("leadline.columns.{}", entity.code())
    }

    /// Loads the saved choice after hydration (the server rendered every column) and
    /// saves every change after that.
    pub fn remember(entity: Entity, shown: RwSignal<Vec<&'static str>>) {
        let loaded = StoredValue::new(false);
        Effect::new(move |_| {
            let list = shown.get();
            let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten())
            else {
                return;
            };
            if !loaded.get_value() {
                loaded.set_value(true);
                if let Ok(Some(saved)) = storage.get_item(&key(entity)) {
                    let picked: Vec<&'static str> = table_columns(entity)
                        .iter()
                        .copied()
                        .filter(|c| saved.split(',').any(|s| s == *c))
                        .collect();
                    shown.set(picked);
                }
                return;
            }
            let _ = storage.set_item(&key(entity), &list.join(","));
        });
    }
}

/// The fields a form shows for each kind of record (name first).
fn form_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Lead => &[
            "name", "email", "phone", "company", "source", "score", "tags",
        ],
        Entity::Contact => &["name", "email", "phone", "company", "title", "tags"],
        Entity::Company => &[
            "name", "domain", "phone", "industry", "city", "country", "tags",
        ],
        Entity::Deal => &[
            "name",
            "company",
            "contact",
            "expected_close_on",
            "amount",
            "currency",
            "probability",
            "tags",
        ],
    }
}

const ALL_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "title",
    "source",
    "status",
    "score",
    "domain",
    "industry",
    "city",
    "country",
    "owner_id",
    "tags",
    "company",
    "contact",
    "expected_close_on",
    "amount",
    "currency",
    "probability",
];

#[component]
fn NewRecordForm(entity: Entity) -> impl IntoView {
    let action = ServerAction::<SaveRecord>::new();
    let value = action.value();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(id)) = value.get() {
            navigate(&entity.path(id), Default::default());
        }
    });
    let defs = Resource::new(|| (), |_| get_custom_fields());
    view! {
        <ActionForm action attr:class="card grid gap-3 md:grid-cols-3" attr:data-testid="new-record-form" attr:novalidate="">
            <input type="hidden" name="entity" value=entity.code()/>
            {form_fields(entity).iter().map(|f| view! {
                <Field label=tr(&format!("field.{f}")) name=f error=field_error(value, f) required=*f == "name"/>
            }).collect_view()}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let fields: Vec<(CustomField, String)> = defs.await.unwrap_or_default()
                        .into_iter().filter(|d| d.entity == entity).map(|d| (d, String::new())).collect();
                    view! { <CustomInputs fields value/> }
                })}
            </Suspense>
            <div class="md:col-span-3 flex items-center gap-3">
                <Submit label=tr("common.save") pending=action.pending()/>
                <Alert message=form_error(value, ALL_FIELDS)/>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn LeadPage() -> impl IntoView {
    view! { <RecordPage entity=Entity::Lead/> }
}

#[component]
pub fn ContactPage() -> impl IntoView {
    view! { <RecordPage entity=Entity::Contact/> }
}

#[component]
pub fn CompanyPage() -> impl IntoView {
    view! { <RecordPage entity=Entity::Company/> }
}

#[component]
pub fn DealPage() -> impl IntoView {
    view! { <RecordPage entity=Entity::Deal/> }
}

#[component]
fn RecordPage(entity: Entity) -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    });
    let saved = RwSignal::new(0_u32);
    let detail = Resource::new(
        move || (id.get(), saved.get()),
        move |(id, _)| async move {
            match id {
                Some(id) => get_record(entity, id).await,
                None => Err(AppError::NotFound(String::new())),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <RecordView detail saved/> }.into_any(),
                    Err(AppError::NotFound(_)) => view! {
                        <PageHeader title=tr(&entity_key(entity, "title"))/>
                        <div class="empty-state"><p>{tr("records.not_found")}</p></div>
                    }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RecordView(detail: RecordDetail, saved: RwSignal<u32>) -> impl IntoView {
    let RecordDetail {
        entity,
        row,
        custom,
        facts,
        related,
        members,
    } = detail;
    let editing = RwSignal::new(false);
    let id = row.id;
    view! {
        <PageHeader title=row.name.clone()>
            {(entity == Entity::Lead).then(|| view! { <crate::crm::convert::ConvertButton lead_id=id/> })}
            <button type="button" class="btn btn-secondary" data-testid="edit-record"
                    on:click=move |_| editing.update(|e| *e = !*e)>{tr("records.edit")}</button>
        </PageHeader>
        <div class="record-grid">
            <div>
                <Card title=tr("records.facts")>
                    {move || if editing.get() {
                        view! { <EditForm entity row=row.clone() facts=facts.clone() custom=custom.clone() members=members.clone() saved editing/> }.into_any()
                    } else {
                        view! { <Facts row=row.clone() facts=facts.clone() custom=custom.clone()/> }.into_any()
                    }}
                </Card>
                {(entity == Entity::Deal).then(|| view! { <crate::crm::board::deal_stage::DealStageCard deal_id=id saved/> })}
                <Card title=tr("records.related")>
                    {if related.is_empty() {
                        view! { <p class="text-sm text-muted">{tr("records.no_related")}</p> }.into_any()
                    } else {
                        view! {
                            <ul class="space-y-1 text-sm" data-testid="related">
                                {related.into_iter().map(|l| view! {
                                    <li><span class="badge badge-neutral me-2">{tr(&entity_key(l.entity, "one"))}</span>
                                        <a class="link" href=l.entity.path(l.id)>{l.name}</a></li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </Card>
            </div>
            <div>
                <Timeline entity id/>
                {(entity == Entity::Lead).then(|| view! {
                    <crate::outreach::ui::LeadOutreachCard lead_id=id/>
                    <crate::crm::research::LeadResearch lead_id=id/>
                })}
            </div>
        </div>
    }
}

#[component]
fn Facts(
    row: RecordRow,
    facts: Vec<(String, String)>,
    custom: Vec<(CustomField, String)>,
) -> impl IntoView {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(e) = &row.email {
        pairs.push((tr("field.email"), e.clone()));
    }
    if let Some(p) = &row.phone {
        pairs.push((tr("field.phone"), p.clone()));
    }
    if let Some(s) = &row.status {
        pairs.push((tr("records.status"), tr(&format!("status.{s}"))));
    }
    if let Some(s) = row.score {
        pairs.push((tr("field.score"), s.to_string()));
    }
    if let Some(m) = &row.amount {
        pairs.push((tr("board.amount"), money::format(m.minor, &m.currency)));
    }
    pairs.push((
        tr("board.owner"),
        row.owner
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_else(|| tr("records.unassigned")),
    ));
    // The amount is shown above, as money.
    for (k, v) in facts
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && k != "amount" && k != "currency")
    {
        pairs.push((tr(&format!("field.{k}")), v));
    }
    for (def, value) in custom.into_iter().filter(|(_, v)| !v.is_empty()) {
        pairs.push((def.label, value));
    }
    if !row.tags.is_empty() {
        pairs.push((tr("records.tags"), row.tags.join(", ")));
    }
    view! {
        <dl class="facts" data-testid="facts">
            {pairs.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
            {row.company.map(|c| view! { <dt>{tr("records.company")}</dt><dd><a class="link" href=c.entity.path(c.id)>{c.name}</a></dd> })}
        </dl>
    }
}

#[component]
fn EditForm(
    entity: Entity,
    row: RecordRow,
    facts: Vec<(String, String)>,
    custom: Vec<(CustomField, String)>,
    members: Vec<MemberRef>,
    saved: RwSignal<u32>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let action = ServerAction::<SaveRecord>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            editing.set(false);
            saved.update(|s| *s += 1);
        }
    });
    let current = move |f: &str| -> String {
        match f {
            "name" => row.name.clone(),
            "email" => row.email.clone().unwrap_or_default(),
            "phone" => row.phone.clone().unwrap_or_default(),
            "score" => row.score.map(|s| s.to_string()).unwrap_or_default(),
            "tags" => row.tags.join(", "),
            "company" => row
                .company
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            other => facts
                .iter()
                .find(|(k, _)| k == other)
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        }
    };
    let owner = row.owner.as_ref().map(|o| o.user_id);
    let status = row.status.clone();
    view! {
        <ActionForm action attr:class="space-y-3" attr:data-testid="edit-form" attr:novalidate="">
            <input type="hidden" name="entity" value=entity.code()/>
            <input type="hidden" name="id" value=row.id.to_string()/>
            {form_fields(entity).iter().map(|f| view! {
                <Field label=tr(&format!("field.{f}")) name=f value=current(f) error=field_error(value, f) required=*f == "name"/>
            }).collect_view()}
            <CustomInputs fields=custom value/>
            {(entity == Entity::Lead).then(|| view! {
                <div class="field">
                    <label for="f-status" class="field-label">{tr("records.status")}</label>
                    <select id="f-status" name="status" class="input">
                        {LEAD_STATUSES.iter().map(|s| view! { <option value=*s selected=status.as_deref() == Some(*s)>{tr(&format!("status.{s}"))}</option> }).collect_view()}
                    </select>
                </div>
            })}
            <div class="field">
                <label for="f-owner_id" class="field-label">{tr("board.owner")}</label>
                <select id="f-owner_id" name="owner_id" class="input">
                    <option value="" selected=owner.is_none()>{tr("records.unassigned")}</option>
                    {members.iter().map(|m| view! { <option value=m.user_id.to_string() selected=owner == Some(m.user_id)>{m.name.clone()}</option> }).collect_view()}
                </select>
                {move || field_error(value, "owner_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="flex items-center gap-3">
                <Submit label=tr("common.save") pending=action.pending()/>
                <Alert message=form_error(value, ALL_FIELDS)/>
            </div>
        </ActionForm>
    }
}

#[component]
fn Timeline(entity: Entity, id: Uuid) -> impl IntoView {
    let first = Resource::new(|| (), move |_| get_timeline(entity, id, None));
    let kind = RwSignal::new("NOTE".to_string());
    let action = ServerAction::<LogActivity>::new();
    let value = action.value();
    view! {
        <Card title=tr("timeline.title")>
            <ActionForm action attr:class="space-y-2 mb-4" attr:data-testid="composer" attr:novalidate="">
                <input type="hidden" name="entity" value=entity.code()/>
                <input type="hidden" name="id" value=id.to_string()/>
                <div class="flex flex-wrap gap-1" role="radiogroup" aria-label=tr("timeline.kind")>
                    {["NOTE", "CALL", "MEETING", "TASK"].into_iter().map(|k| view! {
                        <label class="chip" class:chip-on=move || kind.get() == k>
                            <input type="radio" name="kind" value=k class="sr-only" checked=k == "NOTE"
                                   on:change=move |_| kind.set(k.to_string())/>
                            {tr(&format!("timeline.kind.{k}"))}
                        </label>
                    }).collect_view()}
                </div>
                {move || (kind.get() != "NOTE").then(|| view! {
                    <Field label=tr("timeline.subject") name="subject" error=field_error(value, "subject")/>
                })}
                {move || (kind.get() == "TASK").then(|| view! {
                    <Field label=tr("timeline.due") name="due_at" kind="datetime-local" error=field_error(value, "due_at")/>
                })}
                {move || (kind.get() == "CALL").then(|| view! {
                    <div class="grid grid-cols-2 gap-2">
                        <Field label=tr("timeline.duration") name="duration_minutes" kind="number" error=field_error(value, "duration_minutes")/>
                        <Field label=tr("timeline.outcome") name="outcome"/>
                    </div>
                })}
                <div class="field">
                    <label for="f-body" class="field-label">{tr("timeline.body")}</label>
                    <textarea id="f-body" name="body" rows="3" class="input"
                        aria-invalid=move || field_error(value, "body").get().is_some().then_some("true")></textarea>
                    {move || field_error(value, "body").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <div class="flex items-center gap-3">
                    <Submit label=tr("timeline.add") pending=action.pending()/>
                    <Alert message=form_error(value, &["subject", "body", "due_at", "duration_minutes", "kind"])/>
                </div>
            </ActionForm>
            <Suspense fallback=|| view! { <Skeleton lines=4/> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) => view! { <TimelineList entity id page added=value/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Suspense>
        </Card>
    }
}

#[component]
fn TimelineList<S>(entity: Entity, id: Uuid, page: TimelinePage, added: S) -> impl IntoView
where
    S: Get<Value = Option<Result<TimelineItem, AppError>>> + Send + Sync + Copy + 'static,
{
    let items = RwSignal::new(page.items);
    let next = RwSignal::new(page.next);
    Effect::new(move || {
        if let Some(Ok(item)) = added.get() {
            items.update(|list| {
                if !list.iter().any(|i| i.id == item.id) {
                    list.insert(0, item);
                }
            });
        }
    });
    view! {
        <ol class="timeline" data-testid="timeline">
            {move || items.get().into_iter().map(|item| view! { <TimelineEntry item/> }).collect_view()}
        </ol>
        {move || next.get().map(|cursor| view! {
            <button type="button" class="btn btn-ghost w-full" data-testid="timeline-more" on:click=move |_| {
                spawn_local(async move {
                    if let Ok(page) = get_timeline(entity, id, Some(cursor)).await {
                        items.update(|i| i.extend(page.items));
                        next.set(page.next);
                    }
                });
            }>{tr("board.load_more")}</button>
        })}
    }
}

#[component]
fn TimelineEntry(item: TimelineItem) -> impl IntoView {
    let kind = item.kind.clone();
    let summary = match kind.as_str() {
        "STAGE_CHANGE" => tf(
            locale(),
            "timeline.stage_change",
            &[
                ("from", item.data["from"].as_str().unwrap_or("").to_string()),
                ("to", item.data["to"].as_str().unwrap_or("").to_string()),
            ],
        ),
        "STATUS_CHANGE" => tf(
            locale(),
            "timeline.status_change",
            &[
                (
                    "from",
                    item.data["from"]
                        .as_str()
                        .map(|s| tr(&format!("status.{s}")))
                        .unwrap_or_default(),
                ),
                (
                    "to",
                    item.data["to"]
                        .as_str()
                        .map(|s| tr(&format!("status.{s}")))
                        .unwrap_or_default(),
                ),
            ],
        ),
        "ASSIGNMENT" => tf(
            locale(),
            "timeline.assignment",
            &[(
                "to",
                item.data["to_name"].as_str().unwrap_or("—").to_string(),
            )],
        ),
        "LIST_ADD" => tf(
            locale(),
            "timeline.list_add",
            &[("list", item.data["list"].as_str().unwrap_or("").to_string())],
        ),
        "JOURNEY" => {
            let state = |k: &str| {
                tr(&format!(
                    "outreach.journey.{}",
                    item.data[k].as_str().unwrap_or("COLD")
                ))
            };
            let mut s = tf(
                locale(),
                "timeline.journey",
                &[("from", state("from")), ("to", state("to"))],
            );
            if let Some(reason) = item.data["reason"].as_str().filter(|r| !r.is_empty()) {
                s.push_str(&format!(" · {reason}"));
            }
            s
        }
        "ENROLLED" => tf(
            locale(),
            "timeline.enrolled",
            &[(
                "sequence",
                item.data["sequence"].as_str().unwrap_or("").to_string(),
            )],
        ),
        "WHATSAPP" | "EMAIL" => {
            let incoming = item.data["direction"].as_str() == Some("IN");
            let direction = if incoming {
                tr("outreach.incoming")
            } else {
                tr("outreach.outgoing")
            };
            // An incoming message's status says nothing more than that it came in.
            let status = item.data["status"]
                .as_str()
                .filter(|_| !incoming)
                .map(|s| format!(" · {}", tr(&format!("outreach.status.{s}"))))
                .unwrap_or_default();
            let subject = item
                .subject
                .clone()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            format!("{direction}{status}{subject}")
        }
        "APPROVAL" => crate::approvals::model::timeline_text(locale(), &item.data),
        "CALL" => {
            let mut s = item.subject.clone().unwrap_or_default();
            if let Some(m) = item.data["duration_minutes"].as_u64() {
                s.push_str(&format!(" · {m} min"));
            }
            if let Some(o) = item.data["outcome"].as_str() {
                s.push_str(&format!(" · {o}"));
            }
            s
        }
        _ => item.subject.clone().unwrap_or_default(),
    };
    let task_state = (kind == "TASK").then(|| match (item.done_at, item.due_at) {
        (Some(_), _) => tr("timeline.done"),
        (None, Some(due)) => tf(
            locale(),
            "timeline.due_on",
            &[("due", due.format("%Y-%m-%d %H:%M").to_string())],
        ),
        _ => String::new(),
    });
    view! {
        <li class="timeline-item" data-testid="timeline-item" data-kind=kind.clone()>
            <div class="flex items-center gap-2 text-xs text-muted">
                <span class="badge badge-neutral">{tr(&format!("timeline.kind.{kind}"))}</span>
                <span>{item.actor.clone().unwrap_or_default()}</span>
                <time datetime=item.occurred_at.to_rfc3339()>{item.occurred_at.format("%Y-%m-%d %H:%M").to_string()}</time>
            </div>
            {(!summary.is_empty()).then(|| view! { <p class="font-medium text-sm mt-1">{summary}</p> })}
            {task_state.map(|s| view! { <p class="text-xs">{s}</p> })}
            {item.body.clone().map(|b| view! { <p class="text-sm mt-1 whitespace-pre-wrap">{b}</p> })}
        </li>
    }
}

#[component]
pub fn TasksPage() -> impl IntoView {
    let done = RwSignal::new(0_u32);
    let tasks = Resource::new(move || done.get(), |_| get_my_tasks());
    let notice = RwSignal::new(None::<String>);
    view! {
        <PageHeader title=tr("tasks.title")/>
        <Alert message=notice/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(t) => {
                        let sections = [("tasks.overdue", t.overdue), ("tasks.today", t.today), ("tasks.upcoming", t.upcoming)];
                        view! {
                            {sections.into_iter().map(|(key, list)| view! {
                                <Card title=tr(key)>
                                    {if list.is_empty() {
                                        view! { <p class="text-sm text-muted">{tr("tasks.none")}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="divide-y divide-line" data-testid=key>
                                                {list.into_iter().map(|task| {
                                                    let task_id = task.id;
                                                    view! {
                                                        <li class="flex items-center gap-3 py-2" data-testid="task">
                                                            <button type="button" class="btn btn-secondary" on:click=move |_| {
                                                                spawn_local(async move {
                                                                    match complete_task(task_id).await {
                                                                        Ok(()) => done.update(|d| *d += 1),
                                                                        Err(e) => notice.set(Some(e.to_string())),
                                                                    }
                                                                });
                                                            }>{tr("tasks.complete")}</button>
                                                            <span class="grow">{task.subject.clone()}</span>
                                                            {task.about.clone().map(|l| view! { <a class="link text-sm" href=l.entity.path(l.id)>{l.name}</a> })}
                                                            <span class="text-xs text-muted">{task.due_at.map(|d| d.format("%Y-%m-%d %H:%M").to_string())}</span>
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                </Card>
                            }).collect_view()}
                        }.into_any()
                    }
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.get().get("q").unwrap_or_default());
    let hits = Resource::new(move || q.get(), search_records);
    view! {
        <PageHeader title=tr("search.title")/>
        <Transition fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match hits.await {
                    Ok(found) if found.hits.is_empty() => view! { <div class="empty-state"><p>{tr("search.none")}</p></div> }.into_any(),
                    Ok(found) => view! {
                        <ul class="card space-y-1" data-testid="search-hits">
                            {found.hits.into_iter().map(|l| view! {
                                <li><span class="badge badge-neutral me-2">{tr(&entity_key(l.entity, "one"))}</span>
                                    <a class="link" href=l.entity.path(l.id)>{l.name}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Inputs for the tenant's custom fields, named `custom[key]` so the server gets them
/// as one map; errors come back as `custom.<key>`.
#[component]
fn CustomInputs<S>(fields: Vec<(CustomField, String)>, value: S) -> impl IntoView
where
    S: Get<Value = Option<Result<Uuid, AppError>>> + Send + Sync + Copy + 'static,
{
    fields
        .into_iter()
        .map(|(def, current)| {
            let id = format!("cf-{}", def.key);
            let err_key = format!("custom.{}", def.key);
            let error = Signal::derive(move || match value.get() {
                Some(Err(e)) => e.for_field(&err_key),
                _ => None,
            });
            let name = format!("custom[{}]", def.key);
            let input = match def.kind.as_str() {
                "SELECT" => view! {
                    <select id=id.clone() name=name class="input">
                        <option value="">"—"</option>
                        {def.options.iter().map(|o| view! { <option value=o.clone() selected=*o == current>{o.clone()}</option> }).collect_view()}
                    </select>
                }.into_any(),
                "DATE" => view! { <input id=id.clone() name=name type="date" class="input" value=current.clone()/> }.into_any(),
                "NUMBER" => view! { <input id=id.clone() name=name inputmode="decimal" class="input" value=current.clone()/> }.into_any(),
                _ => view! { <input id=id.clone() name=name class="input" value=current.clone()/> }.into_any(),
            };
            view! {
                <div class="field">
                    <label for=id class="field-label">{def.label.clone()}{def.required.then_some(" *")}</label>
                    {input}
                    {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
            }
        })
        .collect_view()
}

/// Settings → Fields: the custom fields of each kind of record.
#[component]
pub fn CustomFieldsPage() -> impl IntoView {
    let add = ServerAction::<AddCustomField>::new();
    let remove = ServerAction::<RemoveCustomField>::new();
    let value = add.value();
    let defs = Resource::new(
        move || (add.version().get(), remove.version().get()),
        |_| get_custom_fields(),
    );
    view! {
        <PageHeader title=tr("fields.title")/>
        <Card title=tr("fields.add")>
            <ActionForm action=add attr:class="grid gap-3 md:grid-cols-3 items-start" attr:data-testid="field-form" attr:novalidate="">
                <div class="field">
                    <label for="f-entity" class="field-label">{tr("fields.entity")}</label>
                    <select id="f-entity" name="entity" class="input">
                        {Entity::ALL.into_iter().map(|e| view! { <option value=e.code()>{tr(&entity_key(e, "one"))}</option> }).collect_view()}
                    </select>
                </div>
                <Field label=tr("fields.label") name="label" required=true error=field_error(value, "label")/>
                <Field label=tr("fields.key") name="key" required=true error=field_error(value, "key") hint=tr("fields.key_hint")/>
                <div class="field">
                    <label for="f-kind" class="field-label">{tr("fields.kind")}</label>
                    <select id="f-kind" name="kind" class="input">
                        {CUSTOM_KINDS.into_iter().map(|k| view! { <option value=k>{tr(&format!("fields.kind.{k}"))}</option> }).collect_view()}
                    </select>
                </div>
                <Field label=tr("fields.options") name="options" error=field_error(value, "options") hint=tr("fields.options_hint")/>
                <label class="flex items-center gap-2 pt-7"><input type="checkbox" name="required" value="on"/>{tr("fields.required_label")}</label>
                <div class="md:col-span-3 flex items-center gap-3">
                    <Submit label=tr("fields.add") pending=add.pending()/>
                    <Alert message=form_error(value, &["label", "key", "options", "kind", "entity"])/>
                </div>
            </ActionForm>
        </Card>
        <Transition fallback=|| view! { <Skeleton lines=3/> }>
            {move || Suspend::new(async move {
                match defs.await {
                    Ok(list) if list.is_empty() => view! { <div class="empty-state"><p>{tr("fields.none")}</p></div> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="fields-table">
                                <thead><tr><th>{tr("fields.entity")}</th><th>{tr("fields.label")}</th><th>{tr("fields.key")}</th><th>{tr("fields.kind")}</th><th><span class="sr-only">{tr("common.actions")}</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|d| view! {
                                        <tr>
                                            <td>{tr(&entity_key(d.entity, "one"))}</td>
                                            <td>{d.label.clone()}{d.required.then_some(" *")}</td>
                                            <td class="font-mono text-xs">{d.key.clone()}</td>
                                            <td>{tr(&format!("fields.kind.{}", d.kind))}{(!d.options.is_empty()).then(|| format!(" ({})", d.options.join(", ")))}</td>
                                            <td>
                                                <ActionForm action=remove>
                                                    <input type="hidden" name="id" value=d.id.to_string()/>
                                                    <button type="submit" class="btn btn-danger-ghost">{tr("records.delete")}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}
