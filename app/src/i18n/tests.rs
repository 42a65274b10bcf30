//! The string tables' guards and the plural rules against CLDR's examples.
use super::*;
use std::collections::BTreeSet;

const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

/// The plural categories a locale's messages must write: the ones whole
/// numbers reach (Portuguese's `many`, for exact millions, falls back to `other`).
fn required(locale: Locale) -> &'static [&'static str] {
    match locale {
        Locale::En | Locale::Pt => &["one", "other"],
        Locale::Ro => &["one", "few", "other"],
        Locale::Ar => &CATEGORIES,
    }
}

/// The argument names a message uses, and the problems of its plurals.
fn inspect(
    locale: Locale,
    pattern: &str,
    names: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let mut rest = pattern;
    while let Some(at) = rest.find('{') {
        let Some((name, plural, end)) = placeholder_at(rest, at) else {
            rest = &rest[at + 1..];
            continue;
        };
        names.insert(name.to_string());
        if let Some(branches) = plural {
            let mut seen = Vec::new();
            let mut b = branches;
            while let Some(open) = b.find('{') {
                let selector = b[..open].trim().to_string();
                let Some(close) = matching_brace(b, open) else {
                    problems.push(format!("a branch of `{name}` is never closed"));
                    return;
                };
                if !selector.starts_with('=') && !CATEGORIES.contains(&selector.as_str()) {
                    problems.push(format!("unknown plural category `{selector}`"));
                }
                inspect(locale, &b[open + 1..close], names, problems);
                seen.push(selector);
                b = &b[close + 1..];
            }
            for category in required(locale) {
                if !seen.iter().any(|s| s == category) {
                    problems.push(format!("the plural of `{name}` lacks `{category}`"));
                }
            }
        }
        rest = &rest[end + 1..];
    }
}

#[test]
fn every_locale_file_parses() {
    for locale in Locale::ALL {
        for (name, text) in files(locale) {
            if let Err(e) = serde_json::from_str::<Table>(text) {
                panic!("app/locales/{name} does not parse: {e}");
            }
        }
    }
}

#[test]
fn every_locale_has_exactly_the_english_keys_with_the_same_placeholders() {
    let english = table(Locale::En);
    assert!(english.len() > 1000, "the English table is nearly empty");
    let mut problems = Vec::new();
    for locale in Locale::ALL {
        let own = table(locale);
        for key in english.keys().filter(|k| !own.contains_key(*k)) {
            problems.push(format!("{}: missing `{key}`", locale.code()));
        }
        for key in own.keys().filter(|k| !english.contains_key(*k)) {
            problems.push(format!("{}: `{key}` is not in English", locale.code()));
        }
        for (key, text) in own {
            let Some(en_text) = english.get(key) else {
                continue;
            };
            let (mut names, mut en_names) = (BTreeSet::new(), BTreeSet::new());
            let mut own_problems = Vec::new();
            inspect(locale, text, &mut names, &mut own_problems);
            inspect(Locale::En, en_text, &mut en_names, &mut Vec::new());
            if names != en_names {
                own_problems.push(format!("placeholders {names:?}, English has {en_names:?}"));
            }
            problems.extend(
                own_problems
                    .into_iter()
                    .map(|p| format!("{}: `{key}`: {p}", locale.code())),
            );
        }
    }
    problems.sort();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every key is used by the code: literally (`"records.bulk_done"`), or through a
/// prefix the code completes (`format!("outreach.status.{status}")`).
#[test]
fn every_key_is_used() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = String::new();
    for dir in [root.join("src"), root.join("../src")] {
        read_sources(&dir, &mut sources);
    }
    assert!(sources.len() > 100_000, "the sources were not found");
    let mut unused: Vec<_> = table(Locale::En)
        .keys()
        .filter(|key| {
            !sources.contains(&format!("\"{key}\""))
                && !key
                    .char_indices()
                    .filter(|(_, c)| matches!(c, '.' | '_'))
                    .any(|(i, _)| sources.contains(&format!("\"{}{{", &key[..=i])))
        })
        .collect();
    unused.sort();
    assert!(unused.is_empty(), "keys no code uses: {unused:?}");
}

fn read_sources(dir: &std::path::Path, into: &mut String) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "js") {
            into.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// The examples CLDR lists with each rule (plurals.xml, `@integer`/`@decimal`).
#[test]
fn plural_categories_follow_cldr() {
    use Plural::*;
    let cases: &[(Locale, Plural, &[&str])] = &[
        (Locale::En, One, &["1"]),
        (
            Locale::En,
            Other,
            &["0", "2", "16", "100", "1000", "0.0", "1.0", "1.5"],
        ),
        (Locale::Pt, One, &["0", "1", "0.0", "1.5"]),
        (Locale::Pt, Many, &["1000000", "2000000"]),
        (
            Locale::Pt,
            Other,
            &["2", "17", "100", "1000", "10000", "2.0", "3.5", "1000001"],
        ),
        (Locale::Ro, One, &["1"]),
        (
            Locale::Ro,
            Few,
            &[
                "0", "2", "16", "19", "101", "102", "119", "1002", "0.0", "1.5", "1.0",
            ],
        ),
        (Locale::Ro, Other, &["20", "35", "100", "1000", "120"]),
        (Locale::Ar, Zero, &["0", "0.0", "0.00"]),
        (Locale::Ar, One, &["1", "1.0"]),
        (Locale::Ar, Two, &["2", "2.0"]),
        (Locale::Ar, Few, &["3", "10", "103", "110", "1003"]),
        (Locale::Ar, Many, &["11", "26", "99", "111", "1011"]),
        (
            Locale::Ar,
            Other,
            &["100", "102", "200", "202", "1000", "0.5", "1.1"],
        ),
    ];
    for (locale, expected, numbers) in cases {
        for number in *numbers {
            assert_eq!(
                plural_category(*locale, number),
                *expected,
                "{locale:?} {number}"
            );
        }
    }
}

#[test]
fn messages_choose_their_plural_branch() {
    let days = "{n, plural, =0 {no days} one {# day} other {# days}} left";
    let fill = |l, n: &str| format_message(l, days, &[("n", n.to_string())]);
    assert_eq!(fill(Locale::En, "0"), "no days left");
    assert_eq!(fill(Locale::En, "1"), "1 day left");
    assert_eq!(fill(Locale::En, "7"), "7 days left");
    let ar = "{n, plural, zero {لا أيام} one {يوم واحد} two {يومان} few {# أيام} many {# يومًا} other {# يوم}}";
    let fill_ar = |n: &str| format_message(Locale::Ar, ar, &[("n", n.to_string())]);
    assert_eq!(fill_ar("0"), "لا أيام");
    assert_eq!(fill_ar("2"), "يومان");
    assert_eq!(fill_ar("5"), "5 أيام");
    assert_eq!(fill_ar("11"), "11 يومًا");
    assert_eq!(fill_ar("100"), "100 يوم");
    // Other placeholders inside a branch, and a missing argument left visible.
    let nested =
        "{count, plural, one {# record in {stage}} other {# records in {stage}}}; {missing}";
    assert_eq!(
        format_message(
            Locale::En,
            nested,
            &[("count", "3".into()), ("stage", "Won".into())]
        ),
        "3 records in Won; {missing}"
    );
    // Braces that open no placeholder are text: the template syntax users type.
    let syntax = "Add a fallback like {{{name}|there}}; spintax like {Hi|Hello}.";
    assert_eq!(
        format_message(Locale::En, syntax, &[("name", "first_name".into())]),
        "Add a fallback like {{first_name|there}}; spintax like {Hi|Hello}."
    );
}

#[test]
fn real_messages_read_correctly_in_every_language() {
    for locale in Locale::ALL {
        for n in ["0", "1", "2", "5", "11", "21", "100", "101"] {
            let text = tf(
                locale,
                "records.confirm_delete",
                &[("count", n.to_string())],
            );
            assert!(
                text.contains(n) || !text.chars().any(|c| c.is_ascii_digit()),
                "{locale:?} {n}: {text}"
            );
            assert!(!text.contains(['{', '}', '#']), "{locale:?} {n}: {text}");
        }
    }
    assert_eq!(
        tf(
            Locale::En,
            "records.confirm_delete",
            &[("count", "1".into())]
        ),
        "Delete 1 record?"
    );
    assert_eq!(
        tf(
            Locale::En,
            "records.confirm_delete",
            &[("count", "4".into())]
        ),
        "Delete 4 records?"
    );
}

#[test]
fn values_come_apart_from_the_message_for_isolation() {
    let parts = tf_parts(
        Locale::Ar,
        "board.next_task",
        &[
            ("task", "Book a second viewing".into()),
            ("due", "02/12/2026".into()),
        ],
    );
    let values: Vec<&str> = parts
        .iter()
        .filter(|(v, _)| *v)
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(values, ["Book a second viewing", "02/12/2026"]);
    let whole: String = parts.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        whole,
        tf(
            Locale::Ar,
            "board.next_task",
            &[
                ("task", "Book a second viewing".into()),
                ("due", "02/12/2026".into())
            ]
        )
    );
}

#[test]
fn placeholders_are_filled() {
    let text = tf(Locale::En, "auth.totp_locked", &[("minutes", "15".into())]);
    assert!(text.contains("15"), "{text}");
    assert!(!text.contains('{'), "{text}");
}

#[test]
fn accept_language_prefers_the_first_supported() {
    assert_eq!(
        Locale::from_accept_language("ar-SA,ar;q=0.9,en;q=0.8"),
        Locale::Ar
    );
    assert_eq!(
        Locale::from_accept_language("pt-BR,pt;q=0.9,en;q=0.8"),
        Locale::Pt
    );
    assert_eq!(
        Locale::from_accept_language("fr-FR, ro;q=0.7, en;q=0.5"),
        Locale::Ro
    );
    assert_eq!(Locale::from_accept_language("fr-FR, en;q=0.5"), Locale::En);
    assert_eq!(Locale::from_accept_language(""), Locale::En);
    assert_eq!(Locale::parse("pt_BR"), Some(Locale::Pt));
    assert_eq!(Locale::Pt.tag(), "pt-BR");
}

#[test]
fn unknown_keys_show_the_key() {
    assert_eq!(t(Locale::Ar, "no.such.key"), "no.such.key");
}

#[cfg(feature = "ssr")]
#[test]
fn the_served_table_is_complete_and_named_by_its_content() {
    for locale in Locale::ALL {
        let url = table_url(locale);
        let file = url.rsplit('/').next().unwrap();
        assert!(file.starts_with(&format!("{}.", locale.code())), "{url}");
        let served: Table = serde_json::from_str(table_file(file).unwrap()).unwrap();
        assert_eq!(served.len(), table(Locale::En).len());
        assert_eq!(served.get("nav.pipeline"), Some(&t(locale, "nav.pipeline")));
    }
    assert_eq!(table_file("en.0000000000000000.json"), None);
}
