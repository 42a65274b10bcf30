//! A record's page: its facts, the edit form and its timeline.

use super::*;

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
                        <div class="empty-state">
                            <p>{tr("records.not_found")}</p>
                            {id.get_untracked().filter(|_| matches!(entity, Entity::Lead | Entity::Contact))
                                .map(|id| view! { <crate::crm::merge::MergedNotice entity id/> })}
                        </div>
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
    let members_for_tasks = members.clone();
    let title = row.name.clone();
    view! {
        <PageHeader title=title.clone()>
            {(entity != Entity::Deal).then(|| view! { <crate::crm::convert::DealButton entity id name=title.clone()/> })}
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
                {(entity == Entity::Deal).then(|| view! {
                    <crate::crm::board::deal_stage::DealStageCard deal_id=id saved/>
                    <crate::inventory::deal::DealUnitsCard deal_id=id saved/>
                })}
                {matches!(entity, Entity::Lead | Entity::Contact).then(|| view! {
                    <crate::crm::merge::DuplicatesCard entity id/>
                })}
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
                <Timeline entity id members=members_for_tasks/>
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
        pairs.push((
            tr("board.amount"),
            money::format(crate::ui::locale(), m.minor, &m.currency),
        ));
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
