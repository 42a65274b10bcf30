//! The kanban page. The board renders from the server; moves apply at once in the
//! browser, are saved, and roll back with a message if the server refuses them.

use super::api::*;
use super::forms::{LostReasonDialog, NewDealForm, NewPipeline};
use super::model::*;
use crate::crm::model::Entity;
use crate::crm::money;
use crate::error::AppError;
use crate::i18n::tf;
use crate::ui::{locale, tr, Alert, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

/// The board's filters, read from the URL.
fn filter_from_query() -> Memo<BoardFilter> {
    let query = use_query_map();
    Memo::new(move |_| {
        let q = query.get();
        let text = |k: &str| {
            q.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        BoardFilter {
            q: text("q").unwrap_or_default(),
            owner: text("owner").and_then(|v| v.parse().ok()),
            tag: text("tag"),
            min: text("min").and_then(|v| v.parse().ok()),
            max: text("max").and_then(|v| v.parse().ok()),
        }
    })
}

#[component]
pub fn BoardPage() -> impl IntoView {
    let params = use_params_map();
    let pipeline_id = Memo::new(move |_| {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    });
    let filter = filter_from_query();
    let reload = RwSignal::new(0_u32);
    // Outlive the board view, which re-renders on every reload.
    let notice = RwSignal::new(None::<String>);
    let announcement = RwSignal::new(String::new());
    let board = Resource::new(
        move || (pipeline_id.get(), filter.get(), reload.get()),
        |(id, filter, _)| get_board(id, filter),
    );
    view! {
        <Transition fallback=|| view! { <PageHeader title=tr("nav.pipeline")/><Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match board.await {
                    Ok(board) => view! { <BoardView board filter=filter.get_untracked() reload notice announcement/> }.into_any(),
                    Err(AppError::NotFound(msg)) => view! {
                        <PageHeader title=tr("nav.pipeline")/>
                        <div class="empty-state"><p>{msg}</p></div>
                    }.into_any(),
                    Err(error) => view! { <PageHeader title=tr("nav.pipeline")/><LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Where a dragged card would land.
#[derive(Clone, Copy, Debug, PartialEq)]
struct DropSpot {
    stage_id: Uuid,
    after_id: Option<Uuid>,
}

/// A move waiting for the lost reason.
#[derive(Clone, Debug, PartialEq)]
struct PendingLost {
    deal_id: Uuid,
    spot: DropSpot,
}

#[component]
fn BoardView(
    board: Board,
    filter: BoardFilter,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
    announcement: RwSignal<String>,
) -> impl IntoView {
    let Board {
        pipelines,
        pipeline,
        columns,
        members,
        can_configure,
    } = board;
    let columns = RwSignal::new(columns);
    let dragging = RwSignal::new(None::<Uuid>);
    let drop_spot = RwSignal::new(None::<DropSpot>);
    let lost = RwSignal::new(None::<PendingLost>);
    // Moves on their way to the server: their own echo must not reload the board.
    let in_flight = RwSignal::new(Vec::<Uuid>::new());
    // A card moved again while its last move is being saved: the newest such move, sent
    // when that answer comes back with the version it needs (two quick Shift+Arrows).
    let queued =
        StoredValue::new(std::collections::HashMap::<Uuid, (DropSpot, Option<String>)>::new());
    let show_new = RwSignal::new(false);
    let edit_stages = RwSignal::new(false);
    // A move a rule held for approval: why the card went back.
    let held = RwSignal::new(None::<String>);
    let focus_after_move = RwSignal::new(None::<Uuid>);
    let pipeline_id = pipeline.id;

    // Saves a move made in the browser; puts everything back if the server refuses.
    let commit_move = move |deal_id: Uuid, spot: DropSpot, lost_reason: Option<String>| {
        let before = columns.get_untracked();
        let Some(card) = before
            .iter()
            .flat_map(|c| c.cards.iter())
            .find(|c| c.id == deal_id)
            .cloned()
        else {
            return;
        };
        if card.stage_id == spot.stage_id && spot.after_id == Some(deal_id) {
            return;
        }
        columns.update(|cols| apply_move(cols, &card, spot));
        focus_after_move.set(Some(deal_id));
        let stage_name = before
            .iter()
            .find(|c| c.stage.id == spot.stage_id)
            .map(|c| c.stage.name.clone())
            .unwrap_or_default();
        announcement.set(tf(
            locale(),
            "board.moved",
            &[("deal", card.name.clone()), ("stage", stage_name)],
        ));
        notice.set(None);
        held.set(None);
        if in_flight.with_untracked(|f| f.contains(&deal_id)) {
            queued.update_value(|q| {
                q.insert(deal_id, (spot, lost_reason));
            });
            return;
        }
        in_flight.update(|f| f.push(deal_id));
        spawn_local(async move {
            let mut change = DealMove {
                deal_id,
                version: card.version,
                stage_id: spot.stage_id,
                after_id: spot.after_id,
                lost_reason,
            };
            let result = loop {
                let result = move_deal(change.clone()).await;
                let next = match &result {
                    Ok(_) => queued.try_update_value(|q| q.remove(&deal_id)).flatten(),
                    Err(_) => {
                        queued.update_value(|q| {
                            q.remove(&deal_id);
                        });
                        None
                    }
                };
                match (next, &result) {
                    (Some((spot, lost_reason)), Ok(saved)) => {
                        change = DealMove {
                            deal_id,
                            version: saved.version,
                            stage_id: spot.stage_id,
                            after_id: spot.after_id,
                            lost_reason,
                        };
                    }
                    _ => break result,
                }
            };
            in_flight.update(|f| f.retain(|d| *d != deal_id));
            match result {
                Ok(saved) => {
                    // Held for approval: the card stays in its stage, with the marker.
                    let asked = change.stage_id;
                    if let Some(pending) = saved
                        .pending_approval
                        .as_ref()
                        .filter(|p| saved.stage_id != asked && p.to_stage_id == asked)
                    {
                        held.set(Some(pending.held_message(locale())));
                        announcement.set(pending.held_message(locale()));
                        columns.set(before);
                    }
                    columns.update(|cols| replace_card(cols, saved));
                }
                Err(err) => {
                    columns.set(before);
                    notice.set(Some(match err {
                        AppError::Conflict(msg) => {
                            reload.update(|n| *n += 1);
                            msg
                        }
                        other => tf(
                            locale(),
                            "board.move_failed",
                            &[("reason", other.to_string())],
                        ),
                    }));
                }
            }
        });
    };
    // Moving into a LOST stage first asks why.
    let request_move = move |deal_id: Uuid, spot: DropSpot| {
        let kind = columns.with_untracked(|cols| {
            cols.iter()
                .find(|c| c.stage.id == spot.stage_id)
                .map(|c| c.stage.kind)
        });
        let from = columns.with_untracked(|cols| {
            cols.iter()
                .flat_map(|c| c.cards.iter())
                .find(|c| c.id == deal_id)
                .map(|c| c.stage_id)
        });
        if kind == Some(StageKind::Lost) && from != Some(spot.stage_id) {
            lost.set(Some(PendingLost { deal_id, spot }));
        } else {
            commit_move(deal_id, spot, None);
        }
    };

    #[cfg(feature = "hydrate")]
    {
        live::follow(pipeline_id, columns, in_flight, reload);
        Effect::new(move || {
            if let Some(id) = focus_after_move.get() {
                columns.track();
                live::focus(&format!("card-{id}"));
            }
        });
    }

    let on_card_key = move |ev: leptos::ev::KeyboardEvent, deal_id: Uuid| {
        if !ev.shift_key() {
            return;
        }
        let key = ev.key();
        let rtl = locale().dir() == "rtl";
        let step = match key.as_str() {
            "ArrowRight" => Some(Step::Column(if rtl { -1 } else { 1 })),
            "ArrowLeft" => Some(Step::Column(if rtl { 1 } else { -1 })),
            "ArrowUp" => Some(Step::Within(-1)),
            "ArrowDown" => Some(Step::Within(1)),
            _ => None,
        };
        if let Some(step) = step {
            ev.prevent_default();
            if let Some(spot) = columns.with_untracked(|cols| keyboard_spot(cols, deal_id, step)) {
                request_move(deal_id, spot);
            }
        }
    };

    let filter_query = filter.to_query();
    let filtered = !filter_query.is_empty();
    let base_path = format!("/pipeline/{pipeline_id}");
    let member_options = members.clone();
    let stage_options: Vec<StageInfo> =
        columns.with_untracked(|c| c.iter().map(|c| c.stage.clone()).collect());
    let filter_for_pages = filter.clone();
    let stages_for_editor = stage_options.clone();

    view! {
        <PageHeader title=pipeline.name.clone()>
            <button type="button" class="btn btn-primary" data-testid="new-deal"
                    on:click=move |_| show_new.update(|s| *s = !*s)>{tr("board.new_deal")}</button>
        </PageHeader>
        <nav class="flex flex-wrap items-center gap-2 mb-3" aria-label=tr("board.pipelines")>
            {pipelines.iter().map(|pl| {
                let current = pl.id == pipeline_id;
                view! {
                    <a href=format!("/pipeline/{}", pl.id) class="btn btn-ghost"
                       class:font-semibold=current aria-current=current.then_some("page")>{pl.name.clone()}</a>
                }
            }).collect_view()}
            {can_configure.then(|| view! {
                <NewPipeline/>
                <button type="button" class="btn btn-ghost" data-testid="edit-stages"
                        aria-expanded=move || edit_stages.get().to_string()
                        on:click=move |_| edit_stages.update(|e| *e = !*e)>{tr("stages.edit")}</button>
            })}
        </nav>
        <form method="get" action=base_path.clone() class="board-filters" role="search" aria-label=tr("board.filters")>
            <label class="sr-only" for="bf-q">{tr("board.filter_text")}</label>
            <input id="bf-q" name="q" type="search" class="input" value=filter.q.clone() placeholder=tr("board.filter_text")/>
            <label class="sr-only" for="bf-owner">{tr("board.owner")}</label>
            <select id="bf-owner" name="owner" class="input">
                <option value="">{tr("board.any_owner")}</option>
                {members.iter().map(|m| view! {
                    <option value=m.user_id.to_string() selected=filter.owner == Some(m.user_id)>{m.name.clone()}</option>
                }).collect_view()}
            </select>
            <label class="sr-only" for="bf-tag">{tr("board.tag")}</label>
            <input id="bf-tag" name="tag" class="input" value=filter.tag.clone().unwrap_or_default() placeholder=tr("board.tag")/>
            <label class="sr-only" for="bf-min">{tr("board.min_amount")}</label>
            <input id="bf-min" name="min" type="number" min="0" class="input" value=filter.min.map(|v| v.to_string()) placeholder=tr("board.min_amount")/>
            <label class="sr-only" for="bf-max">{tr("board.max_amount")}</label>
            <input id="bf-max" name="max" type="number" min="0" class="input" value=filter.max.map(|v| v.to_string()) placeholder=tr("board.max_amount")/>
            <button type="submit" class="btn btn-secondary">{tr("board.apply")}</button>
            {filtered.then(|| view! { <a class="btn btn-ghost" href=base_path.clone()>{tr("board.clear")}</a> })}
        </form>
        {move || edit_stages.get().then(|| view! {
            <super::stages::StageEditor pipeline_id stages=stages_for_editor.clone()
                on_saved=move || reload.update(|n| *n += 1)/>
        })}
        <p class="text-xs text-muted mb-2" id="board-help">{tr("board.keyboard_help")}</p>
        <Alert message=notice/>
        <Alert message=held tone="warning"/>
        <div class="sr-only" role="status" aria-live="polite" data-testid="board-announcer">{move || announcement.get()}</div>
        {move || show_new.get().then(|| view! {
            <NewDealForm pipeline_id stages=stage_options.clone() members=member_options.clone()
                on_created=move |card: DealCard| {
                    columns.update(|cols| {
                        if let Some(col) = cols.iter_mut().find(|c| c.stage.id == card.stage_id) {
                            col.count += 1;
                            add_sum(&mut col.sums, &card.amount, 1);
                            add_sum(&mut col.weighted, &card.weighted(), 1);
                            col.cards.insert(0, card);
                        }
                    });
                    show_new.set(false);
                }/>
        })}
        <div class="board" data-testid="board" tabindex="0" role="region" aria-label=tr("board.columns")>
            {move || columns.get().into_iter().map(|col| {
                let stage_id = col.stage.id;
                let last_id = col.cards.last().map(|c| c.id);
                let cursor = col.cards.last().map(DealCard::cursor);
                let filter = filter_for_pages.clone();
                let heading_id = format!("stage-{stage_id}");
                let labelled_by = heading_id.clone();
                view! {
                    <section class="board-column" aria-labelledby=labelled_by data-testid="column" data-stage=col.stage.name.clone()
                        class:drop-target=move || drop_spot.get().is_some_and(|s| s.stage_id == stage_id)
                        on:dragover=move |ev: leptos::ev::DragEvent| {
                            ev.prevent_default();
                            if drop_spot.get_untracked().is_none_or(|s| s.stage_id != stage_id) {
                                drop_spot.set(Some(DropSpot { stage_id, after_id: last_id }));
                            }
                        }
                        on:drop=move |ev: leptos::ev::DragEvent| {
                            ev.prevent_default();
                            if let (Some(deal_id), Some(spot)) = (dragging.get_untracked(), drop_spot.get_untracked()) {
                                request_move(deal_id, spot);
                            }
                            dragging.set(None);
                            drop_spot.set(None);
                        }>
                        <header class="board-column-head">
                            <span class="stage-dot" style=format!("background:{}", col.stage.color) aria-hidden="true"></span>
                            <h2 id=heading_id class="font-semibold text-sm">{col.stage.name.clone()}</h2>
                            <span class="badge badge-neutral" data-testid="column-count">{col.count}</span>
                            <span class="ms-auto text-xs text-muted" data-testid="column-sum">
                                {col.sums.iter().take(2).map(|m| money::format(crate::ui::locale(), m.minor, &m.currency)).collect::<Vec<_>>().join(" · ")}
                            </span>
                        </header>
                        {weighted_line(&col.weighted)}
                        <ol class="board-cards">
                            {col.cards.iter().map(|card| {
                                let id = card.id;
                                view! {
                                    <DealCardView card=card.clone()
                                        dragging drop_spot
                                        on_key=move |ev| on_card_key(ev, id)/>
                                }
                            }).collect_view()}
                        </ol>
                        {col.cards.is_empty().then(|| view! { <p class="text-xs text-muted p-2">{tr("board.empty_column")}</p> })}
                        {(col.more).then(|| {
                            let filter = filter.clone();
                            view! {
                                <button type="button" class="btn btn-ghost w-full" data-testid="load-more"
                                    on:click=move |_| {
                                        let Some(after) = cursor else { return };
                                        let filter = filter.clone();
                                        spawn_local(async move {
                                            match get_column_page(stage_id, filter, after).await {
                                                Ok(page) => columns.update(|cols| {
                                                    if let Some(c) = cols.iter_mut().find(|c| c.stage.id == stage_id) {
                                                        c.cards.extend(page.cards);
                                                        c.more = page.more;
                                                    }
                                                }),
                                                Err(e) => notice.set(Some(e.to_string())),
                                            }
                                        });
                                    }>{tr("board.load_more")}</button>
                            }
                        })}
                    </section>
                }
            }).collect_view()}
        </div>
        {move || lost.get().map(|pending| view! {
            <LostReasonDialog
                on_confirm=move |reason: String| {
                    lost.set(None);
                    commit_move(pending.deal_id, pending.spot, Some(reason));
                }
                on_cancel=move || lost.set(None)/>
        })}
    }
}

#[component]
fn DealCardView(
    card: DealCard,
    dragging: RwSignal<Option<Uuid>>,
    drop_spot: RwSignal<Option<DropSpot>>,
    on_key: impl Fn(leptos::ev::KeyboardEvent) + 'static,
) -> impl IntoView {
    let id = card.id;
    let stage_id = card.stage_id;
    let amount = money::format(
        crate::ui::locale(),
        card.amount.minor,
        &card.amount.currency,
    );
    let awaiting = card.pending_approval.as_ref().map(|p| {
        tf(
            locale(),
            "approvals.awaiting",
            &[("stage", p.to_stage.clone())],
        )
    });
    let label = match &awaiting {
        Some(a) => format!("{}, {}, {}", card.name, amount, a),
        None => format!("{}, {}", card.name, amount),
    };
    let marker_before = move || {
        drop_spot
            .get()
            .is_some_and(|s| s.stage_id == stage_id && s.after_id == Some(id))
    };
    view! {
        <li id=format!("card-{id}") class="deal-card" tabindex="0" draggable="true"
            data-testid="deal-card" data-deal=id.to_string() data-name=card.name.clone()
            data-version=card.version.to_string()
            aria-label=label aria-describedby="board-help"
            class:dragging=move || dragging.get() == Some(id)
            class:drop-after=marker_before
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &id.to_string());
                    dt.set_effect_allowed("move");
                }
                dragging.set(Some(id));
            }
            on:dragend=move |_| { dragging.set(None); drop_spot.set(None); }
            on:dragover=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                ev.stop_propagation();
                // Upper half: land before this card (after the previous one).
                let upper = ev.offset_y() < card_half_height(&ev);
                let after = if upper { previous_card(&ev) } else { Some(id) };
                let spot = DropSpot { stage_id, after_id: after };
                if drop_spot.get_untracked() != Some(spot) {
                    drop_spot.set(Some(spot));
                }
            }
            on:keydown=on_key>
            <div class="flex items-start gap-2">
                <a class="font-medium hover:underline grow" href=Entity::Deal.path(id) draggable="false">{card.name.clone()}</a>
                {card.owner.as_ref().map(|o| view! {
                    <span class="avatar-sm" title=o.name.clone() aria-label=o.name.clone()>{o.initials()}</span>
                })}
            </div>
            <div class="flex items-center gap-2 text-xs text-muted mt-1">
                <span data-testid="card-amount">{amount}</span>
                <span aria-hidden="true">"·"</span>
                <span data-testid="card-weighted" title=tr("board.weighted_hint")>
                    {tf(locale(), "board.weighted_card", &[
                        ("percent", crate::l10n::percent(locale(), i64::from(card.probability))),
                        ("amount", money::format(locale(), card.weighted().minor, &card.weighted().currency)),
                    ])}
                </span>
                <span aria-hidden="true">"·"</span>
                <span>{tf(locale(), "board.age_days", &[("days", card.age_days.to_string())])}</span>
            </div>
            {card.next_task.as_ref().map(|task| view! {
                <p class="text-xs mt-1" class:text-danger=task.overdue>
                    {crate::ui::isolated("board.next_task", &[("task", task.subject.clone()), ("due", crate::ui::day_of(task.due_at))])}
                </p>
            })}
            {awaiting.map(|a| view! {
                <p class="mt-1"><span class="badge badge-warning" data-testid="awaiting-approval">{a}</span></p>
            })}
            {(!card.tags.is_empty()).then(|| view! {
                <div class="flex flex-wrap gap-1 mt-1">
                    {card.tags.iter().map(|t| view! { <span class="badge badge-neutral">{t.clone()}</span> }).collect_view()}
                </div>
            })}
        </li>
    }
}

fn card_half_height(ev: &leptos::ev::DragEvent) -> i32 {
    use leptos::wasm_bindgen::JsCast;
    ev.current_target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
        .map(|el| el.offset_height() / 2)
        .unwrap_or(0)
}

/// The id of the card above the one under the pointer, if any.
fn previous_card(ev: &leptos::ev::DragEvent) -> Option<Uuid> {
    use leptos::wasm_bindgen::JsCast;
    ev.current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.previous_element_sibling())
        .and_then(|el| el.get_attribute("data-deal"))
        .and_then(|id| id.parse().ok())
}

#[derive(Clone, Copy)]
enum Step {
    Column(i32),
    Within(i32),
}

/// Where a keyboard step takes a card: the top of the next or previous column, or one
/// place up or down in its own.
fn keyboard_spot(cols: &[Column], deal_id: Uuid, step: Step) -> Option<DropSpot> {
    let ci = cols
        .iter()
        .position(|c| c.cards.iter().any(|d| d.id == deal_id))?;
    let col = &cols[ci];
    let ri = col.cards.iter().position(|d| d.id == deal_id)?;
    match step {
        Step::Column(delta) => {
            let target = cols.get(usize::try_from(ci as i32 + delta).ok()?)?;
            Some(DropSpot {
                stage_id: target.stage.id,
                after_id: None,
            })
        }
        Step::Within(-1) if ri == 0 => None,
        Step::Within(-1) => Some(DropSpot {
            stage_id: col.stage.id,
            after_id: ri.checked_sub(2).map(|i| col.cards[i].id),
        }),
        Step::Within(_) => col.cards.get(ri + 1).map(|next| DropSpot {
            stage_id: col.stage.id,
            after_id: Some(next.id),
        }),
    }
}

/// Moves a card in the browser's copy of the board, counts and sums included.
fn apply_move(cols: &mut [Column], card: &DealCard, spot: DropSpot) {
    for col in cols.iter_mut() {
        if let Some(i) = col.cards.iter().position(|c| c.id == card.id) {
            col.cards.remove(i);
            if col.stage.id != spot.stage_id {
                col.count -= 1;
                add_sum(&mut col.sums, &card.amount, -1);
                add_sum(&mut col.weighted, &card.weighted(), -1);
            }
        }
    }
    if let Some(col) = cols.iter_mut().find(|c| c.stage.id == spot.stage_id) {
        let index = match spot.after_id {
            None => 0,
            Some(after) => col
                .cards
                .iter()
                .position(|c| c.id == after)
                .map_or(col.cards.len(), |i| i + 1),
        };
        let mut moved = card.clone();
        if card.stage_id != spot.stage_id {
            // A move takes the stage's chance to win, as the server does.
            moved.probability = col.stage.probability;
            col.count += 1;
            add_sum(&mut col.sums, &card.amount, 1);
            add_sum(&mut col.weighted, &moved.weighted(), 1);
        }
        moved.stage_id = spot.stage_id;
        col.cards.insert(index, moved);
    }
}

/// A column's weighted total, per currency; nothing when it is zero (an empty column,
/// or the lost stage's 0 %).
fn weighted_line(weighted: &[money::Money]) -> Option<impl IntoView> {
    let l = locale();
    let amounts: Vec<String> = weighted
        .iter()
        .filter(|m| m.minor != 0)
        .take(2)
        .map(|m| money::format(l, m.minor, &m.currency))
        .collect();
    (!amounts.is_empty()).then(|| {
        view! {
            <p class="px-2 pb-1 text-xs text-muted" data-testid="column-weighted">
                {tf(l, "board.weighted_total", &[("amount", amounts.join(" · "))])}
            </p>
        }
    })
}

fn add_sum(sums: &mut Vec<money::Money>, amount: &money::Money, sign: i64) {
    match sums.iter_mut().find(|m| m.currency == amount.currency) {
        Some(m) => m.minor += sign * amount.minor,
        None => sums.push(money::Money {
            minor: sign * amount.minor,
            currency: amount.currency.clone(),
        }),
    }
}

/// Swaps in the server's copy of a card (new version and position).
fn replace_card(cols: &mut [Column], saved: DealCard) {
    for col in cols.iter_mut() {
        if let Some(c) = col.cards.iter_mut().find(|c| c.id == saved.id) {
            *c = saved;
            return;
        }
    }
}

/// Live updates: other members' moves arrive as server-sent events.
#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use leptos::wasm_bindgen::JsCast;

    #[derive(serde::Deserialize)]
    struct Change {
        p: Uuid,
        d: Uuid,
        v: i32,
    }

    /// Reloads the board when a deal of its pipeline changes that this board does not
    /// already show in that version (its own moves come back too, and are skipped), or
    /// when changes may have been missed.
    pub fn follow(
        pipeline_id: Uuid,
        columns: RwSignal<Vec<Column>>,
        in_flight: RwSignal<Vec<Uuid>>,
        reload: RwSignal<u32>,
    ) {
        crate::live::on_event("deal", move |data| {
            let Some(data) = data else {
                reload.update(|n| *n += 1);
                return;
            };
            let Ok(change) = serde_json::from_str::<Change>(&data) else {
                return;
            };
            if change.p != pipeline_id {
                return;
            }
            let known = columns.with_untracked(|cols| {
                cols.iter()
                    .flat_map(|c| c.cards.iter())
                    .any(|c| c.id == change.d && c.version >= change.v)
            });
            if !known && !in_flight.with_untracked(|f| f.contains(&change.d)) {
                reload.update(|n| *n += 1);
            }
        });
    }

    /// Focuses an element once the pending re-render has reached the page.
    pub fn focus(id: &str) {
        let id = id.to_string();
        request_animation_frame(move || {
            if let Some(el) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(&id))
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
    }
}
