//! Property tests that throw arbitrary outside input at the parsers that take it:
//! templates typed by members, CSV sheets uploaded by them, and webhook signatures
//! sent by anyone. `PROPTEST_CASES` sets how many inputs each property tries (256 by
//! default; the hardening note records a longer run).

use crate::crm::import::sheet::{decode, guard, CsvOut, Sheet};
use crate::outreach::ssr::inbound::{message_id_of, verify_meta_signature};
use crate::outreach::template::{Template, TemplateError};
use crate::standard_webhooks::WebhookKey;
use proptest::prelude::*;
use std::collections::HashMap;

/// Text weighted towards the characters the template grammar cares about.
fn template_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("|".to_string()),
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just("{{name}}".to_string()),
            Just("{{company|صديقنا}}".to_string()),
            "\\PC{0,6}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn error_position(e: &TemplateError) -> Option<usize> {
    let (_, args) = e.describe();
    args.iter()
        .find(|(name, _)| *name == "at")
        .and_then(|(_, v)| v.parse().ok())
}

proptest! {
    #[test]
    fn templates_parse_or_point_inside_the_text(source in template_text(), seed: u64) {
        match Template::parse(&source) {
            Ok(template) => {
                let values = HashMap::from([("name".to_string(), "Ada".to_string())]);
                let once = template.render(&values, seed);
                prop_assert_eq!(once, template.render(&values, seed));
                let _ = template.check(&["name"], Some(&values));
            }
            Err(e) => {
                if let Some(at) = error_position(&e) {
                    prop_assert!(at <= source.chars().count(), "{e:?} in {source:?}");
                }
            }
        }
    }

    #[test]
    fn text_without_braces_is_itself(text in "[^{}]{0,200}", seed: u64) {
        let template = Template::parse(&text).unwrap();
        prop_assert_eq!(template.render(&HashMap::new(), seed), text);
    }

    #[test]
    fn any_upload_decodes_or_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(text) = decode(&bytes) {
            let sheet = Sheet::new(&text);
            let _ = sheet.survey(5);
        }
    }

    #[test]
    fn exported_cells_read_back_as_written(
        rows in proptest::collection::vec(
            proptest::collection::vec("[^\u{0}]{0,12}", 2..4),
            1..12,
        ),
        delimiter in prop_oneof![Just(b','), Just(b';'), Just(b'\t')],
    ) {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
            .collect();
        prop_assume!(!rows.is_empty());
        let mut out = CsvOut::new(delimiter, true);
        out.row(["first", "second", "third"]).unwrap();
        for row in &rows {
            out.row(row).unwrap();
        }
        let text = decode(&out.finish().unwrap()).unwrap();
        let sheet = Sheet::new(&text);
        let (headers, read) = sheet.rows();
        prop_assert_eq!(headers, ["first", "second", "third"]);
        let read: Vec<Vec<String>> = read.map(|r| r.cells).collect();
        let expected: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| guard(c).trim().to_string()).collect())
            .collect();
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn meta_signatures_hold_only_for_the_body_signed(
        secret in "\\PC{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        header in proptest::option::of("\\PC{0,80}"),
    ) {
        let good = format!(
            "sha256={}",
            crate::crypto::hex(&crate::crypto::hmac_sha256(secret.as_bytes(), &body))
        );
        prop_assert!(verify_meta_signature(&secret, &body, Some(&good)));
        // A guessed header never passes (a collision with HMAC-SHA256 is out of reach).
        prop_assert!(!verify_meta_signature(&secret, &body, header.as_deref()));
        let mut tampered = body.clone();
        tampered.push(0);
        prop_assert!(!verify_meta_signature(&secret, &tampered, Some(&good)));
    }

    #[test]
    fn standard_webhook_checks_never_panic(
        id in "\\PC{0,40}",
        timestamp in "\\PC{0,20}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        signatures in "\\PC{0,120}",
        now: i64,
    ) {
        let key = WebhookKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let _ = key.verify(&id, &timestamp, &body, &signatures, now);
        let _ = message_id_of(&id);
    }
}
