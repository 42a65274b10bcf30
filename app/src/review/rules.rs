//! Review rules (Settings → Review rules): what sends a reply to the queue (sentiment
//! below a line, low confidence, the tenant's keywords, a high-value lead), the SLA per
//! priority, and the business hours SLAs count in (the workspace's time zone). Managers
//! set them: they are the ones who work the queue.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// One weekday's hours as the form edits them: open or not, and `HH:MM` times.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DayHours {
    pub open: bool,
    pub opens: String,
    pub closes: String,
}

/// The rules as the form edits them: text as typed, checked on save.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesForm {
    pub negative_below: String,
    /// Percent, 0–100.
    pub uncertain_below: String,
    /// One per line.
    pub keywords: String,
    /// Whole units of the workspace's money; empty: no high-value rule.
    pub high_value: String,
    pub sla_urgent_min: String,
    pub sla_high_min: String,
    pub sla_medium_min: String,
    pub sla_low_min: String,
    /// Off: SLAs run around the clock.
    pub hours_set: bool,
    /// Monday first.
    pub days: Vec<DayHours>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RulesView {
    pub form: RulesForm,
    /// The workspace's time zone, which the hours are in.
    pub timezone: String,
}

#[server(input = Json)]
pub async fn review_rules() -> Result<RulesView, AppError> {
    respond(async { ssr::load(&env()?).await }).await
}

#[server(input = Json)]
pub async fn save_review_rules(form: RulesForm) -> Result<(), AppError> {
    respond(async { ssr::save(&env()?, &form).await }).await
}

/// `HH:MM` (00:00–24:00) as minutes after midnight.
pub fn parse_time(text: &str) -> Option<i32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    ((0..24).contains(&h) && (0..60).contains(&m) || minutes == 1440).then_some(minutes)
}

pub fn format_time(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A week as stored: Monday first, each day `[opens, closes]` in minutes, or closed.
pub type Week = Vec<Option<(i32, i32)>>;

/// The seven days of a form as stored; an error names the day's field (`day_0` is
/// Monday) and the message's key.
pub fn hours_of(days: &[DayHours]) -> Result<Week, (String, &'static str)> {
    if days.len() != 7 {
        return Err(("hours".into(), "review.rules.error.days"));
    }
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            if !d.open {
                return Ok(None);
            }
            match (parse_time(&d.opens), parse_time(&d.closes)) {
                (Some(o), Some(c)) if o < c => Ok(Some((o, c))),
                (Some(_), Some(_)) => Err((format!("day_{i}"), "review.rules.error.closes_first")),
                _ => Err((format!("day_{i}"), "review.rules.error.time")),
            }
        })
        .collect()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::request::Env;
    use sqlx::types::Json as SqlJson;

    const KEYWORDS_MAX: usize = 200;
    const KEYWORD_LEN_MAX: usize = 100;
    /// Nine digits of whole units is past any deal this product will see; more is a typo.
    const HIGH_VALUE_MAX: i64 = 999_999_999_999;

    #[derive(sqlx::FromRow)]
    struct Row {
        negative_below: i16,
        uncertain_below: f32,
        keywords: Vec<String>,
        high_value_minor: Option<i64>,
        sla_urgent_min: i32,
        sla_high_min: i32,
        sla_medium_min: i32,
        sla_low_min: i32,
        business_hours: Option<SqlJson<Week>>,
    }

    pub async fn load(env: &Env) -> Result<RulesView, AppError> {
        let (p, mut tx) = env.begin(Permission::ReviewWork).await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT negative_below, uncertain_below, keywords, high_value_minor, sla_urgent_min,
                    sla_high_min, sla_medium_min, sla_low_min, business_hours FROM review_settings",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let timezone: String = sqlx::query_scalar("SELECT timezone FROM tenants WHERE id = $1")
            .bind(p.tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let d = crate::review::ssr::arrival::Rules::default();
        let row = row.unwrap_or(Row {
            negative_below: d.negative_below,
            uncertain_below: d.uncertain_below,
            keywords: d.keywords,
            high_value_minor: d.high_value_minor,
            sla_urgent_min: d.sla_urgent_min,
            sla_high_min: d.sla_high_min,
            sla_medium_min: d.sla_medium_min,
            sla_low_min: d.sla_low_min,
            business_hours: None,
        });
        let hours = row.business_hours.map(|h| h.0);
        // Closed days and an unset week show 09:00–17:00 ready to switch on.
        let days = (0..7)
            .map(
                |i| match hours.as_ref().and_then(|h| h.get(i).copied().flatten()) {
                    Some((o, c)) => DayHours {
                        open: true,
                        opens: format_time(o),
                        closes: format_time(c),
                    },
                    None => DayHours {
                        open: hours.is_none() && i < 5,
                        opens: "09:00".into(),
                        closes: "17:00".into(),
                    },
                },
            )
            .collect();
        Ok(RulesView {
            form: RulesForm {
                negative_below: row.negative_below.to_string(),
                uncertain_below: ((row.uncertain_below * 100.0).round() as i32).to_string(),
                keywords: row.keywords.join("\n"),
                high_value: row
                    .high_value_minor
                    .map(|m| (m / 100).to_string())
                    .unwrap_or_default(),
                sla_urgent_min: row.sla_urgent_min.to_string(),
                sla_high_min: row.sla_high_min.to_string(),
                sla_medium_min: row.sla_medium_min.to_string(),
                sla_low_min: row.sla_low_min.to_string(),
                hours_set: hours.is_some(),
                days,
            },
            timezone,
        })
    }

    fn int_in(env: &Env, field: &str, text: &str, min: i32, max: i32) -> Result<i32, AppError> {
        text.trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                AppError::field(
                    field,
                    crate::i18n::tf(
                        env.locale(),
                        "review.rules.error.range",
                        &[("min", min.to_string()), ("max", max.to_string())],
                    ),
                )
            })
    }

    pub async fn save(env: &Env, form: &RulesForm) -> Result<(), AppError> {
        let p = env.require(Permission::ReviewWork)?;
        let negative = int_in(env, "negative_below", &form.negative_below, -100, 100)?;
        let uncertain = int_in(env, "uncertain_below", &form.uncertain_below, 0, 100)?;
        let mut keywords: Vec<String> = Vec::new();
        for line in form
            .keywords
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            if line.chars().count() > KEYWORD_LEN_MAX {
                return Err(AppError::field(
                    "keywords",
                    env.t("review.rules.error.keyword_long"),
                ));
            }
            if !keywords
                .iter()
                .any(|k| k.to_lowercase() == line.to_lowercase())
            {
                keywords.push(line.to_string());
            }
        }
        if keywords.len() > KEYWORDS_MAX {
            return Err(AppError::field(
                "keywords",
                env.t("review.rules.error.keywords_many"),
            ));
        }
        let high_value = match form.high_value.trim().replace([',', ' ', '_'], "") {
            empty if empty.is_empty() => None,
            digits => Some(
                digits
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=HIGH_VALUE_MAX).contains(n))
                    .ok_or_else(|| {
                        AppError::field("high_value", env.t("review.rules.error.amount"))
                    })?
                    * 100,
            ),
        };
        let sla = [
            int_in(env, "sla_urgent_min", &form.sla_urgent_min, 5, 10080)?,
            int_in(env, "sla_high_min", &form.sla_high_min, 5, 10080)?,
            int_in(env, "sla_medium_min", &form.sla_medium_min, 5, 10080)?,
            int_in(env, "sla_low_min", &form.sla_low_min, 5, 10080)?,
        ];
        let hours = if form.hours_set {
            let week =
                hours_of(&form.days).map_err(|(field, key)| AppError::field(&field, env.t(key)))?;
            if week.iter().all(Option::is_none) {
                return Err(AppError::field("hours", env.t("review.rules.error.no_day")));
            }
            Some(SqlJson(week))
        } else {
            None
        };
        let mut tx = env.tx(p).await?;
        let after = serde_json::json!({
            "negative_below": negative, "uncertain_below": uncertain, "keywords": keywords.len(),
            "high_value_minor": high_value, "sla_min": sla, "business_hours": hours.as_ref().map(|h| &h.0),
        });
        sqlx::query(
            "INSERT INTO review_settings (tenant_id, negative_below, uncertain_below, keywords, high_value_minor,
                                          sla_urgent_min, sla_high_min, sla_medium_min, sla_low_min, business_hours)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant_id) DO UPDATE SET
                negative_below = EXCLUDED.negative_below, uncertain_below = EXCLUDED.uncertain_below,
                keywords = EXCLUDED.keywords, high_value_minor = EXCLUDED.high_value_minor,
                sla_urgent_min = EXCLUDED.sla_urgent_min, sla_high_min = EXCLUDED.sla_high_min,
                sla_medium_min = EXCLUDED.sla_medium_min, sla_low_min = EXCLUDED.sla_low_min,
                business_hours = EXCLUDED.business_hours, updated_at = now()",
        )
        .bind(p.tenant_id)
        .bind(negative as i16)
        .bind(uncertain as f32 / 100.0)
        .bind(&keywords)
        .bind(high_value)
        .bind(sla[0])
        .bind(sla[1])
        .bind(sla[2])
        .bind(sla[3])
        .bind(hours)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("review_rules.updated", "review_settings", Some(p.tenant_id))
                .after(after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_from_midnight_to_midnight() {
        assert_eq!(parse_time("09:30"), Some(570));
        assert_eq!(parse_time("00:00"), Some(0));
        assert_eq!(parse_time("24:00"), Some(1440));
        for bad in ["24:01", "9:30", "09:60", "ab:cd", "", "0930"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(format_time(570), "09:30");
    }

    #[test]
    fn a_week_needs_seven_days_each_closing_after_it_opens() {
        let day = |open: bool, o: &str, c: &str| DayHours {
            open,
            opens: o.into(),
            closes: c.into(),
        };
        let mut week = vec![day(true, "09:00", "17:00"); 5];
        week.extend([day(false, "", ""), day(false, "", "")]);
        let hours = hours_of(&week).unwrap();
        assert_eq!(hours[0], Some((540, 1020)));
        assert_eq!(hours[6], None);
        week[2] = day(true, "18:00", "09:00");
        assert_eq!(hours_of(&week).unwrap_err().0, "day_2");
        week[2] = day(true, "nine", "17:00");
        assert_eq!(hours_of(&week).unwrap_err().1, "review.rules.error.time");
        assert!(hours_of(&week[..6]).is_err());
    }
}

/// The review rules page. Every input is held in one signal and sent as JSON, so the
/// answer's field errors land next to the inputs they name.
#[component]
pub fn ReviewRulesPage() -> impl IntoView {
    use crate::ui::{LoadError, PageHeader, Skeleton};
    let rules = Resource::new(|| (), |_| review_rules());
    view! {
        <PageHeader title=crate::ui::tr("review.rules.title")/>
        <Transition fallback=|| view! { <Skeleton lines=10/> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(view) => view! { <RulesEditor view/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
        <div class="mt-6"><crate::review::llm::LlmCard/></div>
    }
}

type Read = fn(&RulesForm) -> String;
type Write = fn(&mut RulesForm, String);

#[component]
fn RulesEditor(view: RulesView) -> impl IntoView {
    use crate::i18n::{t, tf};
    use crate::ui::{field_error, form_error, locale, tr, Alert, Card};
    let l = locale();
    let form = RwSignal::new(view.form);
    let save = ServerAction::<SaveReviewRules>::new();
    let value = save.value();
    const FIELDS: &[&str] = &[
        "negative_below",
        "uncertain_below",
        "keywords",
        "high_value",
        "sla_urgent_min",
        "sla_high_min",
        "sla_medium_min",
        "sla_low_min",
        "hours",
        "day_0",
        "day_1",
        "day_2",
        "day_3",
        "day_4",
        "day_5",
        "day_6",
    ];
    let number = move |name: &'static str,
                       label: String,
                       hint: Option<String>,
                       get: Read,
                       set: Write| {
        let id = format!("rr-{name}");
        let error = field_error(value, name);
        let described = format!("{id}-note");
        let hint_view = hint
            .clone()
            .map(|h| view! { <p class="field-hint">{h}</p> });
        view! {
            <div class="field">
                <label for=id.clone() class="field-label">{label}</label>
                <input id=id type="number" inputmode="numeric" class="input"
                    class:input-invalid=move || error.get().is_some()
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=described.clone()
                    prop:value=move || form.with(get)
                    on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))/>
                <div id=described>
                    {hint_view}
                    {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
            </div>
        }
    };
    let keywords_error = field_error(value, "keywords");
    let hours_error = field_error(value, "hours");
    let days = [
        "review.rules.day.mon",
        "review.rules.day.tue",
        "review.rules.day.wed",
        "review.rules.day.thu",
        "review.rules.day.fri",
        "review.rules.day.sat",
        "review.rules.day.sun",
    ];
    const DAY_FIELDS: [&str; 7] = [
        "day_0", "day_1", "day_2", "day_3", "day_4", "day_5", "day_6",
    ];
    view! {
        <form novalidate on:submit=move |ev| {
            ev.prevent_default();
            save.dispatch(SaveReviewRules { form: form.get_untracked() });
        }>
            <Card title=tr("review.rules.queue")>
                <div class="grid gap-3 md:grid-cols-3">
                    {number("negative_below", tr("review.rules.negative_below"), Some(tr("review.rules.negative_below_hint")),
                        |f| f.negative_below.clone(), |f, v| f.negative_below = v)}
                    {number("uncertain_below", tr("review.rules.uncertain_below"), Some(tr("review.rules.uncertain_below_hint")),
                        |f| f.uncertain_below.clone(), |f, v| f.uncertain_below = v)}
                    {number("high_value", tr("review.rules.high_value"), Some(tr("review.rules.high_value_hint")),
                        |f| f.high_value.clone(), |f, v| f.high_value = v)}
                </div>
                <div class="field mt-3">
                    <label for="rr-keywords" class="field-label">{tr("review.rules.keywords")}</label>
                    <textarea id="rr-keywords" class="input" rows="4"
                        aria-invalid=move || keywords_error.get().is_some().then_some("true")
                        aria-describedby="rr-keywords-note"
                        prop:value=move || form.with(|f| f.keywords.clone())
                        on:input=move |ev| form.update(|f| f.keywords = event_target_value(&ev))></textarea>
                    <div id="rr-keywords-note">
                        <p class="field-hint">{tr("review.rules.keywords_hint")}</p>
                        {move || keywords_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                </div>
            </Card>
            <Card title=tr("review.rules.sla")>
                <div class="grid gap-3 md:grid-cols-4">
                    {number("sla_urgent_min", tr("review.rules.sla_urgent"), None, |f| f.sla_urgent_min.clone(), |f, v| f.sla_urgent_min = v)}
                    {number("sla_high_min", tr("review.rules.sla_high"), None, |f| f.sla_high_min.clone(), |f, v| f.sla_high_min = v)}
                    {number("sla_medium_min", tr("review.rules.sla_medium"), None, |f| f.sla_medium_min.clone(), |f, v| f.sla_medium_min = v)}
                    {number("sla_low_min", tr("review.rules.sla_low"), None, |f| f.sla_low_min.clone(), |f, v| f.sla_low_min = v)}
                </div>
            </Card>
            <Card title=tr("review.rules.hours")>
                <fieldset>
                    <legend class="text-sm">{tf(l, "review.rules.hours_hint", &[("tz", view.timezone.clone())])}</legend>
                    <label class="mt-2 flex items-center gap-2 text-sm">
                        <input type="radio" name="hours_set" class="h-4 w-4" prop:checked=move || !form.with(|f| f.hours_set)
                            on:change=move |_| form.update(|f| f.hours_set = false)/>
                        {tr("review.rules.around_the_clock")}
                    </label>
                    <label class="mt-1 flex items-center gap-2 text-sm">
                        <input type="radio" name="hours_set" class="h-4 w-4" prop:checked=move || form.with(|f| f.hours_set)
                            on:change=move |_| form.update(|f| f.hours_set = true)/>
                        {tr("review.rules.during_hours")}
                    </label>
                </fieldset>
                {move || hours_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                {move || form.with(|f| f.hours_set).then(|| view! {
                    <div class="table-wrap mt-3">
                        <table class="table" data-testid="business-hours">
                            <thead><tr>
                                <th scope="col">{tr("review.rules.day")}</th>
                                <th scope="col">{tr("review.rules.open")}</th>
                                <th scope="col">{tr("review.rules.opens")}</th>
                                <th scope="col">{tr("review.rules.closes")}</th>
                            </tr></thead>
                            <tbody>
                                {days.into_iter().enumerate().map(|(i, key)| {
                                    let day = t(l, key);
                                    let error = field_error(value, DAY_FIELDS[i]);
                                    let open = move || form.with(|f| f.days.get(i).is_some_and(|d| d.open));
                                    let err_id = format!("rr-day-{i}-error");
                                    let err_id2 = err_id.clone();
                                    let err_id3 = err_id.clone();
                                    view! {
                                        <tr>
                                            <th scope="row" class="font-normal">{day.clone()}</th>
                                            <td><input type="checkbox" class="h-4 w-4"
                                                aria-label=tf(l, "review.rules.open_on", &[("day", day.clone())])
                                                prop:checked=open
                                                on:change=move |ev| form.update(|f| if let Some(d) = f.days.get_mut(i) { d.open = event_target_checked(&ev) })/></td>
                                            <td><input type="time" class="input" disabled=move || !open()
                                                aria-label=tf(l, "review.rules.opens_on", &[("day", day.clone())])
                                                aria-invalid=move || error.get().is_some().then_some("true")
                                                aria-describedby=move || error.get().is_some().then(|| err_id.clone())
                                                prop:value=move || form.with(|f| f.days.get(i).map(|d| d.opens.clone()).unwrap_or_default())
                                                on:input=move |ev| form.update(|f| if let Some(d) = f.days.get_mut(i) { d.opens = event_target_value(&ev) })/></td>
                                            <td><input type="time" class="input" disabled=move || !open()
                                                aria-label=tf(l, "review.rules.closes_on", &[("day", day.clone())])
                                                aria-invalid=move || error.get().is_some().then_some("true")
                                                aria-describedby=move || error.get().is_some().then(|| err_id2.clone())
                                                prop:value=move || form.with(|f| f.days.get(i).map(|d| d.closes.clone()).unwrap_or_default())
                                                on:input=move |ev| form.update(|f| if let Some(d) = f.days.get_mut(i) { d.closes = event_target_value(&ev) })/>
                                                {move || error.get().map(|e| view! { <p id=err_id3.clone() class="field-error" role="alert">{e}</p> })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                })}
            </Card>
            <Alert message=form_error(value, FIELDS)/>
            <div class="flex items-center gap-3">
                <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>{tr("review.rules.save")}</button>
                {move || matches!(value.get(), Some(Ok(()))).then(|| view! {
                    <p class="text-sm text-success" role="status">{tr("review.rules.saved")}</p>
                })}
            </div>
        </form>
    }
}
