//! The built-in reply classifier: offline, explainable, in English, Arabic (dialect
//! spellings and diacritics folded), Portuguese and Romanian.
//!
//! Mail headers decide first (a DSN is a bounce, an ARF report a complaint,
//! `Auto-Submitted` an automatic reply). Otherwise phrase lexicons (data files in
//! `lexicon/`, plus a tenant's own keyword triggers) score each intent: longer phrases
//! weigh more, a negator just before an "interested" phrase turns it into "not
//! interested", and a deferral ("right now", "بعدين") turns a refusal into "not now".
//! Every cue that counted is returned as a reason for the reviewer.

use super::model::{Intent, Urgency};
use crate::outreach::optout::{is_opt_out, normalise};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What arrived: the text, and for email the subject and headers.
#[derive(Clone, Debug, Default)]
pub struct Inbound<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    /// Header names in any case.
    pub headers: &'a [(String, String)],
}

/// The verdict, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    pub intent: Intent,
    /// −100 (hostile) ..= 100 (delighted).
    pub sentiment: i16,
    pub urgency: Urgency,
    /// 0..=1: how sure the classifier is of `intent`.
    pub confidence: f32,
    /// The headers, phrases and emoji that decided it, in the order found.
    pub reasons: Vec<String>,
    /// For an out-of-office reply, the date it says the person is back.
    pub return_on: Option<NaiveDate>,
}

/// A tenant's own phrase that means an intent (Settings → Review).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub phrase: String,
    pub intent: Intent,
}

#[derive(Deserialize)]
struct LexiconFile {
    intents: HashMap<String, Vec<String>>,
    negators: Vec<String>,
    intensifiers: Vec<String>,
    deferrals: Vec<String>,
    positive: Vec<String>,
    negative: Vec<String>,
    urgent: Vec<String>,
}

/// Phrases as token lists, folded like the text they are matched against.
#[derive(Default)]
struct Lexicon {
    intents: Vec<(Intent, Vec<String>)>,
    /// `intents` by their first word, so a reply is scanned once, not once per phrase.
    by_first_word: HashMap<String, Vec<usize>>,
    negators: PhraseSet,
    intensifiers: PhraseSet,
    deferrals: PhraseSet,
    positive: PhraseSet,
    negative: PhraseSet,
    urgent: PhraseSet,
}

/// Phrases indexed by their first word.
#[derive(Default)]
struct PhraseSet {
    phrases: Vec<Vec<String>>,
    by_first_word: HashMap<String, Vec<usize>>,
}

impl PhraseSet {
    fn extend(&mut self, list: Vec<Vec<String>>) {
        for phrase in list {
            self.by_first_word
                .entry(phrase[0].clone())
                .or_default()
                .push(self.phrases.len());
            self.phrases.push(phrase);
        }
    }

    /// Every occurrence in `words`: the phrase and where it starts.
    fn hits<'a>(&'a self, words: &'a [String]) -> impl Iterator<Item = (&'a [String], usize)> + 'a {
        words.iter().enumerate().flat_map(move |(at, word)| {
            self.by_first_word
                .get(word)
                .into_iter()
                .flatten()
                .filter_map(move |&i| {
                    let phrase = &self.phrases[i];
                    words[at..]
                        .starts_with(phrase)
                        .then_some((phrase.as_slice(), at))
                })
        })
    }

    /// The first phrase found in `words[from..to]`.
    fn within(&self, words: &[String], from: usize, to: usize) -> Option<String> {
        let window = &words[from.min(words.len())..to.min(words.len())];
        self.hits(window).next().map(|(p, _)| p.join(" "))
    }
}

const POSITIVE_EMOJI: [char; 12] = [
    '👍', '😊', '🙂', '😀', '😃', '🙏', '🔥', '❤', '😍', '👏', '✅', '🤝',
];
const NEGATIVE_EMOJI: [char; 8] = ['👎', '😡', '🤬', '😠', '😤', '🙄', '💩', '❌'];

const FILES: [&str; 4] = [
    include_str!("lexicon/en.json"),
    include_str!("lexicon/ar.json"),
    include_str!("lexicon/pt.json"),
    include_str!("lexicon/ro.json"),
];

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut lex = Lexicon::default();
        let phrases = |list: Vec<String>| -> Vec<Vec<String>> {
            list.iter()
                .map(|p| tokens(p))
                .filter(|t| !t.is_empty())
                .collect()
        };
        for file in FILES {
            // The files are part of the build; a broken one fails every test at once.
            let file: LexiconFile = serde_json::from_str(file).expect("lexicon files parse");
            for (code, list) in file.intents {
                let intent = Intent::parse(&code).expect("lexicon intents are known");
                for phrase in list {
                    let t = tokens(&phrase);
                    if !t.is_empty() {
                        lex.intents.push((intent, t));
                    }
                }
            }
            lex.negators.extend(phrases(file.negators));
            lex.intensifiers.extend(phrases(file.intensifiers));
            lex.deferrals.extend(phrases(file.deferrals));
            lex.positive.extend(phrases(file.positive));
            lex.negative.extend(phrases(file.negative));
            lex.urgent.extend(phrases(file.urgent));
        }
        for (i, (_, phrase)) in lex.intents.iter().enumerate() {
            lex.by_first_word
                .entry(phrase[0].clone())
                .or_default()
                .push(i);
        }
        lex
    })
}

/// Folds what `optout::normalise` leaves apart in Arabic: the alef forms, taa
/// marbuta and alef maqsura, so "إلغاء", "الغاء" and "الغا" dialect spellings meet.
fn fold_arabic(c: char) -> char {
    match c {
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        'ة' => 'ه',
        'ى' => 'ي',
        'ؤ' => 'و',
        'ئ' => 'ي',
        _ => c,
    }
}

fn tokens(text: &str) -> Vec<String> {
    normalise(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().map(fold_arabic).collect())
        .collect()
}

/// Where `phrase` occurs in `words`, as start positions.
fn find(words: &[String], phrase: &[String]) -> Vec<usize> {
    if phrase.is_empty() || phrase.len() > words.len() {
        return Vec::new();
    }
    (0..=words.len() - phrase.len())
        .filter(|&i| words[i..i + phrase.len()] == *phrase)
        .collect()
}

/// Which of two intents wins a tie: the more specific one.
fn specificity(intent: Intent) -> u8 {
    match intent {
        Intent::Bounce => 10,
        Intent::Complaint => 9,
        Intent::Unsubscribe => 8,
        Intent::OutOfOffice => 7,
        Intent::AutoReply => 6,
        Intent::WrongPerson => 5,
        Intent::NotNow => 4,
        Intent::NotInterested => 3,
        Intent::Interested => 2,
        Intent::Question => 1,
        Intent::Other => 0,
    }
}

pub fn classify(input: &Inbound, today: NaiveDate, triggers: &[Trigger]) -> Classification {
    let lex = lexicon();
    let whole = format!("{} {}", input.subject, input.text);
    let words = tokens(&whole);
    let mut reasons = Vec::new();
    let mut scores: HashMap<Intent, f32> = HashMap::new();
    let add = |scores: &mut HashMap<Intent, f32>, intent: Intent, weight: f32| {
        *scores.entry(intent).or_default() += weight;
    };

    let decided = super::headers::from_headers(input.headers);
    if let Some((intent, reason)) = &decided {
        reasons.push(reason.clone());
        add(&mut scores, *intent, 10.0);
    }

    // Phrase cues. A negator in the two words before an "interested" phrase turns
    // it around ("not really interested", "مش مهتم").
    let own: Vec<(Intent, Vec<String>)> = triggers
        .iter()
        .map(|t| (t.intent, tokens(&t.phrase)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    // Every (phrase, position) where a lexicon or tenant phrase occurs.
    let mut hits: Vec<(Intent, &[String], usize)> = Vec::new();
    for (at, word) in words.iter().enumerate() {
        for &i in lex.by_first_word.get(word).into_iter().flatten() {
            let (intent, phrase) = &lex.intents[i];
            if words[at..].starts_with(phrase) {
                hits.push((*intent, phrase, at));
            }
        }
    }
    for (intent, phrase) in &own {
        for at in find(&words, phrase) {
            hits.push((*intent, phrase, at));
        }
    }
    for (intent, phrase, at) in hits {
        let mut weight = 1.0 + 0.5 * (phrase.len() as f32 - 1.0);
        let mut intent = intent;
        let text = phrase.join(" ");
        match intent {
            Intent::Question => weight *= 0.6,
            // A threat of a complaint outweighs the "stop" it often starts with.
            Intent::Complaint => weight *= 2.0,
            _ => {}
        }
        if intent == Intent::Interested {
            if let Some(neg) = lex.negators.within(&words, at.saturating_sub(2), at) {
                reasons.push(format!("“{neg} … {text}”"));
                intent = Intent::NotInterested;
                weight += 0.5;
            }
        }
        if intent == Intent::NotInterested {
            // A refusal "for now" is a not-now.
            if let Some(later) = lex.deferrals.within(&words, at, at + phrase.len() + 5) {
                reasons.push(format!("“{text}” + “{later}”"));
                intent = Intent::NotNow;
                weight += 0.5;
            }
        }
        if !reasons.iter().any(|r| r.contains(&text)) {
            reasons.push(format!("“{text}”"));
        }
        add(&mut scores, intent, weight);
    }
    // The strict opt-out rule the sender honours: the reply *is* a stop word.
    if is_opt_out(input.text) {
        reasons.push("opt-out reply".into());
        add(&mut scores, Intent::Unsubscribe, 4.0);
    }
    if whole.contains('?') || whole.contains('؟') {
        reasons.push("asks a question (?)".into());
        add(&mut scores, Intent::Question, 0.8);
    }

    // Sentiment: lexicon words and emoji, intensified, negated.
    let mut polarity = 0.0f32;
    for (set, sign) in [(&lex.positive, 1.0f32), (&lex.negative, -1.0)] {
        for (_, at) in set.hits(&words) {
            let mut w = sign * 15.0;
            if lex
                .intensifiers
                .within(&words, at.saturating_sub(2), at)
                .is_some()
            {
                w *= 1.6;
            }
            if lex
                .negators
                .within(&words, at.saturating_sub(2), at)
                .is_some()
            {
                w = -w * 0.7;
            }
            polarity += w;
        }
    }
    let (mut up, mut down) = (0, 0);
    for c in whole.chars() {
        if POSITIVE_EMOJI.contains(&c) {
            up += 1;
        } else if NEGATIVE_EMOJI.contains(&c) {
            down += 1;
        }
    }
    if up > 0 {
        reasons.push(format!("{up} positive emoji"));
        polarity += 20.0 * up as f32;
        add(&mut scores, Intent::Interested, 0.3 * up as f32);
    }
    if down > 0 {
        reasons.push(format!("{down} negative emoji"));
        polarity -= 25.0 * down as f32;
    }

    let mut ranked: Vec<(Intent, f32)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    ranked.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(specificity(b.0).cmp(&specificity(a.0)))
    });
    let (intent, confidence) = match ranked.as_slice() {
        [] => (Intent::Other, 0.2),
        [(i, s)] => (*i, (s / (s + 0.6)).min(0.99)),
        [(i, s), (_, second), ..] => (*i, (s / (s + second + 0.6)).min(0.99)),
    };
    let (intent, confidence) = if decided.is_some() {
        // Out-of-office words in an automatic reply make it the more useful label.
        match (
            intent,
            ranked.iter().any(|(i, _)| *i == Intent::OutOfOffice),
        ) {
            (Intent::AutoReply, true) => (Intent::OutOfOffice, 0.97),
            (i, _) => (i, 0.98),
        }
    } else {
        (intent, confidence)
    };

    let baseline = match intent {
        Intent::Interested => 40.0,
        Intent::Question => 10.0,
        Intent::NotNow => -5.0,
        Intent::NotInterested => -40.0,
        Intent::Unsubscribe => -45.0,
        Intent::Complaint => -80.0,
        Intent::WrongPerson => -10.0,
        _ => 0.0,
    };
    let sentiment = (baseline + polarity).clamp(-100.0, 100.0).round() as i16;
    let urgent = lex.urgent.hits(&words).next().map(|(p, _)| p.join(" "));
    let urgency = match (intent, &urgent) {
        (Intent::Complaint, _) => Urgency::High,
        (Intent::Interested | Intent::Question, Some(_)) => Urgency::Urgent,
        (_, Some(_)) => Urgency::High,
        (Intent::Interested | Intent::Question, None) => Urgency::Medium,
        _ => Urgency::Low,
    };
    if let Some(u) = &urgent {
        reasons.push(format!("urgent: “{u}”"));
    }
    let return_on = (intent == Intent::OutOfOffice)
        .then(|| super::dates::return_date(&whole, today))
        .flatten();
    Classification {
        intent,
        sentiment,
        urgency,
        confidence: (confidence * 100.0).round() / 100.0,
        reasons,
        return_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    fn intent_of(text: &str) -> Intent {
        classify(
            &Inbound {
                text,
                ..Inbound::default()
            },
            day(),
            &[],
        )
        .intent
    }

    #[test]
    fn negation_turns_interest_around_and_a_deferral_makes_it_not_now() {
        assert_eq!(intent_of("interested"), Intent::Interested);
        assert_eq!(intent_of("not interested"), Intent::NotInterested);
        assert_eq!(intent_of("not really interested"), Intent::NotInterested);
        assert_eq!(intent_of("not interested right now"), Intent::NotNow);
        assert_eq!(intent_of("مش مهتم"), Intent::NotInterested);
        assert_eq!(intent_of("مش مهتم الحين"), Intent::NotNow);
        assert_eq!(intent_of("Não tenho interesse"), Intent::NotInterested);
        assert_eq!(intent_of("Nu sunt interesat"), Intent::NotInterested);
    }

    #[test]
    fn arabic_spellings_and_diacritics_fold_together() {
        for text in ["مُهتمّ", "مهتم", "انا مهتمة", "أنا مهتمه"] {
            assert_eq!(intent_of(text), Intent::Interested, "{text}");
        }
        for text in ["إلغاء الاشتراك", "الغاء الاشتراك", "ألغاء الإشتراك"]
        {
            assert_eq!(intent_of(text), Intent::Unsubscribe, "{text}");
        }
    }

    #[test]
    fn headers_decide_before_words() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let dsn = h(&[(
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=x",
        )]);
        let c = classify(
            &Inbound {
                text: "I'm interested",
                headers: &dsn,
                ..Inbound::default()
            },
            day(),
            &[],
        );
        assert_eq!(c.intent, Intent::Bounce);
        assert!(c.confidence > 0.9);
        assert!(c.reasons[0].contains("RFC 3464"), "{:?}", c.reasons);
        let arf = h(&[(
            "Content-Type",
            "multipart/report; report-type=feedback-report",
        )]);
        let c = classify(
            &Inbound {
                text: "",
                headers: &arf,
                ..Inbound::default()
            },
            day(),
            &[],
        );
        assert_eq!(c.intent, Intent::Complaint);
        let auto = h(&[("auto-submitted", "auto-replied")]);
        let c = classify(
            &Inbound {
                text: "Thanks for your email.",
                headers: &auto,
                ..Inbound::default()
            },
            day(),
            &[],
        );
        assert_eq!(c.intent, Intent::AutoReply);
        let c = classify(
            &Inbound {
                text: "I am out of the office until 14 December.",
                headers: &auto,
                ..Inbound::default()
            },
            day(),
            &[],
        );
        assert_eq!(c.intent, Intent::OutOfOffice);
        assert_eq!(c.return_on, NaiveDate::from_ymd_opt(2026, 12, 14));
        let human = h(&[("Auto-Submitted", "no"), ("Precedence", "first-class")]);
        let c = classify(
            &Inbound {
                text: "Yes please, call me",
                headers: &human,
                ..Inbound::default()
            },
            day(),
            &[],
        );
        assert_eq!(c.intent, Intent::Interested);
    }

    #[test]
    fn sentiment_and_urgency_follow_the_words_and_emoji() {
        let c = |t: &str| {
            classify(
                &Inbound {
                    text: t,
                    ..Inbound::default()
                },
                day(),
                &[],
            )
        };
        assert!(c("Very interested, this is great 😍").sentiment > 50);
        assert!(c("This is spam, terrible 😡").sentiment < -80);
        assert!(c("not bad").sentiment > 0, "negated negative");
        assert_eq!(c("Interested, call me ASAP").urgency, Urgency::Urgent);
        assert_eq!(c("This is spam").urgency, Urgency::High);
        assert_eq!(c("ok").urgency, Urgency::Low);
        assert_eq!(c("ok").intent, Intent::Other);
        assert!(c("ok").confidence < 0.5);
    }

    #[test]
    fn a_tenants_own_trigger_counts_like_a_lexicon_phrase() {
        let own = [Trigger {
            phrase: "Site visit".into(),
            intent: Intent::Interested,
        }];
        let c = classify(
            &Inbound {
                text: "site visit tomorrow",
                ..Inbound::default()
            },
            day(),
            &own,
        );
        assert_eq!(c.intent, Intent::Interested);
        assert!(
            c.reasons.iter().any(|r| r.contains("site visit")),
            "{:?}",
            c.reasons
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            " ",
            "????",
            "🙂🙂🙂",
            &"a".repeat(100_000),
            "\u{0}\u{202E}",
            "؟؟",
        ] {
            let c = classify(
                &Inbound {
                    text,
                    ..Inbound::default()
                },
                day(),
                &[],
            );
            assert!((0.0..=1.0).contains(&c.confidence));
            assert!((-100..=100).contains(&c.sentiment));
        }
    }
}
