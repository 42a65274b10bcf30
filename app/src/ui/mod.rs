//! Shared components: form fields, buttons, alerts, cards, page headers, states.

use crate::auth::model::PageContext;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use leptos::prelude::*;

mod date_picker;
pub use date_picker::{first_weekday, DatePicker};

/// The request's page context (locale, viewer), provided once by `App`.
pub fn page() -> PageContext {
    use_context::<PageContext>().unwrap_or_default()
}

/// The page's language: its own context (`App` provides it), because every `tr` asks
/// and cloning the whole [`PageContext`] with its viewer for each of them was a
/// share of a signed-in page's render (issue 16).
pub fn locale() -> Locale {
    use_context::<Locale>().unwrap_or_else(|| page().locale)
}

/// The string for `key` in the page's language.
pub fn tr(key: &str) -> String {
    t(locale(), key)
}

/// A message with its filled-in values each in `<bdi>`: a Latin task name and a date
/// inside an Arabic sentence (or an Arabic name in an English one) keep their order.
pub fn isolated(key: &str, args: &[(&str, String)]) -> impl IntoView {
    crate::i18n::tf_parts(locale(), key, args)
        .into_iter()
        .map(|(value, text)| {
            if value {
                view! { <bdi>{text}</bdi> }.into_any()
            } else {
                text.into_any()
            }
        })
        .collect_view()
}

/// The viewer's time zone (UTC before sign-in).
pub fn zone() -> String {
    page()
        .viewer
        .map(|v| v.timezone)
        .unwrap_or_else(|| "UTC".to_string())
}

/// An instant as a day and time in the viewer's zone and language:
/// `Dec 2, 2026, 9:00 AM`, `2 de dez. de 2026 09:00`.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    let ctx = page();
    let zone = ctx.viewer.as_ref().map_or("UTC", |v| v.timezone.as_str());
    crate::l10n::date_time(ctx.locale, crate::l10n::to_local(zone, at))
}

/// Like [`when`], to the second: for logs.
pub fn when_seconds(at: chrono::DateTime<chrono::Utc>) -> String {
    let ctx = page();
    let zone = ctx.viewer.as_ref().map_or("UTC", |v| v.timezone.as_str());
    crate::l10n::date_time_seconds(ctx.locale, crate::l10n::to_local(zone, at))
}

/// The day an instant falls on in the viewer's zone: `Dec 2, 2026`.
pub fn day_of(at: chrono::DateTime<chrono::Utc>) -> String {
    let ctx = page();
    let zone = ctx.viewer.as_ref().map_or("UTC", |v| v.timezone.as_str());
    crate::l10n::date(ctx.locale, crate::l10n::to_local(zone, at).date())
}

/// The time of day of an instant in the viewer's zone: `3:30 PM`.
pub fn clock(at: chrono::DateTime<chrono::Utc>) -> String {
    let ctx = page();
    let zone = ctx.viewer.as_ref().map_or("UTC", |v| v.timezone.as_str());
    crate::l10n::time(ctx.locale, crate::l10n::to_local(zone, at).time())
}

/// A calendar day (a close date, a period's end), which has no zone.
pub fn day(date: chrono::NaiveDate) -> String {
    crate::l10n::date(locale(), date)
}

/// A full navigation, used after sign-in, sign-out and switches of tenant or
/// language: everything on the page depends on who is signed in where.
pub fn hard_redirect(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// The message for one field from the last result of an action.
pub fn field_error<T, S>(value: S, field: &'static str) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || match value.get() {
        Some(Err(err)) => err.for_field(field),
        _ => None,
    })
}

/// The message of an error that belongs to no field of the form.
pub fn form_error<T, S>(value: S, fields: &'static [&'static str]) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || match value.get() {
        Some(Err(AppError::Validation { field, .. })) if fields.contains(&field.as_str()) => None,
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    })
}

#[component]
pub fn Field(
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = format!("f-{name}");
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    // Dates get the picker whose weeks start on the language's first day.
    let picker =
        matches!(kind, "date" | "datetime-local").then(|| view! { <DatePicker input=id.clone()/> });
    view! {
        <div class="field">
            <label for=id.clone() class="field-label">{label}</label>
            <div class="flex items-center gap-1">
                <input
                    id=id
                    name=name
                    type=kind
                    value=value
                    autocomplete=autocomplete
                    required=required
                    class="input"
                    class:input-invalid=move || error.get().is_some()
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=move || if error.get().is_some() { err_id.clone() } else { hint_id.clone() }
                />
                {picker}
            </div>
            {hint.map(|h| view! { <p id=format!("f-{name}-hint") class="field-hint">{h}</p> })}
            {move || error.get().map(|e| view! { <p id=format!("f-{name}-error") class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

#[component]
pub fn Submit(#[prop(into)] label: String, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    view! {
        <button type="submit" class="btn btn-primary" disabled=move || pending.get() aria-busy=move || pending.get().then_some("true")>
            {move || if pending.get() { tr("common.working") } else { label.clone() }}
        </button>
    }
}

#[component]
pub fn Alert(
    #[prop(into)] message: Signal<Option<String>>,
    #[prop(default = "danger")] tone: &'static str,
) -> impl IntoView {
    view! {
        {move || message.get().map(|m| view! { <div class=format!("alert alert-{tone}") role="alert">{m}</div> })}
    }
}

#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <h1 class="page-title">{title}</h1>
            <div class="flex items-center gap-2">{children.map(|c| c())}</div>
        </header>
    }
}

#[component]
pub fn Card(#[prop(optional, into)] title: Option<String>, children: Children) -> impl IntoView {
    view! {
        <section class="card">
            {title.map(|t| view! { <h2 class="card-title">{t}</h2> })}
            {children()}
        </section>
    }
}

#[component]
pub fn Skeleton(#[prop(default = 3)] lines: usize) -> impl IntoView {
    view! {
        <div class="space-y-3" aria-busy="true" aria-label=tr("common.loading")>
            {(0..lines).map(|_| view! { <div class="skeleton h-4 w-full"></div> }).collect_view()}
        </div>
    }
}

/// What went wrong loading a section, and a way to try again.
#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    view! {
        <div class="alert alert-danger" role="alert">
            <p>{error.to_string()}</p>
            <a class="underline" href="">{tr("common.retry")}</a>
        </div>
    }
}

#[component]
pub fn Badge(
    #[prop(into)] text: String,
    #[prop(default = "neutral")] tone: &'static str,
) -> impl IntoView {
    view! { <span class=format!("badge badge-{tone}")>{text}</span> }
}

/// Horizontal bars, one per row: label, bar and value. A grid rather than a drawing, so
/// a long label (a sequence or step name) is cut with an ellipsis and the full name in
/// its tooltip instead of running over the bar, and the columns follow the text
/// direction (the label on the right in Arabic).
#[component]
pub fn Bars(
    rows: Vec<(String, f64, String, String)>,
    #[prop(into)] label: String,
) -> impl IntoView {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1.0);
    view! {
        <figure class="bars">
            <figcaption class="sr-only">{label}</figcaption>
            <ul class="space-y-1.5">
                {rows.into_iter().map(|(name, value, color, text)| {
                    let width = format!("width: {:.1}%; background: {color}", (value / max * 100.0).max(0.5));
                    let full = name.clone();
                    view! {
                        <li class="bar-row" data-testid="bar-row">
                            <span class="bar-label" title=full><bdi>{name}</bdi></span>
                            <span class="bar-track" aria-hidden="true"><span class="bar-fill" style=width></span></span>
                            <span class="bar-value"><bdi>{text}</bdi></span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </figure>
    }
}

/// A figure over days: its latest value large, and a line of every day kept. The line
/// is an image named by what it shows from first to last ("Paying workspaces: 3 on
/// Nov 1, 2026 to 5 on Dec 7, 2026"); a single day is drawn as a dot. Time runs left
/// to right in every language, as on a calendar's axis.
#[component]
pub fn Trend(
    #[prop(into)] label: String,
    /// Each day's value, oldest first, with the text it is read as.
    points: Vec<(chrono::NaiveDate, f64, String)>,
) -> impl IntoView {
    let l = locale();
    let (Some(first), Some(last)) = (points.first().cloned(), points.last().cloned()) else {
        return ().into_any();
    };
    let summary = tf(
        l,
        "common.trend",
        &[
            ("what", label.clone()),
            ("from", first.2.clone()),
            ("since", day(first.0)),
            ("to", last.2.clone()),
            ("until", day(last.0)),
        ],
    );
    let (width, height) = (300.0_f64, 60.0_f64);
    let low = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let high = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = (high - low).max(1.0);
    let days = (last.0 - first.0).num_days().max(1) as f64;
    let at = |p: &(chrono::NaiveDate, f64, String)| {
        let x = (p.0 - first.0).num_days() as f64 / days * width;
        let y = height - 4.0 - (p.1 - low) / span * (height - 8.0);
        (x, y)
    };
    let line = if points.len() == 1 {
        let (_, y) = at(&last);
        view! { <circle cx=width / 2.0 cy=y r="3" fill="currentColor"/> }.into_any()
    } else {
        let path = points
            .iter()
            .map(|p| {
                let (x, y) = at(p);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        view! {
            <polyline points=path fill="none" stroke="currentColor" stroke-width="2"
                vector-effect="non-scaling-stroke" stroke-linejoin="round"/>
        }
        .into_any()
    };
    view! {
        <figure class="card" data-testid="trend">
            <figcaption class="text-sm text-muted">{label}</figcaption>
            <p class="text-2xl font-semibold"><bdi>{last.2.clone()}</bdi></p>
            <svg role="img" aria-label=summary viewBox=format!("0 0 {width} {height}") preserveAspectRatio="none"
                class="mt-2 h-16 w-full text-brand" dir="ltr">
                {line}
            </svg>
        </figure>
    }
    .into_any()
}

/// The browser's clock, read after hydration and every 30 seconds; `None` while the
/// page renders on the server and hydrates, so both use the data's own clock and
/// produce the same HTML. "Today" and "Overdue" then follow the viewer's real time,
/// across midnight too.
pub fn browser_clock() -> Signal<Option<chrono::DateTime<chrono::Utc>>> {
    let now = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    {
        // `Utc::now` has no clock to read in WASM; the JS one does.
        let read = move || {
            now.try_set(chrono::DateTime::from_timestamp_millis(
                js_sys::Date::now() as i64
            ));
        };
        Effect::new(move |_| read());
        let handle = set_interval_with_handle(read, std::time::Duration::from_secs(30));
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    now.into()
}

/// One browser clock for the page's relative times, so fifty timeline entries share one
/// timer; provided by the signed-in layout.
#[derive(Clone, Copy)]
pub struct PageClock(pub Signal<Option<chrono::DateTime<chrono::Utc>>>);

/// An instant as "3 hours ago" or "in 2 days" once the page runs in the browser, with
/// the exact time as its tooltip. The server's render, and the hydration that must
/// match it, show the exact time: they share no clock. Beyond a week, the date.
#[component]
pub fn Ago(
    at: chrono::DateTime<chrono::Utc>,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    let clock = use_context::<PageClock>()
        .map(|c| c.0)
        .unwrap_or_else(browser_clock);
    let exact = when(at);
    let shown = exact.clone();
    let l = locale();
    view! {
        <time class=class datetime=at.to_rfc3339() title=exact>
            {move || clock.get().and_then(|now| crate::l10n::relative(l, now, at)).unwrap_or_else(|| shown.clone())}
        </time>
    }
}

/// Bumps `tick` every `every` while `active()` holds, for as long as the calling
/// component lives. Browser only: the server renders one moment and is done.
pub fn poll_while(
    active: impl Fn() -> bool + 'static,
    tick: RwSignal<u32>,
    every: std::time::Duration,
) {
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                if active() {
                    tick.try_update(|t| *t += 1);
                }
            },
            every,
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (active, tick, every);
}

/// Sends a chosen file as the raw body of a `POST` to `url` (uploads stream, with no
/// multipart parser on the server) and reads the JSON answer, or the server's error.
#[cfg(feature = "hydrate")]
pub async fn post_file<T: serde::de::DeserializeOwned>(
    l: Locale,
    url: &str,
    file: web_sys::File,
) -> Result<T, AppError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let network = |_| AppError::Transport(t(l, "import.error.network"));
    let window = web_sys::window().ok_or_else(|| network(wasm_bindgen::JsValue::NULL))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&file);
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(network)?
        .dyn_into()
        .map_err(network)?;
    let text = JsFuture::from(response.text().map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        serde_json::from_str(&text).map_err(|e| AppError::Transport(e.to_string()))
    } else {
        Err(serde_json::from_str(&text).unwrap_or(AppError::Transport(text)))
    }
}
