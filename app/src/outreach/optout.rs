//! Opt-out words in replies (seed 004's suppression list feeds on this): English, Arabic,
//! Portuguese and Romanian. A reply opts out when, once normalised, it *is* one of the
//! phrases, or starts with one ("STOP please"), so "don't stop now!" does not.

/// Phrases that mean "stop messaging me", normalised (lower case, no accents, Arabic
/// diacritics removed).
const PHRASES: &[&str] = &[
    // English
    "stop",
    "stop all",
    "unsubscribe",
    "opt out",
    "optout",
    "cancel",
    "end",
    "quit",
    "remove me",
    "do not contact",
    "dont contact me",
    "no more messages",
    // Arabic
    "توقف",
    "قف",
    "الغاء",
    "إلغاء",
    "الغاء الاشتراك",
    "إلغاء الاشتراك",
    "لا ترسل",
    "لا تراسلني",
    "ايقاف",
    "إيقاف",
    // Portuguese
    "parar",
    "pare",
    "sair",
    "cancelar",
    "descadastrar",
    "nao quero mais",
    "remover",
    // Romanian
    "stop mesaje",
    "dezabonare",
    "dezabonez",
    "renunt",
    "nu mai trimiteti",
    "anulare",
];

/// Lower case, Latin accents folded (ã → a, ș → s), Arabic diacritics and tatweel
/// removed, punctuation turned into spaces, runs of spaces collapsed.
pub fn normalise(text: &str) -> String {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(*c, '\u{064B}'..='\u{065F}' | '\u{0640}' | '\u{0670}'))
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'ă' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ș' | 'ş' => 's',
            'ț' | 'ţ' => 't',
            '\'' | '’' => '\0',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .filter(|c| *c != '\0')
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a reply asks to stop all messages.
pub fn is_opt_out(reply: &str) -> bool {
    let text = normalise(reply);
    PHRASES.iter().any(|p| {
        let p = normalise(p);
        text == p || text.starts_with(&format!("{p} "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_in_four_languages() {
        for reply in [
            "STOP",
            "Stop.",
            "unsubscribe please",
            "Opt-out",
            "توقف",
            "إلغاء الاشتراك",
            "الغاء",
            "Pare!",
            "Não quero mais",
            "CANCELAR",
            "Dezabonare",
            "Renunț",
            "nu mai trimiteți",
            "  stop  ",
            "توقّف",
        ] {
            assert!(is_opt_out(reply), "{reply:?} should opt out");
        }
    }

    #[test]
    fn ordinary_replies_do_not() {
        for reply in [
            "Don't stop now, send me the brochure",
            "When does the offer end?",
            "I can't stop thinking about the villa",
            "أريد التفاصيل من فضلك",
            "Quero saber mais",
            "",
            "🙂",
        ] {
            assert!(!is_opt_out(reply), "{reply:?} should not opt out");
        }
    }
}
