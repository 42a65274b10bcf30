//! The deal page's stage control: the deal's stage, a move waiting for approval, and a
//! move to another stage of its pipeline through the board's own `move_deal`, so a
//! rule that holds a board move holds this one too.

use super::api::{get_deal_stage, move_deal};
use super::model::*;
use crate::i18n::tf;
use crate::ui::{locale, tr, Alert, Card, LoadError, Skeleton};
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

#[component]
pub fn DealStageCard(deal_id: Uuid, saved: RwSignal<u32>) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || tick.get(), move |_| get_deal_stage(deal_id));
    let error = RwSignal::new(None::<String>);
    let held = RwSignal::new(None::<String>);
    view! {
        <Card title=tr("deal_stage.title")>
            <Transition fallback=|| view! { <Skeleton lines=2/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(view) => view! { <StageForm view tick saved error held/> }.into_any(),
                    }
                })}
            </Transition>
            <Alert message=error/>
            <Alert message=held tone="warning"/>
        </Card>
    }
}

#[component]
fn StageForm(
    view: DealStageView,
    tick: RwSignal<u32>,
    saved: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    held: RwSignal<Option<String>>,
) -> impl IntoView {
    let l = locale();
    let DealStageView { card, stages } = view;
    let current = stages
        .iter()
        .find(|s| s.id == card.stage_id)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let target = RwSignal::new(card.stage_id);
    let reason = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let lost: Vec<Uuid> = stages
        .iter()
        .filter(|s| s.kind == StageKind::Lost)
        .map(|s| s.id)
        .collect();
    let is_lost = move || lost.contains(&target.get());
    let (deal_id, version) = (card.id, card.version);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let stage_id = target.get_untracked();
        error.set(None);
        held.set(None);
        pending.set(true);
        spawn_local(async move {
            let change = DealMove {
                deal_id,
                version,
                stage_id,
                after_id: None,
                lost_reason: Some(reason.get_untracked()).filter(|r| !r.trim().is_empty()),
            };
            match move_deal(change).await {
                Ok(moved) => match moved
                    .pending_approval
                    .filter(|p| moved.stage_id != stage_id && p.to_stage_id == stage_id)
                {
                    // Held: the record is unchanged, only this card shows the request.
                    Some(p) => {
                        held.set(Some(p.held_message(locale())));
                        tick.update(|t| *t += 1);
                    }
                    None => saved.update(|s| *s += 1),
                },
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.set(false);
        });
    };
    view! {
        <p class="text-sm" data-testid="deal-stage">
            {tf(l, "deal_stage.current", &[("stage", current)])}
            {card.pending_approval.map(|p| view! {
                " " <span class="badge badge-warning" data-testid="awaiting-approval">
                    {tf(l, "approvals.awaiting", &[("stage", p.to_stage)])}
                </span>
            })}
        </p>
        <form class="mt-3 flex flex-wrap items-end gap-3" on:submit=submit>
            <div class="field">
                <label for="deal-stage-to" class="field-label">{tr("deal_stage.move_to")}</label>
                <select id="deal-stage-to" class="input"
                    on:change=move |ev| {
                        if let Ok(id) = event_target_value(&ev).parse() {
                            target.set(id);
                        }
                    }>
                    {stages.into_iter().map(|s| {
                        let selected = s.id == card.stage_id;
                        view! { <option value=s.id.to_string() selected=selected>{s.name}</option> }
                    }).collect_view()}
                </select>
            </div>
            {move || is_lost().then(|| view! {
                <div class="field">
                    <label for="deal-stage-reason" class="field-label">{tr("board.lost_reason")}</label>
                    <input id="deal-stage-reason" class="input" prop:value=reason
                        on:input=move |ev| reason.set(event_target_value(&ev))/>
                </div>
            })}
            <button type="submit" class="btn btn-secondary" disabled=move || pending.get()>{tr("deal_stage.move")}</button>
        </form>
    }
}
