//! Scoring the classifier on labelled replies: the tests' floor and the bench's table.

use super::classify::{classify, Inbound};
use super::model::Intent;
use chrono::NaiveDate;

/// The labelled replies the tests and `cargo xtask bench` score the classifier on.
pub const LABELLED: &str = include_str!("testdata/labelled.tsv");

/// The labelled set as (expected intent, text).
pub fn labelled() -> Vec<(Intent, &'static str)> {
    LABELLED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (intent, text) = l.split_once('\t')?;
            Some((Intent::parse(intent)?, text))
        })
        .collect()
}

/// Precision, recall and F1 of one intent over a scored set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub intent: Intent,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Classifies every sample and scores each intent that occurs in it; with the
/// macro-averaged F1.
pub fn evaluate(samples: &[(Intent, &str)], today: NaiveDate) -> (Vec<Score>, f64) {
    let predicted: Vec<Intent> = samples
        .iter()
        .map(|(_, text)| {
            classify(
                &Inbound {
                    text,
                    ..Inbound::default()
                },
                today,
                &[],
            )
            .intent
        })
        .collect();
    let mut scores = Vec::new();
    for intent in Intent::ALL {
        let support = samples.iter().filter(|(i, _)| i == intent).count();
        if support == 0 {
            continue;
        }
        let hits = samples
            .iter()
            .zip(&predicted)
            .filter(|((want, _), got)| want == intent && *got == intent)
            .count() as f64;
        let said = predicted.iter().filter(|p| *p == intent).count() as f64;
        let precision = if said == 0.0 { 0.0 } else { hits / said };
        let recall = hits / support as f64;
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        scores.push(Score {
            intent: *intent,
            precision,
            recall,
            f1,
            support,
        });
    }
    let macro_f1 = scores.iter().map(|s| s.f1).sum::<f64>() / scores.len().max(1) as f64;
    (scores, macro_f1)
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
    fn the_labelled_set_scores_above_its_floor_in_every_language() {
        let set = labelled();
        assert!(set.len() >= 300, "{} samples", set.len());
        let (scores, macro_f1) = evaluate(&set, day());
        let misses: Vec<String> = set
            .iter()
            .filter(|(want, text)| intent_of(text) != *want)
            .map(|(want, text)| format!("{want:?} ← {:?}: {text}", intent_of(text)))
            .collect();
        for s in &scores {
            assert!(
                s.f1 >= 0.7,
                "{:?} F1 {:.2}; misses:\n{}",
                s.intent,
                s.f1,
                misses.join("\n")
            );
        }
        assert!(
            macro_f1 >= 0.9,
            "macro-F1 {macro_f1:.3}; misses:\n{}",
            misses.join("\n")
        );
    }
}
