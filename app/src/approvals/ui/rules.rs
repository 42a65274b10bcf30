//! Settings → Approvals: the rules that hold deal moves for approval, and the form
//! that adds one (a trigger, then up to three ordered levels).

use crate::approvals::api::*;
use crate::approvals::model::*;
use crate::crm::money;
use crate::i18n::{t, tf};
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, PageHeader, Skeleton,
    Submit,
};
use leptos::prelude::*;

const FORM_FIELDS: &[&str] = &[
    "name", "trigger", "stage_id", "amount", "currency", "level_1", "level_2", "level_3",
];

fn trigger_text(l: crate::i18n::Locale, trigger: &RuleTrigger) -> String {
    match trigger {
        RuleTrigger::StageEntered { stage, .. } => tf(
            l,
            "approvals.trigger.stage_text",
            &[("stage", stage.clone())],
        ),
        RuleTrigger::AmountAbove(m) => tf(
            l,
            "approvals.trigger.amount_text",
            &[(
                "amount",
                money::format(crate::ui::locale(), m.minor, &m.currency),
            )],
        ),
    }
}

#[component]
pub fn ApprovalRulesPage() -> impl IntoView {
    let add = ServerAction::<AddApprovalRule>::new();
    let remove = ServerAction::<DeleteApprovalRule>::new();
    // Reloaded after a rule is added or removed, not after a refused submission: that
    // would draw a fresh form and lose what was typed next to its error.
    let added = RwSignal::new(0_u32);
    Effect::new(move || {
        if let Some(Ok(_)) = add.value().get() {
            added.update(|n| *n += 1);
        }
    });
    let page = Resource::new(
        move || (added.get(), remove.version().get()),
        |_| approval_rules(),
    );
    view! {
        <PageHeader title=tr("approvals.rules.title")/>
        <p class="text-sm text-muted">{tr("approvals.rules.intro")}</p>
        <Transition fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! {
                        <RuleForm data=data.clone() add/>
                        <RuleList rules=data.rules remove/>
                    }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RuleForm(data: RulesPage, add: ServerAction<AddApprovalRule>) -> impl IntoView {
    let l = locale();
    let value = add.value();
    let trigger = RwSignal::new("STAGE_ENTERED".to_string());
    let stages = data.stages.clone();
    let approvers = data.approvers.clone();
    let level = move |n: usize| {
        let name = format!("level_{n}");
        let id = format!("f-{name}");
        let field: &'static str = match n {
            1 => "level_1",
            2 => "level_2",
            _ => "level_3",
        };
        let error = field_error(value, field);
        let err_id = format!("{id}-error");
        let label = tf(l, "approvals.rules.level", &[("n", n.to_string())]);
        let options = approvers.clone();
        view! {
            <div class="field">
                <label for=id.clone() class="field-label">{label}</label>
                <select id=id name=name class="input" data-testid=format!("rule-level-{n}")
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=move || error.get().is_some().then(|| err_id.clone())>
                    <option value="">{if n == 1 { t(l, "approvals.rules.choose") } else { t(l, "approvals.rules.no_level") }}</option>
                    {options.into_iter().map(|a| view! { <option value=a.choice()>{a.label(l)}</option> }).collect_view()}
                </select>
                {move || error.get().map(|e| view! { <p id=format!("f-{field}-error") class="field-error" role="alert">{e}</p> })}
            </div>
        }
    };
    let stage_error = field_error(value, "stage_id");
    view! {
        <Card title=tr("approvals.rules.add")>
            <ActionForm action=add attr:class="grid gap-3 md:grid-cols-3 items-start" attr:data-testid="rule-form" attr:novalidate="">
                <Field label=tr("approvals.rules.name") name="name" required=true error=field_error(value, "name")/>
                <div class="field">
                    <label for="f-trigger" class="field-label">{tr("approvals.rules.trigger")}</label>
                    <select id="f-trigger" name="trigger" class="input" on:change=move |ev| trigger.set(event_target_value(&ev))>
                        <option value="STAGE_ENTERED">{tr("approvals.trigger.stage")}</option>
                        <option value="AMOUNT_ABOVE">{tr("approvals.trigger.amount")}</option>
                    </select>
                </div>
                {move || if trigger.get() == "STAGE_ENTERED" {
                    let stages = stages.clone();
                    view! {
                        <div class="field">
                            <label for="f-stage_id" class="field-label">{tr("approvals.rules.stage")}</label>
                            <select id="f-stage_id" name="stage_id" class="input"
                                aria-invalid=move || stage_error.get().is_some().then_some("true")
                                aria-describedby=move || stage_error.get().is_some().then_some("f-stage_id-error")>
                                <option value="">{tr("approvals.rules.choose")}</option>
                                {stages.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.label}</option> }).collect_view()}
                            </select>
                            {move || stage_error.get().map(|e| view! { <p id="f-stage_id-error" class="field-error" role="alert">{e}</p> })}
                        </div>
                    }.into_any()
                } else {
                    view! {
                        <div class="grid grid-cols-2 gap-3">
                            <Field label=tr("approvals.rules.amount") name="amount" error=field_error(value, "amount") hint=tr("approvals.rules.amount_hint")/>
                            <Field label=tr("approvals.rules.currency") name="currency" value=data.currency.clone() error=field_error(value, "currency")/>
                        </div>
                    }.into_any()
                }}
                {level(1)}
                {level(2)}
                {level(3)}
                <div class="md:col-span-3 flex items-center gap-3">
                    <Submit label=tr("approvals.rules.add") pending=add.pending()/>
                    <Alert message=form_error(value, FORM_FIELDS)/>
                    {move || matches!(value.get(), Some(Ok(_))).then(|| view! {
                        <p class="alert alert-success" role="status">{tr("approvals.rules.added")}</p>
                    })}
                </div>
            </ActionForm>
        </Card>
    }
}

#[component]
fn RuleList(rules: Vec<RuleView>, remove: ServerAction<DeleteApprovalRule>) -> impl IntoView {
    let l = locale();
    if rules.is_empty() {
        return view! { <div class="empty-state"><p>{tr("approvals.rules.none")}</p></div> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="rules-table">
                <thead><tr>
                    <th>{tr("approvals.rules.name")}</th>
                    <th>{tr("approvals.rules.trigger")}</th>
                    <th>{tr("approvals.rules.levels")}</th>
                    <th><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {rules.into_iter().map(|r| {
                        let delete_label = tf(l, "approvals.rules.delete", &[("name", r.name.clone())]);
                        view! {
                            <tr>
                                <td>{r.name.clone()}</td>
                                <td>{trigger_text(l, &r.trigger)}</td>
                                <td>
                                    <ol class="list-decimal ps-5">
                                        {r.levels.iter().map(|a| view! { <li>{a.label(l)}</li> }).collect_view()}
                                    </ol>
                                </td>
                                <td>
                                    <ActionForm action=remove>
                                        <input type="hidden" name="id" value=r.id.to_string()/>
                                        <button type="submit" class="btn btn-danger-ghost" aria-label=delete_label>{tr("records.delete")}</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
