//! The date picker: a button beside a date (or date-and-time) input that opens a month
//! grid whose weeks start on the page language's first day (CLDR `weekData`). The
//! browser's own picker follows the browser's language instead, so it is hidden
//! (`style/tailwind.css`); typing stays the input's own. Picking a day writes
//! `YYYY-MM-DD` into the input (keeping a time already typed) and fires `input` and
//! `change`, so forms and signals see it as if it was typed.
//!
//! Keyboard as in the WAI-ARIA date picker dialog: arrows move by a day (mirrored on
//! right-to-left pages) and a week, Page Up/Down by a month, Home/End to the week's
//! ends, Enter or Space picks, Escape closes and gives the focus back to the button.

use super::{locale, tr};
use crate::i18n::{tf, Locale};
use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};
use leptos::prelude::*;

/// The first day of the week in each language's region: the United States and
/// Brazil start on Sunday, Romania on Monday, Egypt (our Arabic) on Saturday.
pub fn first_weekday(locale: Locale) -> Weekday {
    match locale {
        Locale::En | Locale::Pt => Weekday::Sun,
        Locale::Ro => Weekday::Mon,
        Locale::Ar => Weekday::Sat,
    }
}

/// The seven weekdays in the order a week shows them, from `first`.
pub fn week_order(first: Weekday) -> [Weekday; 7] {
    let mut day = first;
    std::array::from_fn(|_| {
        let this = day;
        day = day.succ();
        this
    })
}

/// The six weeks the grid shows for the month of `day`: from the week holding the 1st.
pub fn month_grid(day: NaiveDate, first: Weekday) -> Vec<[NaiveDate; 7]> {
    let first_of_month = day.with_day(1).unwrap_or(day);
    let back =
        (7 + first_of_month.weekday().num_days_from_sunday() - first.num_days_from_sunday()) % 7;
    let start = first_of_month - Duration::days(i64::from(back));
    (0..6)
        .map(|week| std::array::from_fn(|d| start + Duration::days(week * 7 + d as i64)))
        .collect()
}

/// Where `key` moves the focus from `day`; `None` for a key the grid does not use.
pub fn moved(day: NaiveDate, key: &str, first: Weekday, rtl: bool) -> Option<NaiveDate> {
    let step = |n: i64| day.checked_add_signed(Duration::days(n));
    let into_week =
        i64::from((7 + day.weekday().num_days_from_sunday() - first.num_days_from_sunday()) % 7);
    match key {
        "ArrowRight" => step(if rtl { -1 } else { 1 }),
        "ArrowLeft" => step(if rtl { 1 } else { -1 }),
        "ArrowDown" => step(7),
        "ArrowUp" => step(-7),
        "PageDown" => day.checked_add_months(Months::new(1)),
        "PageUp" => day.checked_sub_months(Months::new(1)),
        "Home" => step(-into_week),
        "End" => step(6 - into_week),
        _ => None,
    }
}

/// The value an input holds once `day` is picked: the day, with the time already in
/// a date-and-time input (09:00 when it had none).
pub fn picked_value(current: &str, day: NaiveDate, with_time: bool) -> String {
    let date = day.format("%Y-%m-%d");
    if !with_time {
        return date.to_string();
    }
    let time = current
        .split_once('T')
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
        .unwrap_or("09:00");
    format!("{date}T{time}")
}

const WEEKDAY_KEYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn weekday_key(day: Weekday) -> &'static str {
    WEEKDAY_KEYS[day.num_days_from_sunday() as usize]
}

/// The button and, while open, the month grid for the input whose id is `input`,
/// which it follows. Its name ("Pick a date") leaves out the field's label, so the
/// label still names the input alone.
#[component]
pub fn DatePicker(#[prop(into)] input: String) -> impl IntoView {
    let open = RwSignal::new(false);
    // The day that has the focus in the grid; its month is the one shown.
    let focused = RwSignal::new(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default());
    let l = locale();
    let first = first_weekday(l);
    let rtl = l.dir() == "rtl";
    let input = StoredValue::new(input);
    let button_id = input.with_value(|i| format!("{i}-picker"));
    let heading_id = input.with_value(|i| format!("{i}-picker-month"));
    let day_id = move |day: NaiveDate| input.with_value(|i| format!("{i}-day-{day}"));
    let focus_day = move || {
        let id = day_id(focused.get_untracked());
        request_animation_frame(move || focus_element(&id));
    };
    let toggle = move |_| {
        if open.get_untracked() {
            open.set(false);
            return;
        }
        let start = input
            .with_value(|i| read_input(i))
            .map(|(value, _)| value)
            .and_then(|v| NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok())
            .or_else(today);
        if let Some(start) = start {
            focused.set(start);
        }
        open.set(true);
        focus_day();
    };
    let close = move || {
        open.set(false);
        let id = input.with_value(|i| format!("{i}-picker"));
        request_animation_frame(move || focus_element(&id));
    };
    let pick = move |day: NaiveDate| {
        input.with_value(|i| write_input(i, day));
        close();
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let key = ev.key();
        match key.as_str() {
            "Escape" => {
                ev.prevent_default();
                close();
            }
            "Enter" | " " => {
                ev.prevent_default();
                pick(focused.get_untracked());
            }
            _ => {
                if let Some(next) = moved(focused.get_untracked(), &key, first, rtl) {
                    ev.prevent_default();
                    focused.set(next);
                    focus_day();
                }
            }
        }
    };
    let shift_month = move |months: i32| {
        let day = focused.get_untracked();
        let next = if months > 0 {
            day.checked_add_months(Months::new(1))
        } else {
            day.checked_sub_months(Months::new(1))
        };
        if let Some(next) = next {
            focused.set(next);
        }
    };
    view! {
        <div class="relative shrink-0">
            <button type="button" id=button_id class="btn btn-ghost px-2" aria-haspopup="dialog"
                    aria-expanded=move || if open.get() { "true" } else { "false" }
                    aria-label=tr("picker.choose")
                    on:click=toggle>
                <svg aria-hidden="true" viewBox="0 0 20 20" class="h-5 w-5" fill="none" stroke="currentColor" stroke-width="1.5">
                    <rect x="3" y="4.5" width="14" height="12" rx="1.5"/>
                    <path d="M3 8.5h14M7 2.5v4M13 2.5v4"/>
                </svg>
            </button>
            {move || open.get().then(|| {
                let shown = focused.get();
                let month = tf(l, "picker.month_year", &[
                    ("month", tr(&format!("picker.month.{}", shown.month()))),
                    ("year", crate::l10n::shape(crate::l10n::digits(l), &shown.year().to_string(), false)),
                ]);
                let today = today();
                view! {
                    <div role="dialog" aria-modal="false" aria-labelledby=heading_id.clone()
                         class="absolute end-0 z-30 mt-1 w-72 rounded border border-line bg-surface p-2 shadow-lg"
                         on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { ev.prevent_default(); close(); }>
                        <div class="mb-1 flex items-center justify-between gap-2">
                            <button type="button" class="btn btn-ghost px-2" aria-label=tr("picker.previous_month")
                                    on:click=move |_| shift_month(-1)>{if rtl { "›" } else { "‹" }}</button>
                            <h2 id=heading_id.clone() class="text-sm font-semibold" aria-live="polite">{month}</h2>
                            <button type="button" class="btn btn-ghost px-2" aria-label=tr("picker.next_month")
                                    on:click=move |_| shift_month(1)>{if rtl { "‹" } else { "›" }}</button>
                        </div>
                        <table role="grid" aria-labelledby=heading_id.clone() class="w-full text-center text-sm">
                            <thead>
                                <tr>
                                    {week_order(first).map(|d| view! {
                                        <th scope="col" abbr=tr(&format!("picker.day.{}", weekday_key(d)))
                                            class="py-1 font-medium text-muted">
                                            {tr(&format!("picker.day_short.{}", weekday_key(d)))}
                                        </th>
                                    }).collect_view()}
                                </tr>
                            </thead>
                            <tbody>
                                {month_grid(shown, first).into_iter().map(|week| view! {
                                    <tr>
                                        {week.map(|day| {
                                            let outside = day.month() != shown.month();
                                            let is_focused = day == shown;
                                            let number = crate::l10n::integer(l, i64::from(day.day()));
                                            view! {
                                                <td aria-selected=if is_focused { "true" } else { "false" }>
                                                    <button type="button" id=day_id(day)
                                                        tabindex=if is_focused { "0" } else { "-1" }
                                                        aria-current=(Some(day) == today).then_some("date")
                                                        aria-label=crate::l10n::date(l, day)
                                                        class="h-8 w-8 rounded hover:bg-canvas focus:outline focus:outline-2 focus:outline-brand"
                                                        class:text-muted=outside
                                                        class:font-semibold=Some(day) == today
                                                        on:click=move |_| pick(day)
                                                        on:keydown=on_key>
                                                        {number}
                                                    </button>
                                                </td>
                                            }
                                        }).collect_view()}
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
            })}
        </div>
    }
}

/// Today in the viewer's zone, from the browser's clock; none on the server, which
/// never draws the open grid.
fn today() -> Option<NaiveDate> {
    #[cfg(feature = "hydrate")]
    {
        let now = chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64)?;
        Some(crate::l10n::to_local(&super::zone(), now).date())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// The input's value and whether it also holds a time.
fn read_input(id: &str) -> Option<(String, bool)> {
    #[cfg(feature = "hydrate")]
    {
        let input = input_element(id)?;
        Some((input.value(), input.type_() == "datetime-local"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        None
    }
}

fn write_input(id: &str, day: NaiveDate) {
    let Some((current, with_time)) = read_input(id) else {
        return;
    };
    set_input(id, &picked_value(&current, day, with_time));
}

/// Sets the input's value as typing would: with `input` and `change` events.
fn set_input(id: &str, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(input) = input_element(id) {
        input.set_value(value);
        for kind in ["input", "change"] {
            let init = web_sys::EventInit::new();
            init.set_bubbles(true);
            if let Ok(event) = web_sys::Event::new_with_event_init_dict(kind, &init) {
                let _ = input.dispatch_event(&event);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, value);
}

#[cfg(feature = "hydrate")]
fn input_element(id: &str) -> Option<web_sys::HtmlInputElement> {
    use wasm_bindgen::JsCast;
    web_sys::window()?
        .document()?
        .get_element_by_id(id)?
        .dyn_into()
        .ok()
}

fn focus_element(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(element) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_start_on_each_languages_first_day() {
        // December 2026 starts on a Tuesday.
        let grid = |l| month_grid(d(2026, 12, 15), first_weekday(l));
        assert_eq!(grid(Locale::En)[0][0], d(2026, 11, 29), "Sunday");
        assert_eq!(grid(Locale::Pt)[0][0], d(2026, 11, 29), "Sunday");
        assert_eq!(grid(Locale::Ro)[0][0], d(2026, 11, 30), "Monday");
        assert_eq!(grid(Locale::Ar)[0][0], d(2026, 11, 28), "Saturday");
        for l in Locale::ALL {
            let weeks = grid(l);
            assert_eq!(weeks.len(), 6);
            assert_eq!(weeks[0][0].weekday(), first_weekday(l));
            assert!(weeks.iter().flatten().any(|day| *day == d(2026, 12, 31)));
        }
        // A month that starts on the first day of the week starts the grid.
        assert_eq!(
            month_grid(d(2026, 2, 10), Weekday::Sun)[0][0],
            d(2026, 2, 1)
        );
        assert_eq!(
            week_order(Weekday::Sat),
            [
                Weekday::Sat,
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri
            ]
        );
    }

    #[test]
    fn keys_move_by_day_week_and_month_mirrored_right_to_left() {
        let day = d(2026, 12, 2); // a Wednesday
        let sun = Weekday::Sun;
        assert_eq!(moved(day, "ArrowRight", sun, false), Some(d(2026, 12, 3)));
        assert_eq!(moved(day, "ArrowRight", sun, true), Some(d(2026, 12, 1)));
        assert_eq!(moved(day, "ArrowLeft", sun, true), Some(d(2026, 12, 3)));
        assert_eq!(moved(day, "ArrowDown", sun, false), Some(d(2026, 12, 9)));
        assert_eq!(moved(day, "ArrowUp", sun, false), Some(d(2026, 11, 25)));
        assert_eq!(
            moved(d(2027, 1, 31), "PageUp", sun, false),
            Some(d(2026, 12, 31))
        );
        assert_eq!(
            moved(d(2026, 1, 31), "PageDown", sun, false),
            Some(d(2026, 2, 28))
        );
        assert_eq!(moved(day, "Home", sun, false), Some(d(2026, 11, 29)));
        assert_eq!(moved(day, "End", sun, false), Some(d(2026, 12, 5)));
        assert_eq!(
            moved(day, "Home", Weekday::Sat, true),
            Some(d(2026, 11, 28))
        );
        assert_eq!(moved(day, "End", Weekday::Mon, false), Some(d(2026, 12, 6)));
        assert_eq!(moved(day, "a", sun, false), None);
    }

    #[test]
    fn a_picked_day_keeps_the_time_already_typed() {
        let day = d(2026, 12, 24);
        assert_eq!(picked_value("", day, false), "2026-12-24");
        assert_eq!(picked_value("2026-01-01", day, false), "2026-12-24");
        assert_eq!(picked_value("", day, true), "2026-12-24T09:00");
        assert_eq!(
            picked_value("2026-01-01T17:30", day, true),
            "2026-12-24T17:30"
        );
    }
}
