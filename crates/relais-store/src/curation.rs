//! Curation of user corrections: which ones may become training pairs.
//!
//! Pure functions, no SQL. [`curate`] applies the rules in a fixed order and
//! returns the first one that fails, as a [`Rejection`] with a stable code.

use std::fmt;

use relais_text::clean_sentence;

/// Why a correction was not accepted, in machine-readable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// Nothing but whitespace.
    Empty,
    /// Not text: no letters, long runs of one character, mostly symbols, links.
    Junk,
    /// The same as the machine translation once whitespace is normalised.
    Unchanged,
    /// The English source again, or text that reads as English.
    NotFrench,
    /// Far longer or shorter than the source sentence.
    LengthRatio,
}

impl RejectionCode {
    /// The code as stored and reported (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::Empty => "empty",
            RejectionCode::Junk => "junk",
            RejectionCode::Unchanged => "unchanged",
            RejectionCode::NotFrench => "not_french",
            RejectionCode::LengthRatio => "length_ratio",
        }
    }

    /// Reads a stored code back.
    pub fn parse(code: &str) -> Option<Self> {
        [
            RejectionCode::Empty,
            RejectionCode::Junk,
            RejectionCode::Unchanged,
            RejectionCode::NotFrench,
            RejectionCode::LengthRatio,
        ]
        .into_iter()
        .find(|c| c.as_str() == code)
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected correction: a stable code and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Machine-readable reason.
    pub code: RejectionCode,
    /// Human-readable reason.
    pub reason: String,
}

impl Rejection {
    fn new(code: RejectionCode, reason: impl Into<String>) -> Self {
        Rejection {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

impl std::error::Error for Rejection {}

/// Bounds of `(correction chars + SLACK) / (source chars + SLACK)`; the slack
/// keeps short sentences ("Hi." → "Salut.") from tripping the ratio.
const MAX_RATIO: f64 = 3.0;
const RATIO_SLACK: f64 = 5.0;
/// A run of this many identical characters (other than digits) is junk.
const MAX_RUN: usize = 5;
/// At least this share of the non-space characters must be letters.
const MIN_LETTER_SHARE: f64 = 0.5;

/// Function words that are common in English and rare in French.
const ENGLISH_WORDS: &[&str] = &[
    "the", "and", "is", "are", "was", "were", "you", "i", "he", "she", "it", "we", "they", "of",
    "to", "in", "that", "this", "with", "for", "have", "has", "do", "does", "not", "my", "your",
    "what", "be", "will", "would", "can", "at", "there", "his", "her", "from", "been", "don",
    "didn", "isn", "ll", "ve", "re",
];
/// Function words that are common in French and rare in English.
const FRENCH_WORDS: &[&str] = &[
    "le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "je", "j", "tu", "il", "elle",
    "nous", "vous", "ils", "elles", "ne", "n", "pas", "que", "qu", "qui", "en", "dans", "pour",
    "avec", "sur", "ce", "c", "cette", "mon", "ma", "mes", "ton", "ta", "son", "sa", "au", "aux",
    "ai", "as", "suis", "es", "sont", "l", "d", "y", "très",
];

/// Decides whether `correction`, proposed for the English `source_en` whose
/// machine translation was `machine_fr`, may become a training pair.
pub fn curate(source_en: &str, machine_fr: &str, correction: &str) -> Result<(), Rejection> {
    let correction = clean_sentence(correction);
    if correction.is_empty() {
        return Err(Rejection::new(
            RejectionCode::Empty,
            "the correction is empty",
        ));
    }
    junk(&correction)?;
    if correction == clean_sentence(machine_fr) {
        return Err(Rejection::new(
            RejectionCode::Unchanged,
            "the correction is identical to the machine translation",
        ));
    }
    not_french(&clean_sentence(source_en), &correction)?;
    length_ratio(source_en, &correction)
}

fn junk(text: &str) -> Result<(), Rejection> {
    let visible: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let letters = visible.iter().filter(|c| c.is_alphabetic()).count();
    if letters == 0 {
        return Err(Rejection::new(
            RejectionCode::Junk,
            "the correction has no letters",
        ));
    }
    let mut run = 1;
    for pair in visible.windows(2) {
        run = if pair[0] == pair[1] && !pair[1].is_ascii_digit() {
            run + 1
        } else {
            1
        };
        if run >= MAX_RUN {
            return Err(Rejection::new(
                RejectionCode::Junk,
                format!(
                    "the correction repeats {:?} {MAX_RUN} times or more",
                    pair[1]
                ),
            ));
        }
    }
    if (letters as f64) < MIN_LETTER_SHARE * visible.len() as f64 {
        return Err(Rejection::new(
            RejectionCode::Junk,
            "the correction is mostly symbols, not words",
        ));
    }
    let lower = text.to_lowercase();
    if lower.contains("http://") || lower.contains("https://") || lower.contains("www.") {
        return Err(Rejection::new(
            RejectionCode::Junk,
            "the correction contains a link",
        ));
    }
    Ok(())
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn not_french(source_en: &str, correction: &str) -> Result<(), Rejection> {
    if correction.to_lowercase() == source_en.to_lowercase() {
        return Err(Rejection::new(
            RejectionCode::NotFrench,
            "the correction repeats the English source",
        ));
    }
    let words = words(correction);
    let english = words
        .iter()
        .filter(|w| ENGLISH_WORDS.contains(&w.as_str()))
        .count();
    let french = words
        .iter()
        .filter(|w| FRENCH_WORDS.contains(&w.as_str()))
        .count();
    if english >= 2 && english > french {
        return Err(Rejection::new(
            RejectionCode::NotFrench,
            format!(
                "the correction reads as English ({english} English function words, {french} French)"
            ),
        ));
    }
    Ok(())
}

fn length_ratio(source_en: &str, correction: &str) -> Result<(), Rejection> {
    let source = clean_sentence(source_en).chars().count() as f64;
    let target = correction.chars().count() as f64;
    let ratio = (target + RATIO_SLACK) / (source + RATIO_SLACK);
    if ratio > MAX_RATIO {
        return Err(Rejection::new(
            RejectionCode::LengthRatio,
            format!("the correction is {ratio:.1} times as long as the source"),
        ));
    }
    if ratio < 1.0 / MAX_RATIO {
        return Err(Rejection::new(
            RejectionCode::LengthRatio,
            format!(
                "the correction is {:.1} times shorter than the source",
                1.0 / ratio
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = "I would like a cup of coffee, please.";
    const MT: &str = "Je voudrais une coupe de café, s'il vous plaît.";

    fn code(correction: &str) -> Option<RejectionCode> {
        curate(EN, MT, correction).err().map(|r| r.code)
    }

    #[test]
    fn good_corrections_are_accepted() {
        assert_eq!(
            code("Je voudrais une tasse de café, s'il vous plaît."),
            None
        );
        assert_eq!(code("Je voudrais un café, s’il te plaît."), None);
        assert_eq!(curate("Hi.", "Bonjour.", "Salut."), Ok(()));
        assert_eq!(curate("Go!", "Aller !", "Va\u{202F}!"), Ok(()));
        assert_eq!(
            curate(
                "He has 100000 dollars.",
                "Il a 100 000 dollars.",
                "Il possède 100000 dollars."
            ),
            Ok(())
        );
    }

    #[test]
    fn empty_and_whitespace_are_rejected() {
        assert_eq!(code(""), Some(RejectionCode::Empty));
        assert_eq!(code("  \t\n \u{200B}"), Some(RejectionCode::Empty));
    }

    #[test]
    fn insane_length_ratios_are_rejected() {
        let long = "Je voudrais une tasse de café bien chaud avec du lait et du sucre, \
                    servie dans la grande tasse bleue que ma grand-mère m'a donnée \
                    pour mon anniversaire il y a très longtemps, merci beaucoup.";
        let rejection = curate(EN, MT, long).unwrap_err();
        assert_eq!(rejection.code, RejectionCode::LengthRatio);
        assert!(rejection.reason.contains("times as long"), "{rejection}");
        assert_eq!(
            curate(EN, MT, "Café.").unwrap_err().code,
            RejectionCode::LengthRatio
        );
    }

    #[test]
    fn the_machine_output_again_is_rejected() {
        assert_eq!(code(MT), Some(RejectionCode::Unchanged));
        assert_eq!(
            code("  Je voudrais une coupe   de café,\ts'il vous plaît. "),
            Some(RejectionCode::Unchanged)
        );
    }

    #[test]
    fn junk_is_rejected() {
        assert_eq!(code("1234 5678 !!"), Some(RejectionCode::Junk));
        assert_eq!(code("Je voudrais du caféééééé"), Some(RejectionCode::Junk));
        assert_eq!(code("?!?! ## @@ %% le café $$"), Some(RejectionCode::Junk));
        assert_eq!(
            code("Achetez du café sur https://spam.example"),
            Some(RejectionCode::Junk)
        );
        assert_eq!(code("..."), Some(RejectionCode::Junk));
    }

    #[test]
    fn english_is_rejected() {
        let rejection = curate(EN, MT, "i would like a cup of coffee, please.").unwrap_err();
        assert_eq!(rejection.code, RejectionCode::NotFrench);
        assert!(rejection.reason.contains("English source"), "{rejection}");
        let rejection = curate(EN, MT, "I want the coffee and it is for you.").unwrap_err();
        assert_eq!(rejection.code, RejectionCode::NotFrench);
        assert!(rejection.reason.contains("reads as English"), "{rejection}");
        // French with an English-looking word or two is still French.
        assert_eq!(
            code("Je voudrais un café au lait, avec le sucre à part."),
            None
        );
    }

    #[test]
    fn codes_round_trip_through_text() {
        for code in [
            RejectionCode::Empty,
            RejectionCode::Junk,
            RejectionCode::Unchanged,
            RejectionCode::NotFrench,
            RejectionCode::LengthRatio,
        ] {
            assert_eq!(RejectionCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(RejectionCode::parse("nope"), None);
    }
}
