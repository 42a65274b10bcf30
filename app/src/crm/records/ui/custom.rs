//! Custom fields: the inputs on record forms, and Settings → Fields.

use super::*;

/// Inputs for the tenant's custom fields, named `custom[key]` so the server gets them
/// as one map; errors come back as `custom.<key>`.
#[component]
pub(super) fn CustomInputs<S>(fields: Vec<(CustomField, String)>, value: S) -> impl IntoView
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
                "DATE" => view! {
                    <div class="flex items-center gap-1">
                        <input id=id.clone() name=name type="date" class="input" value=current.clone()/>
                        <crate::ui::DatePicker input=id.clone()/>
                    </div>
                }.into_any(),
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
