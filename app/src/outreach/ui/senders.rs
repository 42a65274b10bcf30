//! Senders: the WhatsApp number pool (status, priority, daily quota of new contacts and
//! today's use, provider and provider switches), the tenant's 24-hour limit, sending domains with the DNS records to
//! publish and their check, and mailboxes with caps, warm-up and gaps.

use super::status_badge;
use super::switch::ProviderSwitches;
use crate::auth::model::Permission;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{
    field_error, form_error, page, tr, Alert, Card, Field, LoadError, Skeleton, Submit,
};
use leptos::prelude::*;

#[component]
pub fn SendersPage() -> impl IntoView {
    let saved = RwSignal::new(0_u32);
    let switch_started = RwSignal::new(None);
    let data = Resource::new(move || saved.get(), |_| get_senders());
    let can_manage = page()
        .viewer
        .is_some_and(|v| v.can(Permission::OutreachManage));
    view! {
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(s) => view! { <SendersView s saved switch_started can_manage/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SendersView(
    s: Senders,
    saved: RwSignal<u32>,
    switch_started: RwSignal<Option<uuid::Uuid>>,
    can_manage: bool,
) -> impl IntoView {
    let domains = s.domains.clone();
    // New mailboxes go on a domain that is not archived.
    let mailbox_domains: Vec<DomainView> =
        domains.iter().filter(|d| !d.archived).cloned().collect();
    let has_domains = !mailbox_domains.is_empty();
    view! {
        <div class="space-y-4">
            <Card title=tr("outreach.phones")>
                <Phones phones=s.phones.clone() saved can_manage/>
                <ProviderSwitches phones=s.phones.clone() saved started=switch_started can_manage/>
                {can_manage.then(|| view! { <NewPhone saved/> <WaLimit limit=s.wa_daily_unique_limit saved/> })}
            </Card>
            <Card title=tr("outreach.domains")>
                <Domains domains saved can_manage/>
            </Card>
            <Card title=tr("outreach.mailboxes")>
                <Mailboxes mailboxes=s.mailboxes.clone() saved can_manage/>
                {(can_manage && has_domains).then(|| view! { <NewMailbox domains=mailbox_domains saved/> })}
            </Card>
        </div>
    }
}

#[component]
fn Phones(phones: Vec<PhoneView>, saved: RwSignal<u32>, can_manage: bool) -> impl IntoView {
    if phones.is_empty() {
        return view! { <p class="text-sm text-muted">{tr("outreach.no_phones")}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="phones-table">
                <thead><tr>
                    <th scope="col">{tr("outreach.phone")}</th>
                    <th scope="col">{tr("outreach.provider")}</th>
                    <th scope="col">{tr("outreach.status")}</th>
                    <th scope="col" class="text-end">{tr("outreach.priority")}</th>
                    <th scope="col" class="text-end">{tr("outreach.quota_today")}</th>
                    <th scope="col" class="text-end">{tr("outreach.followups_today")}</th>
                    <th scope="col" class="text-end">{tr("outreach.assigned_leads")}</th>
                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {phones.into_iter().map(|p| {
                        let action = ServerAction::<SavePhone>::new();
                        let value = action.value();
                        Effect::new(move || if let Some(Ok(_)) = value.get() { saved.update(|n| *n += 1) });
                        let status = p.status;
                        let archive_name = p.number.clone();
                        view! {
                            <tr>
                                <td><span class="font-medium">{p.label.clone()}</span>" "<span class="tabular-nums">{p.number.clone()}</span></td>
                                <td>{tr(&format!("outreach.provider.{}", p.provider))}</td>
                                <td>{if p.archived {
                                        view! { <span class="badge badge-neutral">{tr("outreach.archived")}</span> }.into_any()
                                    } else {
                                        view! { {status_badge(p.status.code())}{p.status_reason.clone().map(|r| view! { <p class="text-xs text-muted">{r}</p> })} }.into_any()
                                    }}</td>
                                <td class="text-end tabular-nums">{p.priority}</td>
                                <td class="text-end tabular-nums">{format!("{}/{}", p.used_today, p.daily_quota)}</td>
                                <td class="text-end tabular-nums">{p.followups_today}</td>
                                <td class="text-end tabular-nums">{p.leads}</td>
                                <td>
                                    // A switch gives the number its status back when it ends.
                                    {(can_manage && !p.archived && p.status != PhoneStatus::Migrating).then(|| view! {
                                        <ActionForm action attr:class="flex items-center gap-2" attr:novalidate="">
                                            <input type="hidden" name="id" value=p.id.to_string()/>
                                            <input type="hidden" name="number" value=p.number.clone()/>
                                            <input type="hidden" name="label" value=p.label.clone()/>
                                            <input type="hidden" name="provider_phone_id" value=p.provider_phone_id.clone()/>
                                            <input type="hidden" name="priority" value=p.priority.to_string()/>
                                            <input type="hidden" name="daily_quota" value=p.daily_quota.to_string()/>
                                            <label class="sr-only" for=format!("ps-{}", p.id)>{tr("outreach.status")}</label>
                                            <select id=format!("ps-{}", p.id) name="status" class="input w-40">
                                                {PhoneStatus::SETTABLE.into_iter().map(|st| view! {
                                                    <option value=st.code() selected=status == st>{tr(&format!("outreach.status.{st}"))}</option>
                                                }).collect_view()}
                                            </select>
                                            <button type="submit" class="btn btn-ghost">{tr("common.save")}</button>
                                        </ActionForm>
                                    })}
                                    {move || value.get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
                                    {(can_manage && p.status != PhoneStatus::Migrating).then(|| view! {
                                        <ArchiveSender kind="phone" id=p.id name=archive_name.clone() archived=p.archived saved/>
                                    })}
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

const PHONE_FIELDS: &[&str] = &[
    "number",
    "label",
    "provider_phone_id",
    "waba_id",
    "access_token",
    "priority",
    "daily_quota",
    "status",
];

#[component]
fn NewPhone(saved: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<SavePhone>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            saved.update(|n| *n += 1)
        }
    });
    view! {
        <details class="mt-3">
            <summary class="cursor-pointer text-sm font-medium">{tr("outreach.add_phone")}</summary>
            <ActionForm action attr:class="mt-2 grid gap-3 md:grid-cols-3" attr:data-testid="phone-form" attr:novalidate="">
                <Field label=tr("outreach.phone") name="number" kind="tel" required=true error=field_error(value, "number")/>
                <Field label=tr("outreach.label") name="label" required=true error=field_error(value, "label")/>
                <Field label=tr("outreach.provider_phone_id") name="provider_phone_id" required=true hint=tr("outreach.provider_phone_id_hint") error=field_error(value, "provider_phone_id")/>
                <Field label=tr("outreach.waba_id") name="waba_id" required=true hint=tr("outreach.waba_id_hint") error=field_error(value, "waba_id")/>
                <Field label=tr("outreach.access_token") name="access_token" kind="password" required=true hint=tr("outreach.access_token_hint") error=field_error(value, "access_token")/>
                <Field label=tr("outreach.priority") name="priority" kind="number" value="1" hint=tr("outreach.priority_hint") error=field_error(value, "priority")/>
                <Field label=tr("outreach.daily_quota") name="daily_quota" kind="number" value="200" hint=tr("outreach.daily_quota_hint") error=field_error(value, "daily_quota")/>
                <div class="md:col-span-3 flex items-center gap-3">
                    <Submit label=tr("outreach.add_phone") pending=action.pending()/>
                    <Alert message=form_error(value, PHONE_FIELDS)/>
                </div>
            </ActionForm>
        </details>
    }
}

#[component]
fn WaLimit(limit: i32, saved: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<SaveWaLimit>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            saved.update(|n| *n += 1)
        }
    });
    view! {
        <ActionForm action attr:class="mt-3 flex flex-wrap items-end gap-3" attr:novalidate="">
            <Field label=tr("outreach.wa_daily_unique_limit") name="wa_daily_unique_limit" kind="number" value=limit.to_string()
                hint=tr("outreach.wa_daily_unique_limit_hint") error=field_error(value, "wa_daily_unique_limit")/>
            <Submit label=tr("common.save") pending=action.pending()/>
        </ActionForm>
    }
}

#[component]
fn Domains(domains: Vec<DomainView>, saved: RwSignal<u32>, can_manage: bool) -> impl IntoView {
    let add = ServerAction::<AddDomain>::new();
    let add_value = add.value();
    Effect::new(move || {
        if let Some(Ok(_)) = add_value.get() {
            saved.update(|n| *n += 1)
        }
    });
    view! {
        {if domains.is_empty() {
            view! { <p class="text-sm text-muted">{tr("outreach.no_domains")}</p> }.into_any()
        } else {
            view! {
                <div class="space-y-3" data-testid="domains">
                    {domains.into_iter().map(|d| view! { <DomainCard d saved can_manage/> }).collect_view()}
                </div>
            }.into_any()
        }}
        {can_manage.then(|| view! {
            <ActionForm action=add attr:class="mt-3 flex flex-wrap items-end gap-3" attr:data-testid="domain-form" attr:novalidate="">
                <Field label=tr("outreach.domain") name="domain" required=true error=field_error(add_value, "domain")/>
                <Field label=tr("outreach.dkim_selector") name="dkim_selector" value="leadline" error=field_error(add_value, "dkim_selector")/>
                <Submit label=tr("outreach.add_domain") pending=add.pending()/>
                <Alert message=form_error(add_value, &["domain", "dkim_selector"])/>
            </ActionForm>
        })}
    }
}

#[component]
fn DomainCard(d: DomainView, saved: RwSignal<u32>, can_manage: bool) -> impl IntoView {
    let verify = ServerAction::<VerifyDomain>::new();
    let value = verify.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            saved.update(|n| *n += 1)
        }
    });
    let ok = |b: bool| if b { "APPROVED" } else { "PENDING" };
    view! {
        <article class="rounded border border-line p-3">
            <div class="flex flex-wrap items-center gap-2">
                <h3 class="font-semibold">{d.domain.clone()}</h3>
                {d.archived.then(|| view! { <span class="badge badge-neutral">{tr("outreach.archived")}</span> })}
                <span class="text-sm">"SPF"</span>{status_badge(ok(d.spf_ok))}
                <span class="text-sm">"DKIM"</span>{status_badge(ok(d.dkim_ok))}
                <span class="text-sm">"DMARC"</span>{status_badge(ok(d.dmarc_ok))}
                {can_manage.then(|| view! {
                    <div class="ms-auto flex flex-wrap items-start gap-2">
                        <ActionForm action=verify>
                            <input type="hidden" name="id" value=d.id.to_string()/>
                            <Submit label=tr("outreach.check_dns") pending=verify.pending()/>
                        </ActionForm>
                        <div><ArchiveSender kind="domain" id=d.id name=d.domain.clone() archived=d.archived saved/></div>
                    </div>
                })}
            </div>
            {move || value.get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
            {(!d.checks.is_empty()).then(|| view! {
                <div class="table-wrap mt-2">
                    <table class="table text-sm">
                        <thead><tr>
                            <th scope="col">{tr("outreach.record")}</th>
                            <th scope="col">{tr("outreach.publish_at")}</th>
                            <th scope="col">{tr("outreach.expected")}</th>
                            <th scope="col">{tr("outreach.result")}</th>
                        </tr></thead>
                        <tbody>
                            {d.checks.iter().map(|c| view! {
                                <tr>
                                    <td>{c.kind.clone()}</td>
                                    <td class="font-mono break-all">{c.name.clone()}</td>
                                    <td class="font-mono break-all max-w-xs">{c.expected.clone()}</td>
                                    <td>{status_badge(ok(c.ok))}{c.problem.clone().map(|p| view! { <p class="text-xs">{p}</p> })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </article>
    }
}

/// Archive or restore one sender, with the refusal (messages still queued, the plan's
/// limit) beside the button.
#[component]
fn ArchiveSender(
    kind: &'static str,
    id: uuid::Uuid,
    name: String,
    archived: bool,
    saved: RwSignal<u32>,
) -> impl IntoView {
    let action = ServerAction::<SetSenderArchived>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            saved.update(|n| *n += 1)
        }
    });
    let (label, text) = if archived {
        ("outreach.restore_sender", "outreach.restore")
    } else {
        ("outreach.archive_sender", "outreach.archive")
    };
    view! {
        <button type="button" class="btn btn-ghost" disabled=move || action.pending().get()
            aria-label=crate::i18n::tf(crate::ui::locale(), label, &[("name", name.clone())])
            on:click=move |_| { action.dispatch(SetSenderArchived { kind: kind.to_string(), id, archived: !archived }); }>
            {tr(text)}
        </button>
        {move || value.get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
    }
}

#[component]
fn Mailboxes(mailboxes: Vec<MailboxView>, saved: RwSignal<u32>, can_manage: bool) -> impl IntoView {
    if mailboxes.is_empty() {
        return view! { <p class="text-sm text-muted">{tr("outreach.no_mailboxes")}</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="mailboxes-table">
                <thead><tr>
                    <th scope="col">{tr("outreach.from")}</th>
                    <th scope="col">{tr("outreach.status")}</th>
                    <th scope="col">{tr("outreach.smtp")}</th>
                    <th scope="col" class="text-end">{tr("outreach.sent_today")}</th>
                    <th scope="col" class="text-end">{tr("outreach.min_gap")}</th>
                    <th scope="col" class="text-end">{tr("outreach.bounce_rate")}</th>
                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {mailboxes.into_iter().map(|m| view! {
                        <tr>
                            <td>{format!("{} <{}>", m.from_name, m.from_address)}</td>
                            <td>{if m.archived {
                                    view! { <span class="badge badge-neutral">{tr("outreach.archived")}</span> }.into_any()
                                } else {
                                    view! { {status_badge(&m.status)}{m.status_reason.clone().map(|r| view! { <p class="text-xs text-muted">{r}</p> })} }.into_any()
                                }}</td>
                            <td class="text-sm">{format!("{}:{} · {}", m.smtp_host, m.smtp_port, m.smtp_security)}</td>
                            <td class="text-end tabular-nums">{format!("{}/{} ({} {})", m.sent_today, m.cap_today, tr("outreach.cap"), m.daily_cap)}</td>
                            <td class="text-end tabular-nums">{format!("{} s", m.min_gap_seconds)}</td>
                            <td class="text-end tabular-nums">{format!("{:.1}%", m.bounce_rate)}</td>
                            <td>{can_manage.then(|| view! {
                                <ArchiveSender kind="mailbox" id=m.id name=m.from_address.clone() archived=m.archived saved/>
                            })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

const MAILBOX_FIELDS: &[&str] = &[
    "domain_id",
    "from_address",
    "from_name",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "daily_cap",
    "warmup_start",
    "warmup_step",
    "min_gap_seconds",
    "status",
];

#[component]
fn NewMailbox(domains: Vec<DomainView>, saved: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<SaveMailbox>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            saved.update(|n| *n += 1)
        }
    });
    view! {
        <details class="mt-3">
            <summary class="cursor-pointer text-sm font-medium">{tr("outreach.add_mailbox")}</summary>
            <ActionForm action attr:class="mt-2 grid gap-3 md:grid-cols-3" attr:data-testid="mailbox-form" attr:novalidate="">
                <div class="field">
                    <label for="f-mb-domain" class="field-label">{tr("outreach.domain")}</label>
                    <select id="f-mb-domain" name="domain_id" class="input">
                        {domains.into_iter().map(|d| view! { <option value=d.id.to_string()>{d.domain}</option> }).collect_view()}
                    </select>
                </div>
                <Field label=tr("outreach.from_address") name="from_address" kind="email" required=true error=field_error(value, "from_address")/>
                <Field label=tr("outreach.from_name") name="from_name" required=true error=field_error(value, "from_name")/>
                <Field label=tr("outreach.smtp_host") name="smtp_host" required=true error=field_error(value, "smtp_host")/>
                <Field label=tr("outreach.smtp_port") name="smtp_port" kind="number" value="587" error=field_error(value, "smtp_port")/>
                <div class="field">
                    <label for="f-mb-security" class="field-label">{tr("outreach.smtp_security")}</label>
                    <select id="f-mb-security" name="smtp_security" class="input">
                        <option value="STARTTLS">"STARTTLS"</option>
                        <option value="TLS">"TLS"</option>
                        <option value="NONE">{tr("outreach.smtp_plain")}</option>
                    </select>
                </div>
                <Field label=tr("outreach.smtp_username") name="smtp_username" error=field_error(value, "smtp_username")/>
                <Field label=tr("outreach.smtp_password") name="smtp_password" kind="password" error=field_error(value, "smtp_password")/>
                <Field label=tr("outreach.daily_cap") name="daily_cap" kind="number" value="50" error=field_error(value, "daily_cap")/>
                <Field label=tr("outreach.warmup_start") name="warmup_start" kind="number" value="10" error=field_error(value, "warmup_start")/>
                <Field label=tr("outreach.warmup_step") name="warmup_step" kind="number" value="5" hint=tr("outreach.warmup_hint") error=field_error(value, "warmup_step")/>
                <Field label=tr("outreach.min_gap_seconds") name="min_gap_seconds" kind="number" value="60" error=field_error(value, "min_gap_seconds")/>
                <div class="md:col-span-3 flex items-center gap-3">
                    <Submit label=tr("outreach.add_mailbox") pending=action.pending()/>
                    <Alert message=form_error(value, MAILBOX_FIELDS)/>
                </div>
            </ActionForm>
        </details>
    }
}
