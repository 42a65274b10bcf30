//! The team page (members, roles, invites) and the invite-acceptance page.

use super::api::*;
use super::model::*;
use crate::auth::api::SwitchTenant;
use crate::auth::model::{Permission, Role};
use crate::i18n::tf;
use crate::ui::{
    field_error, form_error, hard_redirect, locale, page, tr, Alert, Badge, Card, Field, LoadError,
    PageHeader, Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TeamPage() -> impl IntoView {
    let viewer = page().viewer.expect("settings render only for a viewer");
    let can_manage = viewer.can(Permission::TeamManage);
    let my_role = viewer.role;
    let invite = ServerAction::<CreateInvite>::new();
    let resend = ServerAction::<ResendInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let role = ServerAction::<ChangeRole>::new();
    let active = ServerAction::<SetMemberActive>::new();
    let grant = ServerAction::<SetInventoryGrant>::new();
    let manager = ServerAction::<SetManager>::new();
    let team = Resource::new(
        move || {
            (
                invite.version().get(),
                resend.version().get(),
                revoke.version().get(),
                role.version().get(),
                active.version().get(),
                grant.version().get(),
                manager.version().get(),
            )
        },
        |_| get_team(),
    );
    let invite_value = invite.value();
    let last_link = Signal::derive(move || match (invite_value.get(), resend.value().get()) {
        (_, Some(Ok(link))) | (Some(Ok(link)), _) => Some(link),
        _ => None,
    });
    let roles_i_can_grant: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner && *r <= viewer.role)
        .collect();
    let change_error = Signal::derive(move || {
        role.value()
            .get()
            .and_then(Result::err)
            .or_else(|| active.value().get().and_then(Result::err))
            .or_else(|| grant.value().get().and_then(Result::err))
            .or_else(|| manager.value().get().and_then(Result::err))
            .map(|e| e.to_string())
    });
    view! {
        <PageHeader title=tr("settings.team")/>
        {can_manage.then(|| view! {
            <Card title=tr("team.invite")>
                <ActionForm action=invite attr:class="grid gap-3 md:grid-cols-[1fr_12rem_auto] items-start" attr:novalidate="">
                    <Field label=tr("auth.email") name="email" kind="email" required=true error=field_error(invite_value, "email")/>
                    <div class="field">
                        <label for="f-role" class="field-label">{tr("team.role")}</label>
                        <select id="f-role" name="role" class="input">
                            {roles_i_can_grant.iter().rev().map(|r| view! { <option value=r.as_str() selected=*r == Role::Sales>{tr(r.label_key())}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="pt-6"><Submit label=tr("team.send_invite") pending=invite.pending()/></div>
                </ActionForm>
                <Alert message=form_error(invite_value, &["email", "role"])/>
                {move || last_link.get().map(|link| view! {
                    <div class="alert alert-success mt-3" role="status">
                        <p>{tr("team.invite_link_for")} " " <strong>{link.email.clone()}</strong></p>
                        <input class="input mt-2 font-mono text-xs" readonly value=link.url.clone()
                               data-testid="invite-link" aria-label=tr("team.invite_link")/>
                        <p class="text-xs mt-1">{tr("team.invite_link_hint")}</p>
                    </div>
                })}
            </Card>
        })}
        <Alert message=change_error/>
        <Suspense fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match team.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(team) => view! {
                        <p class="text-sm text-muted my-3" data-testid="seats">
                            {tf(locale(), "team.seats_line", &[
                                ("used", team.seats_used.to_string()),
                                ("invited", team.invites.iter().filter(|i| !i.expired).count().to_string()),
                                ("limit", team.seats_limit.to_string()),
                                ("plan", team.plan_name.clone()),
                            ])}
                        </p>
                        <div class="table-wrap">
                            <table class="table">
                                <thead><tr>
                                    <th scope="col">{tr("team.name")}</th>
                                    <th scope="col">{tr("team.role")}</th>
                                    <th scope="col">{tr("team.status")}</th>
                                    <th scope="col">{tr("team.manager")}</th>
                                    <th scope="col">{tr("team.plans")}</th>
                                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                                </tr></thead>
                                <tbody>
                                    {team.members.iter().cloned().map(|m| {
                                        let leaders = leaders(&team.members, &m);
                                        member_row(m, can_manage, my_role, MemberActions { role, active, grant, manager }, leaders)
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <Card title=tr("team.lines")>
                            <p class="text-sm text-muted mb-2">{tr("team.lines_hint")}</p>
                            <ul class="space-y-1" data-testid="reporting-lines">
                                {hierarchy(&team.members).into_iter().map(|(depth, m)| view! {
                                    <li class="flex items-center gap-2" style=format!("padding-inline-start: {}rem", depth as f32 * 1.5)
                                        data-depth=depth.to_string()>
                                        {(depth > 0).then(|| view! { <span aria-hidden="true" class="text-muted">"↳"</span> })}
                                        <span class="font-medium">{m.name.clone()}</span>
                                        <Badge text=tr(m.role.label_key())/>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </Card>
                        {(!team.invites.is_empty()).then(|| view! {
                            <h2 class="card-title mt-6">{tr("team.pending_invites")}</h2>
                            <ul class="divide-y divide-line card">
                                {team.invites.into_iter().map(|i| view! {
                                    <li class="flex flex-wrap items-center gap-3 py-2">
                                        <span class="grow">{i.email.clone()}</span>
                                        <Badge text=tr(i.role.label_key())/>
                                        {i.expired.then(|| view! { <Badge text=tr("invite.expired_badge") tone="warning"/> })}
                                        {can_manage.then(|| view! {
                                            <ActionForm action=resend>
                                                <input type="hidden" name="invite_id" value=i.id.to_string()/>
                                                <button class="btn btn-ghost" type="submit">{tr("team.resend")}</button>
                                            </ActionForm>
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="invite_id" value=i.id.to_string()/>
                                                <button class="btn btn-danger-ghost" type="submit">{tr("team.revoke")}</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The actions an admin takes on a member's row.
#[derive(Clone, Copy)]
struct MemberActions {
    role: ServerAction<ChangeRole>,
    active: ServerAction<SetMemberActive>,
    grant: ServerAction<SetInventoryGrant>,
    manager: ServerAction<SetManager>,
}

/// Whom `member` may report to: active managers and above, other than themselves.
fn leaders(members: &[Member], member: &Member) -> Vec<(uuid::Uuid, String)> {
    members
        .iter()
        .filter(|m| m.can_lead() && m.user_id != member.user_id)
        .map(|m| (m.user_id, m.name.clone()))
        .collect()
}

fn member_row(
    m: Member,
    can_manage: bool,
    my_role: Role,
    actions: MemberActions,
    leaders: Vec<(uuid::Uuid, String)>,
) -> impl IntoView {
    let MemberActions {
        role,
        active,
        grant,
        manager,
    } = actions;
    let manager_cell = manager_cell(&m, can_manage, manager, leaders);
    // The same rules the server enforces: never oneself, and only an owner touches
    // an owner or hands out more than they hold.
    let editable = can_manage && !m.is_self && m.role <= my_role;
    let id = m.membership_id.to_string();
    let plans = plans_cell(&m, can_manage, grant);
    view! {
        <tr>
            <td>
                <div class="font-medium">{m.name.clone()}</div>
                <div class="text-muted text-sm">{m.email.clone()}</div>
            </td>
            <td>
                {if editable {
                    let current = m.role;
                    let id = id.clone();
                    view! {
                        <ActionForm action=role attr:class="flex gap-2">
                            <input type="hidden" name="membership_id" value=id.clone()/>
                            <label class="sr-only" for=format!("role-{id}")>{format!("{} — {}", tr("team.role"), m.name)}</label>
                            <select id=format!("role-{id}") name="role" class="input w-auto">
                                {Role::ALL.into_iter().filter(|r| *r <= my_role).map(|r| view! { <option value=r.as_str() selected=r == current>{tr(r.label_key())}</option> }).collect_view()}
                            </select>
                            <button class="btn btn-ghost" type="submit">{tr("common.save")}</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! { <Badge text=tr(m.role.label_key())/> }.into_any()
                }}
            </td>
            <td>
                {if m.active {
                    view! { <Badge text=tr("team.active") tone="success"/> }.into_any()
                } else {
                    view! { <Badge text=tr("team.deactivated") tone="warning"/> }.into_any()
                }}
            </td>
            <td>{manager_cell}</td>
            <td>{plans}</td>
            <td class="text-end">
                {editable.then(|| view! {
                    <ActionForm action=active>
                        <input type="hidden" name="membership_id" value=id.clone()/>
                        <input type="hidden" name="active" value=(!m.active).to_string()/>
                        <button class=if m.active { "btn btn-danger-ghost" } else { "btn btn-ghost" } type="submit">
                            {tr(if m.active { "team.deactivate" } else { "team.reactivate" })}
                        </button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

/// Whom the member reports to: a choice for those who manage the team, a name for
/// everyone else.
fn manager_cell(
    m: &Member,
    can_manage: bool,
    action: ServerAction<SetManager>,
    leaders: Vec<(uuid::Uuid, String)>,
) -> AnyView {
    let current = m.manager_id;
    if !can_manage {
        let name = leaders
            .into_iter()
            .find(|(id, _)| Some(*id) == current)
            .map(|(_, name)| name);
        return view! { <span class="text-sm">{name.unwrap_or_else(|| tr("team.no_manager"))}</span> }
            .into_any();
    }
    let id = m.membership_id.to_string();
    let select_id = format!("manager-{id}");
    let label = format!("{} — {}", tr("team.manager"), m.name);
    view! {
        <ActionForm action attr:class="flex gap-2">
            <input type="hidden" name="membership_id" value=id/>
            <label class="sr-only" for=select_id.clone()>{label}</label>
            <select id=select_id name="manager" class="input w-auto">
                <option value="" selected=current.is_none()>{tr("team.no_manager")}</option>
                {leaders.into_iter().map(|(id, name)| view! {
                    <option value=id.to_string() selected=Some(id) == current>{name}</option>
                }).collect_view()}
            </select>
            <button class="btn btn-ghost" type="submit">{tr("common.save")}</button>
        </ActionForm>
    }
    .into_any()
}

/// Whether the member may draw plans: by role (admins and owners), or by an admin's
/// grant, which an admin gives and takes here.
fn plans_cell(m: &Member, can_manage: bool, grant: ServerAction<SetInventoryGrant>) -> AnyView {
    if Permission::InventoryEdit.allowed_for(m.role) {
        return view! { <span class="text-muted text-sm">{tr("team.plans_by_role")}</span> }
            .into_any();
    }
    let badge = m
        .inventory_grant
        .then(|| view! { <Badge text=tr("team.plans_granted") tone="success"/> });
    let toggle = can_manage.then(|| {
        let label = if m.inventory_grant {
            "team.plans_revoke"
        } else {
            "team.plans_allow"
        };
        let (id, granted, name) = (
            m.membership_id.to_string(),
            (!m.inventory_grant).to_string(),
            format!(" — {}", m.name),
        );
        view! {
            <ActionForm action=grant>
                <input type="hidden" name="membership_id" value=id/>
                <input type="hidden" name="granted" value=granted/>
                <button class="btn btn-ghost" type="submit">
                    {tr(label)}<span class="sr-only">{name}</span>
                </button>
            </ActionForm>
        }
    });
    view! { <div class="flex flex-wrap items-center gap-2">{badge}{toggle}</div> }.into_any()
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let state = Resource::new(token, lookup_invite);
    view! {
        <main class="auth-page">
            <div class="auth-card">
                <Suspense fallback=|| view! { <Skeleton lines=3/> }>
                    {move || Suspend::new(async move {
                        match state.await {
                            Err(e) => view! { <LoadError error=e/> }.into_any(),
                            Ok(InviteState::Open { tenant_name, email, role, viewer }) => view! {
                                <AcceptForm token=token() tenant_name email role viewer/>
                            }.into_any(),
                            Ok(InviteState::Joined { tenant_id, tenant_name }) => view! {
                                <Joined tenant_id tenant_name/>
                            }.into_any(),
                            Ok(closed) => {
                                let key = match closed {
                                    InviteState::Expired => "invite.expired",
                                    InviteState::Revoked => "invite.revoked",
                                    InviteState::Used => "invite.used",
                                    _ => "invite.unknown",
                                };
                                view! {
                                    <h1 class="page-title" data-testid="invite-closed">{tr("invite.closed_title")}</h1>
                                    <p class="mt-2">{tr(key)}</p>
                                    <a class="btn btn-primary mt-4" href="/login">{tr("auth.sign_in")}</a>
                                }.into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// Where the sign-in page sends the invitee back to.
fn sign_in_url(token: &str) -> String {
    format!(
        "/login?next={}",
        crate::encode::path(&format!("/invite/{token}"))
    )
}

#[component]
fn AcceptForm(
    token: String,
    tenant_name: String,
    email: String,
    role: Role,
    viewer: InviteViewer,
) -> impl IntoView {
    let accept = ServerAction::<AcceptInvite>::new();
    let value = accept.value();
    let next = sign_in_url(&token);
    Effect::new({
        let next = next.clone();
        move || match value.get() {
            Some(Ok(InviteOutcome::Joined)) => hard_redirect("/"),
            Some(Ok(InviteOutcome::SignInNext)) => hard_redirect(&next),
            _ => {}
        }
    });
    let body = match viewer {
        InviteViewer::Invited => view! {
            <p class="text-sm mt-3">{tf(locale(), "invite.signed_in_as", &[("email", email.clone())])}</p>
            <ActionForm action=accept attr:class="space-y-4 mt-4" attr:novalidate="">
                <input type="hidden" name="token" value=token/>
                <input type="hidden" name="name" value=""/>
                <input type="hidden" name="password" value=""/>
                <Alert message=form_error(value, &[])/>
                <Submit label=tr("invite.join") pending=accept.pending()/>
            </ActionForm>
        }
        .into_any(),
        InviteViewer::Other { email: current } => view! {
            <p class="alert alert-warning mt-3" role="status">
                {tf(locale(), "invite.wrong_account", &[("email", email.clone()), ("current", current)])}
            </p>
        }
        .into_any(),
        InviteViewer::SignedOut => view! {
            <p class="text-sm mt-3">{tr("invite.new_account")}</p>
            <ActionForm action=accept attr:class="space-y-4 mt-4" attr:novalidate="">
                <input type="hidden" name="token" value=token/>
                <Alert message=form_error(value, &["name", "password"])/>
                <Field label=tr("auth.name") name="name" autocomplete="name" required=true error=field_error(value, "name")/>
                <Field label=tr("auth.password") name="password" kind="password" autocomplete="new-password"
                       required=true hint=tr("auth.password_hint") error=field_error(value, "password")/>
                <Submit label=tr("invite.accept") pending=accept.pending()/>
            </ActionForm>
            <p class="text-sm text-muted mt-6">{tr("invite.have_account")}</p>
            <a class="btn btn-secondary mt-2" href=next data-testid="invite-sign-in">{tr("invite.sign_in_to_join")}</a>
        }
        .into_any(),
    };
    view! {
        <h1 class="page-title">{tr("invite.join")} " " {tenant_name}</h1>
        <p class="text-sm text-muted mt-1">{email} " · " {tr(role.label_key())}</p>
        {body}
    }
}

/// The invitee is already in: one click switches to the workspace.
#[component]
fn Joined(tenant_id: uuid::Uuid, tenant_name: String) -> impl IntoView {
    let switch = ServerAction::<SwitchTenant>::new();
    let value = switch.value();
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            hard_redirect("/");
        }
    });
    view! {
        <h1 class="page-title" data-testid="invite-joined">{tf(locale(), "invite.joined", &[("tenant", tenant_name)])}</h1>
        <ActionForm action=switch attr:class="mt-4">
            <input type="hidden" name="tenant_id" value=tenant_id.to_string()/>
            <Alert message=form_error(value, &[])/>
            <Submit label=tr("invite.open_workspace") pending=switch.pending()/>
        </ActionForm>
    }
}
