//! Sentence cleaning: NFC, invisible characters, whitespace.

use unicode_normalization::UnicodeNormalization;

/// Spaces that French typography places on purpose (before `? ! : ;`, inside
/// guillemets, between digit groups). Cleaning keeps them as they are.
pub const TYPOGRAPHIC_SPACES: [char; 3] = [
    '\u{00A0}', // NO-BREAK SPACE
    '\u{202F}', // NARROW NO-BREAK SPACE
    '\u{2009}', // THIN SPACE
];

/// Invisible characters that carry nothing and are removed: byte order mark
/// and zero-width space.
const INVISIBLE: [char; 2] = ['\u{FEFF}', '\u{200B}'];

/// Cleans one sentence.
///
/// 1. Unicode NFC.
/// 2. Removes U+FEFF and U+200B.
/// 3. Replaces each run of whitespace by one character: the run's first
///    [`TYPOGRAPHIC_SPACES`] member if it has one (so `"Cours \u{202F}!"`
///    becomes `"Cours\u{202F}!"`), otherwise one ASCII space.
/// 4. Trims whitespace at both ends.
pub fn clean_sentence(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut run: Option<char> = None; // pending whitespace run: the char to emit
    for c in raw.nfc().filter(|c| !INVISIBLE.contains(c)) {
        if c.is_whitespace() {
            let keep = TYPOGRAPHIC_SPACES.contains(&c);
            run = match run {
                Some(prev) if TYPOGRAPHIC_SPACES.contains(&prev) => Some(prev),
                _ if keep => Some(c),
                _ => Some(' '),
            };
        } else {
            if let Some(space) = run.take() {
                if !out.is_empty() {
                    out.push(space);
                }
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_and_trims_breaking_whitespace() {
        assert_eq!(clean_sentence("  Tom \t est\n\n  là.  "), "Tom est là.");
        assert_eq!(clean_sentence("a\u{2003}\u{3000}b"), "a b");
    }

    #[test]
    fn keeps_typographic_spaces() {
        assert_eq!(clean_sentence("Cours\u{202F}!"), "Cours\u{202F}!");
        assert_eq!(
            clean_sentence("«\u{00A0}Oui\u{00A0}»"),
            "«\u{00A0}Oui\u{00A0}»"
        );
        assert_eq!(clean_sentence("Quoi\u{2009}?"), "Quoi\u{2009}?");
        // A breaking space next to a no-break space is an artefact: the
        // no-break space wins.
        assert_eq!(clean_sentence("Cours \u{202F}!"), "Cours\u{202F}!");
        assert_eq!(clean_sentence("Cours\u{00A0} !"), "Cours\u{00A0}!");
        // but they are trimmed at the ends
        assert_eq!(clean_sentence("\u{00A0}Oui\u{202F}"), "Oui");
    }

    #[test]
    fn normalises_to_nfc_and_drops_invisible_characters() {
        // "é" as e + COMBINING ACUTE ACCENT, "É" likewise
        let decomposed = "Cafe\u{0301} E\u{0301}tat";
        assert_eq!(clean_sentence(decomposed), "Café État");
        assert_eq!(clean_sentence("\u{FEFF}Go.\u{200B}"), "Go.");
        assert_eq!(clean_sentence("a \u{200B}\u{200B}b"), "a b");
    }

    #[test]
    fn empty_and_blank_become_empty() {
        assert_eq!(clean_sentence(""), "");
        assert_eq!(clean_sentence(" \t\u{00A0} "), "");
    }
}
