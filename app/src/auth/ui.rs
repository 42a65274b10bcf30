//! Sign-in, sign-up and the second login step.

use super::api::{ConfirmEmail, Login, LoginTotp, RequestPasswordReset, ResetPassword, Signup};
use super::model::LoginStep;
use crate::error::AppError;
use crate::ui::{field_error, form_error, hard_redirect, tr, Alert, Field, Submit};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Only same-origin paths are followed after sign-in, so a crafted link cannot bounce
/// the user to another site. Browsers read `\\` as `/` and drop tabs and newlines from
/// URLs, and a path may be percent-encoded once more than it looks, so the test runs on
/// the decoded text as well.
pub fn safe_next(next: Option<String>) -> String {
    fn on_site(path: &str) -> bool {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains('\\')
            && !path.chars().any(char::is_control)
    }
    match next {
        Some(n)
            if on_site(&n)
                && percent_encoding::percent_decode_str(&n)
                    .decode_utf8()
                    .is_ok_and(|decoded| on_site(&decoded)) =>
        {
            n
        }
        _ => "/".to_string(),
    }
}

/// Where the second sign-in step goes, carrying the page the user came for.
pub fn totp_url(next: Option<String>) -> String {
    match safe_next(next).as_str() {
        "/" => "/login/2fa".to_string(),
        next => format!("/login/2fa?next={}", crate::encode::path(next)),
    }
}

#[component]
fn AuthCard(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <main class="auth-page">
            <div class="auth-card">
                <div class="flex items-center gap-2 mb-6">
                    <span class="brand-mark" aria-hidden="true">"L"</span>
                    <span class="text-lg font-semibold">"Leadline"</span>
                </div>
                <h1 class="page-title mb-4">{title}</h1>
                {children()}
            </div>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let value = login.value();
    Effect::new(move || match value.get() {
        Some(Ok(LoginStep::Done)) => hard_redirect(&safe_next(query.read_untracked().get("next"))),
        Some(Ok(LoginStep::NeedTotp)) => {
            hard_redirect(&totp_url(query.read_untracked().get("next")))
        }
        _ => {}
    });
    let show = RwSignal::new(false);
    let password_error = field_error(value, "password");
    let next = query.read_untracked().get("next").unwrap_or_default();
    view! {
        <AuthCard title=tr("auth.sign_in")>
            <ActionForm action=login attr:class="space-y-4" attr:novalidate=""
                        attr:data-enhanced="" attr:data-working=tr("common.working")
                        attr:data-unreachable=tr("auth.unreachable")>
                <input type="hidden" name="next" value=next/>
                <Alert message=form_error(value, &["email", "password"])/>
                <Field label=tr("auth.email") name="email" kind="email" autocomplete="username" required=true
                       error=field_error(value, "email")/>
                <div class="field">
                    <div class="flex items-center justify-between">
                        <label for="f-password" class="field-label">{tr("auth.password")}</label>
                        <button type="button" class="link text-sm" data-testid="toggle-password"
                                data-toggle-password="" aria-controls="f-password"
                                data-show=tr("auth.show") data-hide=tr("auth.hide")
                                aria-pressed=move || show.get().to_string()
                                on:click=move |_| show.update(|s| *s = !*s)>
                            {move || tr(if show.get() { "auth.hide" } else { "auth.show" })}
                        </button>
                    </div>
                    <input id="f-password" name="password" class="input" required
                           type=move || if show.get() { "text" } else { "password" }
                           autocomplete="current-password"
                           aria-invalid=move || password_error.get().is_some().then_some("true")/>
                    {move || password_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <Submit label=tr("auth.sign_in") pending=login.pending()/>
            </ActionForm>
            <p class="mt-4 text-sm"><a class="link" href="/forgot">{tr("recovery.forgot_link")}</a></p>
            <p class="mt-2 text-sm text-muted">
                {tr("auth.no_account")} " " <a class="link" href="/signup">{tr("auth.create_workspace")}</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn TotpLoginPage() -> impl IntoView {
    let action = ServerAction::<LoginTotp>::new();
    let query = use_query_map();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            hard_redirect(&safe_next(query.read_untracked().get("next")));
        }
    });
    let next = query.read_untracked().get("next").unwrap_or_default();
    view! {
        <AuthCard title=tr("auth.totp_title")>
            <p class="text-sm text-muted mb-4">{tr("auth.totp_hint")}</p>
            <ActionForm action=action attr:class="space-y-4" attr:novalidate=""
                        attr:data-enhanced="" attr:data-working=tr("common.working")
                        attr:data-unreachable=tr("auth.unreachable")>
                <input type="hidden" name="next" value=next/>
                <Alert message=form_error(value, &["code"])/>
                <Field label=tr("auth.totp_code") name="code" autocomplete="one-time-code" required=true
                       error=field_error(value, "code")/>
                <Submit label=tr("auth.verify") pending=action.pending()/>
            </ActionForm>
            <p class="mt-6 text-sm"><a class="link" href="/login">{tr("auth.back_to_sign_in")}</a></p>
        </AuthCard>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    let value = signup.value();
    let sent = succeeded(value, "sent");
    view! {
        <AuthCard title=tr("auth.create_workspace")>
            {move || sent.get().then(|| view! {
                <div class="alert alert-success" role="status" data-testid="check-email">
                    {tr("recovery.check_email")}
                </div>
                <a class="btn btn-primary mt-4" href="/login">{tr("auth.sign_in")}</a>
            })}
            <ActionForm action=signup attr:class="space-y-4" attr:novalidate="" attr:hidden=move || sent.get()
                        attr:data-enhanced="" attr:data-working=tr("common.working")
                        attr:data-unreachable=tr("auth.unreachable")>
                <Alert message=form_error(value, &["name", "company", "email", "password"])/>
                <Field label=tr("auth.name") name="name" autocomplete="name" required=true
                       error=field_error(value, "name")/>
                <Field label=tr("auth.company") name="company" autocomplete="organization" required=true
                       error=field_error(value, "company")/>
                <Field label=tr("auth.email") name="email" kind="email" autocomplete="email" required=true
                       error=field_error(value, "email")/>
                <Field label=tr("auth.password") name="password" kind="password" autocomplete="new-password"
                       required=true hint=tr("auth.password_hint") error=field_error(value, "password")/>
                <Submit label=tr("auth.create_workspace") pending=signup.pending()/>
            </ActionForm>
            <p class="mt-6 text-sm text-muted">
                {tr("auth.have_account")} " " <a class="link" href="/login">{tr("auth.sign_in")}</a>
            </p>
        </AuthCard>
    }
}

/// Whether the action's last call succeeded, or the page was reached by the redirect
/// that follows a success (`?{flag}=1`, from a form posted without the app's script);
/// changes only when that does, so a form shown until then is not rebuilt (and what
/// was typed kept) on each error.
fn succeeded(
    value: impl Get<Value = Option<Result<(), AppError>>> + Send + Sync + 'static,
    flag: &'static str,
) -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| {
        matches!(value.get(), Some(Ok(()))) || query.read().get(flag).as_deref() == Some("1")
    })
}

/// "Forgot your password": one field, and the same answer for every address.
#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let value = action.value();
    let sent = succeeded(value, "sent");
    view! {
        <AuthCard title=tr("recovery.forgot_title")>
            {move || sent.get().then(|| view! {
                <p class="alert alert-success" role="status" data-testid="reset-sent">{tr("recovery.reset_sent")}</p>
            })}
            <p class="text-sm text-muted mb-4">{tr("recovery.forgot_hint")}</p>
            <ActionForm action=action attr:class="space-y-4" attr:novalidate=""
                        attr:data-enhanced="" attr:data-working=tr("common.working")
                        attr:data-unreachable=tr("auth.unreachable")>
                <Alert message=form_error(value, &["email"])/>
                <Field label=tr("auth.email") name="email" kind="email" autocomplete="username" required=true
                       error=field_error(value, "email")/>
                <Submit label=tr("recovery.send_link") pending=action.pending()/>
            </ActionForm>
            <p class="mt-6 text-sm"><a class="link" href="/login">{tr("auth.back_to_sign_in")}</a></p>
        </AuthCard>
    }
}

#[component]
pub fn ResetPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    let value = action.value();
    let done = succeeded(value, "done");
    view! {
        <AuthCard title=tr("recovery.reset_title")>
            {move || if done.get() {
                view! {
                    <p class="alert alert-success" role="status" data-testid="reset-done">{tr("recovery.reset_done")}</p>
                    <a class="btn btn-primary mt-4" href="/login">{tr("auth.sign_in")}</a>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=action attr:class="space-y-4" attr:novalidate=""
                                attr:data-enhanced="" attr:data-working=tr("common.working")
                                attr:data-unreachable=tr("auth.unreachable")>
                        <input type="hidden" name="token" value=token()/>
                        <Alert message=form_error(value, &["password"])/>
                        <Field label=tr("recovery.new_password") name="password" kind="password" autocomplete="new-password"
                               required=true hint=tr("auth.password_hint") error=field_error(value, "password")/>
                        <Submit label=tr("recovery.set_password") pending=action.pending()/>
                    </ActionForm>
                }.into_any()
            }}
        </AuthCard>
    }
}

/// The page a confirmation link opens. Confirming takes a click (a POST), so mail
/// scanners that open links do not use it up.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<ConfirmEmail>::new();
    let value = action.value();
    let done = succeeded(value, "done");
    view! {
        <AuthCard title=tr("recovery.confirm_title")>
            {move || if done.get() {
                view! {
                    <p class="alert alert-success" role="status" data-testid="email-confirmed">{tr("recovery.confirmed")}</p>
                    <a class="btn btn-primary mt-4" href="/">{tr("recovery.continue")}</a>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=action attr:class="space-y-4" attr:novalidate=""
                                attr:data-enhanced="" attr:data-working=tr("common.working")
                                attr:data-unreachable=tr("auth.unreachable")>
                        <input type="hidden" name="token" value=token()/>
                        <Alert message=form_error(value, &[])/>
                        <Submit label=tr("recovery.confirm") pending=action.pending()/>
                    </ActionForm>
                }.into_any()
            }}
        </AuthCard>
    }
}

#[cfg(test)]
mod tests {
    use super::{safe_next, totp_url};

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/settings".into())), "/settings");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(None), "/");
        for evil in [
            "/\\evil.example",
            "/%2Fevil.example",
            "/%5Cevil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/evil.example",
            "/%0d%0aSet-Cookie:x",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(evil.into())), "/", "{evil:?}");
        }
        assert_eq!(safe_next(Some("/invite/abc".into())), "/invite/abc");
        assert_eq!(safe_next(Some("/leads?q=%D8%A3".into())), "/leads?q=%D8%A3");
        assert_eq!(
            totp_url(Some("/invite/abc".into())),
            "/login/2fa?next=/invite/abc"
        );
        assert_eq!(totp_url(Some("//evil".into())), "/login/2fa");
    }
}
