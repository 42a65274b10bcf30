//! The sending IP pool: each address with its state, warm-up, blocklist answers and
//! domains, and the forms that change them.

use super::*;
use crate::staff::sending_ips::*;

fn status_tone(status: IpStatus) -> &'static str {
    match status {
        IpStatus::Warmed => "success",
        IpStatus::Available | IpStatus::Warming => "neutral",
        IpStatus::Degraded => "warning",
        IpStatus::Burned | IpStatus::Quarantined => "danger",
    }
}

fn reputation_tone(reputation: Reputation) -> &'static str {
    match reputation {
        Reputation::Good => "success",
        Reputation::Fair => "warning",
        Reputation::Poor | Reputation::Critical => "danger",
    }
}

#[component]
pub fn StaffIpsPage() -> impl IntoView {
    let l = locale();
    // Every form reports here; a change anywhere reloads the pool.
    let changed = RwSignal::new(0u32);
    // Which domains a state change moved off an address: kept here, above the cards,
    // because the reload that follows the change draws the cards anew.
    let notice = RwSignal::new(None::<String>);
    let add = ServerAction::<AddSendingIp>::new();
    let pool = Resource::new(
        move || (changed.get(), add.version().get()),
        |_| staff_sending_ips(),
    );
    view! {
        <PageHeader title=tr("staff.ips")/>
        {move || notice.get().map(|text| view! { <p class="alert alert-warning" role="status">{text}</p> })}
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match pool.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(p) => {
                        let can = p.can_manage;
                        let zones = tf(l, "staff.ips.zones", &[("zones", p.zones.join(", "))]);
                        let empty = p.ips.is_empty();
                        view! {
                            <p class="text-sm text-muted mb-3" data-testid="dnsbl-zones">{zones}</p>
                            {can.then(|| view! { <AddForm add/> })}
                            {empty.then(|| view! { <p class="text-muted">{tr("staff.ips.empty")}</p> })}
                            {p.ips.into_iter().map(|ip| view! { <IpCard ip can changed notice/> }).collect_view()}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn AddForm(add: ServerAction<AddSendingIp>) -> impl IntoView {
    let l = locale();
    let address_error = field_error(add.value(), "address");
    let note_error = field_error(add.value(), "note");
    view! {
        <Card title=t(l, "staff.ips.add")>
            <Alert message=form_error(add.value(), &["address", "note"])/>
            <ActionForm action=add attr:class="flex flex-wrap items-end gap-3">
                <div class="field mb-0">
                    <label for="ip-address" class="field-label">{tr("staff.ips.address")}</label>
                    <input id="ip-address" name="address" class="input" dir="ltr" required maxlength="45"
                           aria-describedby="ip-address-hint ip-address-error"/>
                    <p id="ip-address-hint" class="field-hint">{tr("staff.ips.address_hint")}</p>
                    {move || address_error.get().map(|m| view! { <p id="ip-address-error" class="field-error" role="alert">{m}</p> })}
                </div>
                <div class="field mb-0">
                    <label for="ip-note" class="field-label">{tr("staff.ips.note")}</label>
                    <input id="ip-note" name="note" class="input" maxlength="500" aria-describedby="ip-note-error"/>
                    {move || note_error.get().map(|m| view! { <p id="ip-note-error" class="field-error" role="alert">{m}</p> })}
                </div>
                <button type="submit" class="btn btn-primary">{tr("staff.ips.add_button")}</button>
            </ActionForm>
        </Card>
    }
}

/// Reloads the pool once `succeeded` turns true (an action's answer came back Ok).
fn reload_when(succeeded: impl Fn() -> bool + Send + Sync + 'static, changed: RwSignal<u32>) {
    Effect::new(move || {
        if succeeded() {
            changed.update(|n| *n += 1);
        }
    });
}

#[component]
fn IpCard(
    ip: SendingIp,
    can: bool,
    changed: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let l = locale();
    let id = format!("ip-{}", ip.id.simple());
    let address = ip.address.clone();
    let status_text = t(l, &format!("staff.ips.status.{}", ip.status.key()));
    let reputation = ip.reputation.map(|r| {
        (
            tf(
                l,
                "staff.ips.reputation_is",
                &[("grade", t(l, &format!("staff.ips.rep.{}", r.key())))],
            ),
            reputation_tone(r),
        )
    });
    let warmup = ip.warmup.map(|w| {
        tf(
            l,
            "staff.ips.warmup",
            &[
                ("day", l10n::integer(l, i64::from(w.day))),
                ("days", l10n::integer(l, i64::from(WARMUP_DAYS))),
                ("cap", l10n::integer(l, i64::from(w.daily_cap))),
            ],
        )
    });
    let checked = ip.checked_at.map_or_else(
        || t(l, "staff.ips.never_checked"),
        |at| tf(l, "staff.ips.checked", &[("at", when(at))]),
    );
    view! {
        <section class="card" data-testid="sending-ip" data-address=address.clone() aria-labelledby=format!("{id}-title")>
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="card-title mb-0" id=format!("{id}-title") dir="ltr">{address.clone()}</h2>
                <Badge text=status_text tone=status_tone(ip.status)/>
                {reputation.map(|(text, tone)| view! { <Badge text tone/> })}
            </div>
            {ip.note.clone().map(|n| view! { <p class="text-sm text-muted"><bdi>{n}</bdi></p> })}
            {ip.status_note.clone().map(|n| view! { <p class="text-sm" data-testid="status-note">{n}</p> })}
            {warmup.map(|w| view! { <p class="text-sm" data-testid="warmup">{w}</p> })}
            <Blocklists answers=ip.blocklists.clone() checked/>
            <Domains address=address.clone() domains=ip.domains.clone() can changed/>
            {can.then(|| view! { <IpForms ip_id=ip.id address=address.clone() status=ip.status changed notice/> })}
        </section>
    }
}

#[component]
fn Blocklists(answers: Vec<BlocklistAnswer>, checked: String) -> impl IntoView {
    let l = locale();
    view! {
        <table class="table mt-3" data-testid="blocklists">
            <caption class="text-start text-sm font-semibold">{checked}</caption>
            {(!answers.is_empty()).then(|| view! {
                <thead><tr>
                    <th scope="col">{tr("staff.ips.col.list")}</th>
                    <th scope="col">{tr("staff.ips.col.answer")}</th>
                </tr></thead>
            })}
            <tbody>
                {answers.into_iter().map(|a| {
                    let verdict = match a.verdict.as_str() {
                        "listed" => tf(l, "staff.ips.listed", &[("codes", a.codes.join(", "))]),
                        "clear" => t(l, "staff.ips.clear"),
                        _ => t(l, "staff.ips.unknown"),
                    };
                    view! {
                        <tr>
                            <th scope="row" dir="ltr"><code>{a.zone.clone()}</code></th>
                            <td>
                                {verdict}
                                {a.reason.clone().map(|r| view! { <div class="text-xs text-muted" dir="ltr">{r}</div> })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Domains(
    address: String,
    domains: Vec<IpAssignment>,
    can: bool,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let l = locale();
    let remove = ServerAction::<UnassignIpDomain>::new();
    reload_when(
        move || matches!(remove.value().get(), Some(Ok(()))),
        changed,
    );
    if domains.is_empty() {
        return view! { <p class="text-sm text-muted mt-2">{tr("staff.ips.no_domains")}</p> }
            .into_any();
    }
    view! {
        <table class="table mt-3" data-testid="ip-domains">
            <caption class="text-start text-sm font-semibold">{tf(l, "staff.ips.domains_of", &[("address", address)])}</caption>
            <thead><tr>
                <th scope="col">{tr("staff.ips.col.domain")}</th>
                <th scope="col">{tr("staff.col.workspace")}</th>
                <th scope="col">{tr("staff.ips.col.since")}</th>
                {can.then(|| view! { <th scope="col">{tr("staff.col.remove")}</th> })}
            </tr></thead>
            <tbody>
                {domains.into_iter().map(|d| view! {
                    <tr>
                        <th scope="row" dir="ltr">{d.domain.clone()}</th>
                        <td><bdi>{d.workspace.clone()}</bdi><div class="text-xs text-muted">{d.slug.clone()}</div></td>
                        <td>{when(d.assigned_at)}</td>
                        {can.then(|| view! {
                            <td>
                                <ActionForm action=remove>
                                    <input type="hidden" name="assignment" value=d.id.to_string()/>
                                    <button type="submit" class="btn">{tf(l, "staff.ips.unassign", &[("domain", d.domain.clone())])}</button>
                                </ActionForm>
                            </td>
                        })}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <Alert message=form_error(remove.value(), &[])/>
    }
    .into_any()
}

#[component]
fn IpForms(
    ip_id: uuid::Uuid,
    address: String,
    status: IpStatus,
    changed: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let l = locale();
    let id = format!("ip-{}", ip_id.simple());
    let set = ServerAction::<SetIpStatus>::new();
    let check = ServerAction::<CheckSendingIp>::new();
    let assign = ServerAction::<AssignIpDomain>::new();
    reload_when(move || matches!(set.value().get(), Some(Ok(_))), changed);
    reload_when(move || matches!(check.value().get(), Some(Ok(()))), changed);
    reload_when(
        move || matches!(assign.value().get(), Some(Ok(()))),
        changed,
    );
    Effect::new(move || {
        if let Some(Ok(domains)) = set.value().get() {
            notice.set((!domains.is_empty()).then(|| {
                tf(
                    l,
                    "staff.ips.domains_ended",
                    &[("domains", domains.join(", "))],
                )
            }));
        }
    });
    let workspace_error = field_error(assign.value(), "workspace");
    let domain_error = field_error(assign.value(), "domain");
    let label = |key: &str| tf(l, key, &[("address", address.clone())]);
    let (status_label, reason_label, save_label, check_label, assign_label) = (
        label("staff.ips.status_of"),
        label("staff.ips.reason_for"),
        label("staff.ips.save_status"),
        label("staff.ips.check_now"),
        label("staff.ips.assign"),
    );
    let (wid, did, sid, rid) = (
        format!("{id}-workspace"),
        format!("{id}-domain"),
        format!("{id}-status"),
        format!("{id}-reason"),
    );
    let (werr, derr) = (format!("{wid}-error"), format!("{did}-error"));
    let (werr_p, derr_p) = (werr.clone(), derr.clone());
    view! {
        <div class="mt-3 space-y-3">
            <ActionForm action=set attr:class="flex flex-wrap items-end gap-3">
                <input type="hidden" name="id" value=ip_id.to_string()/>
                <div class="field mb-0">
                    <label for=sid.clone() class="field-label">{status_label}</label>
                    <select id=sid.clone() name="status" class="input">
                        {IpStatus::ALL.into_iter().map(|s| view! {
                            <option value=s.key() selected=s == status>{t(l, &format!("staff.ips.status.{}", s.key()))}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field mb-0">
                    <label for=rid.clone() class="field-label">{reason_label}</label>
                    <input id=rid name="reason" class="input" maxlength="500"/>
                </div>
                <button type="submit" class="btn btn-primary">{save_label}</button>
            </ActionForm>
            <Alert message=form_error(set.value(), &[])/>
            <ActionForm action=check>
                <input type="hidden" name="id" value=ip_id.to_string()/>
                <button type="submit" class="btn">{check_label}</button>
            </ActionForm>
            <Alert message=form_error(check.value(), &[])/>
            {status.takes_domains().then(|| view! {
                <ActionForm action=assign attr:class="flex flex-wrap items-end gap-3">
                    <input type="hidden" name="id" value=ip_id.to_string()/>
                    <div class="field mb-0">
                        <label for=wid.clone() class="field-label">{tr("staff.workspace_address")}</label>
                        <input id=wid.clone() name="workspace" class="input" required dir="ltr" aria-describedby=werr/>
                        {move || workspace_error.get().map(|m| view! { <p id=werr_p.clone() class="field-error" role="alert">{m}</p> })}
                    </div>
                    <div class="field mb-0">
                        <label for=did.clone() class="field-label">{tr("staff.ips.sending_domain")}</label>
                        <input id=did.clone() name="domain" class="input" required dir="ltr" aria-describedby=derr/>
                        {move || domain_error.get().map(|m| view! { <p id=derr_p.clone() class="field-error" role="alert">{m}</p> })}
                    </div>
                    <button type="submit" class="btn">{assign_label}</button>
                </ActionForm>
            })}
            <Alert message=form_error(assign.value(), &["workspace", "domain"])/>
        </div>
    }
}
