//! A sequence's sending hours as a weekday grid: per day, open or not, a window and an
//! optional second one (a lunch break, an evening). The grid writes the form's
//! `business_hours` field, which the server checks and stores as a typed map
//! (`{"mon": [["09:00", "17:00"]], ...}`).

use crate::i18n::{t, tf};
use crate::ui::{locale, tr};
use leptos::prelude::*;

/// The days as the stored map names them, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Clone, Debug, Default, PartialEq)]
struct Day {
    open: bool,
    /// Up to two windows; an empty second window is none.
    windows: [(String, String); 2],
}

#[derive(Clone, Debug, PartialEq)]
struct Hours {
    /// Only within the windows; otherwise any time.
    limited: bool,
    days: [Day; 7],
}

/// The form's text ("mon 09:00-17:00, 19:00-21:00", one day per line) as the grid.
fn read(text: &str) -> Hours {
    let mut days: [Day; 7] = Default::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((code, windows)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Some(i) = DAYS.iter().position(|d| d.eq_ignore_ascii_case(code)) else {
            continue;
        };
        days[i].open = true;
        for (slot, window) in windows.split(',').take(2).enumerate() {
            if let Some((from, to)) = window.split_once('-') {
                days[i].windows[slot] = (from.trim().to_string(), to.trim().to_string());
            }
        }
    }
    Hours {
        limited: !text.trim().is_empty(),
        days,
    }
}

/// The grid as the form's text; empty when any time will do, `none` when hours are
/// asked for but no day is open (which the server refuses).
fn write(hours: &Hours) -> String {
    if !hours.limited {
        return String::new();
    }
    if hours.days.iter().all(|d| !d.open) {
        return "none".into();
    }
    hours
        .days
        .iter()
        .zip(DAYS)
        .filter(|(d, _)| d.open)
        .map(|(d, code)| {
            let windows: Vec<String> = d
                .windows
                .iter()
                .enumerate()
                .filter(|(i, (from, to))| *i == 0 || !(from.is_empty() && to.is_empty()))
                .map(|(_, (from, to))| format!("{from}-{to}"))
                .collect();
            format!("{code} {}", windows.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The grid, for a form that posts `business_hours`; `error` is that field's message.
#[component]
pub fn HoursGrid(initial: String, error: Signal<Option<String>>) -> impl IntoView {
    let hours = RwSignal::new(read(&initial));
    // Said at once; the server refuses it too.
    let closed = Memo::new(move |_| hours.with(|h| h.limited && h.days.iter().all(|d| !d.open)));
    let l = locale();
    view! {
        <fieldset class="field" data-testid="sequence-hours">
            <legend class="field-label">{tr("outreach.business_hours")}</legend>
            <input type="hidden" name="business_hours" value=move || hours.with(write)/>
            <label class="flex items-center gap-2 text-sm">
                <input type="radio" name="hours_limited" class="h-4 w-4" prop:checked=move || !hours.with(|h| h.limited)
                    on:change=move |_| hours.update(|h| h.limited = false)/>
                {tr("outreach.hours.any_time")}
            </label>
            <label class="mt-1 flex items-center gap-2 text-sm">
                <input type="radio" name="hours_limited" class="h-4 w-4" prop:checked=move || hours.with(|h| h.limited)
                    on:change=move |_| hours.update(|h| {
                        h.limited = true;
                        // A first choice of "only these hours" starts from office hours.
                        if h.days.iter().all(|d| !d.open) {
                            for d in h.days.iter_mut().take(5) {
                                d.open = true;
                                d.windows[0] = ("09:00".into(), "17:00".into());
                            }
                        }
                    })/>
                {tr("outreach.hours.only_these")}
            </label>
            {move || match (closed.get(), error.get()) {
                (true, _) => Some(tr("outreach.hours.none_open")),
                (false, e) => e,
            }.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            {move || hours.with(|h| h.limited).then(|| view! {
                <div class="table-wrap mt-2">
                    <table class="table">
                        <thead><tr>
                            <th scope="col">{tr("review.rules.day")}</th>
                            <th scope="col">{tr("review.rules.open")}</th>
                            <th scope="col">{tr("review.rules.opens")}</th>
                            <th scope="col">{tr("review.rules.closes")}</th>
                            <th scope="col">{tr("outreach.hours.second")}</th>
                        </tr></thead>
                        <tbody>
                            {DAYS.iter().enumerate().map(|(i, code)| {
                                let day = t(l, &format!("review.rules.day.{code}"));
                                let open = move || hours.with(|h| h.days[i].open);
                                let time = move |slot: usize, end: bool, label: String| view! {
                                    <input type="time" class="input" disabled=move || !open() aria-label=label
                                        prop:value=move || hours.with(|h| {
                                            let w = &h.days[i].windows[slot];
                                            if end { w.1.clone() } else { w.0.clone() }
                                        })
                                        on:input=move |ev| {
                                            let v = event_target_value(&ev);
                                            hours.update(|h| {
                                                let w = &mut h.days[i].windows[slot];
                                                if end { w.1 = v } else { w.0 = v }
                                            })
                                        }/>
                                };
                                let arg = |key: &str| tf(l, key, &[("day", day.clone())]);
                                view! {
                                    <tr>
                                        <th scope="row" class="font-normal">{day.clone()}</th>
                                        <td><input type="checkbox" class="h-4 w-4" aria-label=arg("review.rules.open_on")
                                            prop:checked=open
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                hours.update(|h| {
                                                    let d = &mut h.days[i];
                                                    d.open = on;
                                                    if on && d.windows[0].0.is_empty() {
                                                        d.windows[0] = ("09:00".into(), "17:00".into());
                                                    }
                                                })
                                            }/></td>
                                        <td>{time(0, false, arg("review.rules.opens_on"))}</td>
                                        <td>{time(0, true, arg("review.rules.closes_on"))}</td>
                                        <td class="whitespace-nowrap">
                                            {time(1, false, arg("outreach.hours.second_opens_on"))}
                                            " – "
                                            {time(1, true, arg("outreach.hours.second_closes_on"))}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_reads_and_writes_the_form_text() {
        let text = "mon 09:00-13:00, 14:00-18:00\nsat 10:00-12:00";
        let hours = read(text);
        assert!(hours.limited);
        assert!(hours.days[0].open && hours.days[5].open && !hours.days[1].open);
        assert_eq!(hours.days[0].windows[1], ("14:00".into(), "18:00".into()));
        assert_eq!(write(&hours), text);
        assert_eq!(write(&read("")), "");
        let mut closed = read(text);
        closed.days[5].open = false;
        assert_eq!(write(&closed), "mon 09:00-13:00, 14:00-18:00");
        closed.days[0].open = false;
        assert_eq!(write(&closed), "none");
    }
}
