//! The table views of leads, contacts, companies and deals, and the new-record form.

use super::*;
use crate::crm::board::model::DealStatus;
use crate::crm::merge::find_matching;

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
    // One resource for the page and the lists: a Suspend awaiting two resources one
    // after the other can run twice under streaming SSR when the first resolves
    // (seen as a disposed-signal panic and a hydration mismatch on /leads).
    let table = Resource::new(
        move || (view_state.get(), reload.get()),
        move |((filter, sort), _)| async move {
            let lists = get_lists(entity).await.unwrap_or_default();
            list_records(entity, filter, sort, None)
                .await
                .map(|page| (page, lists))
        },
    );
    let show_new = RwSignal::new(false);
    // Outlives the table, which re-renders after every bulk action.
    let notice = RwSignal::new(None::<String>);
    view! {
        <PageHeader title=tr(&entity_key(entity, "title"))>
            {matches!(entity, Entity::Lead | Entity::Contact).then(|| view! {
                <a class="btn btn-secondary" href=if entity == Entity::Lead { "/duplicates/leads" } else { "/duplicates/contacts" }>{tr("merge.find")}</a>
            })}
            {(entity != Entity::Deal).then(|| view! {
                <button type="button" class="btn btn-primary" data-testid="new-record"
                        on:click=move |_| show_new.update(|s| *s = !*s)>{tr(&entity_key(entity, "new"))}</button>
            })}
        </PageHeader>
        {move || show_new.get().then(|| view! { <NewRecordForm entity/> })}
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match table.await {
                    Ok((first, lists)) => {
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
    // The closures below read these with `try_`: under streaming SSR a render the
    // Transition has already replaced can still run, and must not panic the stream.
    let rows = RwSignal::new(rows);
    let next = RwSignal::new(next);
    let selected = RwSignal::new(Vec::<Uuid>::new());
    let confirm_delete = RwSignal::new(false);
    let path = format!("/{}", area(entity));
    let has_status = matches!(entity, Entity::Lead | Entity::Deal);
    let statuses: Vec<&str> = match entity {
        Entity::Lead => LEAD_STATUSES.to_vec(),
        Entity::Deal => DealStatus::CODES.to_vec(),
        _ => vec![],
    };
    let static_lists: Vec<ListRef> = lists.iter().filter(|l| !l.smart).cloned().collect();
    // The table shows a static list's members: they can be taken off it.
    let current_static_list = filter
        .list_id
        .filter(|id| static_lists.iter().any(|l| l.id == *id));
    let shown = RwSignal::new(table_columns(entity).to_vec());
    #[cfg(feature = "hydrate")]
    columns_memory::remember(entity, shown);
    let chosen_list = filter
        .list_id
        .and_then(|id| lists.iter().find(|l| l.id == id).cloned());
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
        {chosen_list.map(|list| view! { <ListHeader list reload/> })}
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
                        <input type="checkbox" prop:checked=move || shown.try_with(|v| v.contains(c)).unwrap_or(false)
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
                    {current_static_list.map(|list| view! {
                        <button type="button" class="btn btn-secondary" data-testid="bulk-unlist"
                            on:click=move |_| run_bulk(BulkAction::RemoveFromList(list))>{tr("lists.remove")}</button>
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
                                prop:checked=move || { let n = rows.try_with(Vec::len).unwrap_or(0); n > 0 && selected.try_with(Vec::len) == Some(n) }
                                on:change=move |ev| {
                                    if event_target_checked(&ev) {
                                        selected.set(rows.with_untracked(|r| r.iter().map(|r| r.id).collect()));
                                    } else {
                                        selected.set(Vec::new());
                                    }
                                }/>
                        </th>
                        <th>{tr("records.name")}</th>
                        {move || table_columns(entity).iter().filter(|c| shown.try_with(|v| v.contains(*c)).unwrap_or(false)).map(|c| view! {
                            <th>{tr(column_label(c))}</th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let list = rows.try_get().unwrap_or_default();
                        if list.is_empty() {
                            return view! { <tr><td colspan="8" class="p-6 text-center text-muted">{tr("records.empty")}</td></tr> }.into_any();
                        }
                        list.into_iter().map(|row| {
                            let id = row.id;
                            view! {
                                <tr data-testid="record-row" data-name=row.name.clone()>
                                    <td>
                                        <input type="checkbox" aria-label=tf(locale(), "records.select_one", &[("name", row.name.clone())])
                                            prop:checked=move || selected.try_with(|s| s.contains(&id)).unwrap_or(false)
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                selected.update(|s| { s.retain(|x| *x != id); if on { s.push(id); } });
                                            }/>
                                    </td>
                                    <td data-label=tr("field.name")><a class="link" href=entity.path(id)>{row.name.clone()}</a></td>
                                    {table_columns(entity).iter().filter(|c| shown.try_with(|v| v.contains(*c)).unwrap_or(false)).map(|c| view! {
                                        <td data-label=tr(column_label(c))>{cell(&row, c)}</td>
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view().into_any()
                    }}
                </tbody>
            </table>
        </div>
        {move || next.try_get().flatten().map(|cursor| {
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
        // A phone number reads left to right in Arabic too, label beside it.
        "phone" => {
            view! { <bdi dir="ltr">{row.phone.clone().unwrap_or_default()}</bdi> }.into_any()
        }
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
            .map(|m| money::format(crate::ui::locale(), m.minor, &m.currency))
            .unwrap_or_default()
            .into_any(),
        "created" => crate::ui::day_of(row.created_at).into_any(),
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
pub(super) fn form_fields(entity: Entity) -> &'static [&'static str] {
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

pub(super) const ALL_FIELDS: &[&str] = &[
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
    // The email and phone as typed (on change), to warn of a likely duplicate before
    // the record is saved.
    let typed = RwSignal::new((String::new(), String::new()));
    let matches = Resource::new(
        move || typed.get(),
        move |(email, phone)| async move {
            let checked = matches!(entity, Entity::Lead | Entity::Contact);
            if !checked || (email.trim().is_empty() && phone.trim().is_empty()) {
                return Ok(Vec::new());
            }
            find_matching(entity, email, phone).await
        },
    );
    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            match input.name().as_str() {
                "email" => typed.update(|t| t.0 = input.value()),
                "phone" => typed.update(|t| t.1 = input.value()),
                _ => {}
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, typed);
    };
    view! {
        <ActionForm action attr:class="card grid gap-3 md:grid-cols-3" attr:data-testid="new-record-form" attr:novalidate="">
            <input type="hidden" name="entity" value=entity.code()/>
            <div class="contents" on:change=on_change>
                {form_fields(entity).iter().map(|f| view! {
                    <Field label=tr(&format!("field.{f}")) name=f error=field_error(value, f) required=*f == "name"/>
                }).collect_view()}
            </div>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let found = matches.await.unwrap_or_default();
                    (!found.is_empty()).then(|| view! {
                        <div class="alert alert-warning md:col-span-3" role="status" data-testid="possible-duplicates">
                            <p>{tr("merge.create_warning")}</p>
                            <ul class="mt-1 space-y-1">
                                {found.into_iter().map(|c| view! {
                                    <li class="flex flex-wrap items-center gap-2">
                                        <a class="link" href=entity.path(c.id)><bdi>{c.name.clone()}</bdi></a>
                                        {c.reasons.iter().map(|r| view! { <span class="badge badge-neutral">{tr(&format!("merge.reason.{r}"))}</span> }).collect_view()}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </div>
                    })
                })}
            </Transition>
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

/// The list a table shows: its colour, name and description, which its owner (or a
/// manager and up) can change in place.
#[component]
fn ListHeader(list: ListRef, reload: RwSignal<u32>) -> impl IntoView {
    let editing = RwSignal::new(false);
    let save = ServerAction::<UpdateList>::new();
    let value = save.value();
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            editing.set(false);
            reload.update(|r| *r += 1);
        }
    });
    let ListRef {
        id,
        name,
        description,
        color,
        editable,
        ..
    } = list;
    let form_name = name.clone();
    let form_description = description.clone().unwrap_or_default();
    let form_color = color.clone();
    view! {
        <section class="card mb-3 flex flex-wrap items-start gap-3 list-header" data-testid="list-header"
                 style=format!("border-inline-start: 6px solid {color}") aria-labelledby="list-header-name">
            <div class="grow min-w-0">
                <h2 id="list-header-name" class="card-title">{name}</h2>
                {description.map(|d| view! { <p class="text-sm text-muted whitespace-pre-wrap" data-testid="list-description">{d}</p> })}
            </div>
            {editable.then(|| view! {
                <button type="button" class="btn btn-ghost" aria-expanded=move || editing.get().to_string()
                    on:click=move |_| editing.update(|e| *e = !*e)>{tr("lists.edit")}</button>
            })}
            {move || editing.get().then(|| {
                let (form_name, form_description, form_color) =
                    (form_name.clone(), form_description.clone(), form_color.clone());
                view! {
                <ActionForm action=save attr:class="w-full grid gap-2 md:grid-cols-3" attr:data-testid="list-form" attr:novalidate="">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <Field label=tr("lists.smart_name") name="name" value=form_name required=true error=field_error(value, "name")/>
                    <Field label=tr("lists.description") name="description" value=form_description error=field_error(value, "description")/>
                    <Field label=tr("lists.color") name="color" kind="color" value=form_color error=field_error(value, "color")/>
                    <div class="md:col-span-3 flex items-center gap-3">
                        <Submit label=tr("common.save") pending=save.pending()/>
                        <Alert message=form_error(value, &["name", "description", "color"])/>
                    </div>
                </ActionForm>
                }
            })}
        </section>
    }
}
