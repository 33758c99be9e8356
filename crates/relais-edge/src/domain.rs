//! Validated inputs: what a handler may trust once parsed.

use crate::EdgeError;

/// Limits a source text must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Most characters.
    pub max_chars: usize,
    /// Most sentences.
    pub max_sentences: usize,
}

/// English text accepted for translation: control characters removed (newline
/// and tab kept), surrounding whitespace trimmed, not empty, within the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceText(String);

impl SourceText {
    /// Cleans and checks `raw`.
    pub fn parse(raw: &str, limits: TextLimits) -> Result<SourceText, EdgeError> {
        let text = clean(raw);
        if text.is_empty() {
            return Err(EdgeError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > limits.max_chars {
            return Err(EdgeError::TextTooLong {
                chars,
                max: limits.max_chars,
            });
        }
        let count = count_sentences(&text);
        if count > limits.max_sentences {
            return Err(EdgeError::TooManySentences {
                count,
                max: limits.max_sentences,
            });
        }
        Ok(SourceText(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its length in characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

/// A French correction sent as feedback: cleaned like [`SourceText`], not
/// empty, within `max_chars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction(String);

impl Correction {
    /// Cleans and checks `raw`.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Correction, EdgeError> {
        let text = clean(raw);
        if text.is_empty() {
            return Err(EdgeError::EmptyCorrection);
        }
        let chars = text.chars().count();
        if chars > max_chars {
            return Err(EdgeError::CorrectionTooLong {
                chars,
                max: max_chars,
            });
        }
        Ok(Correction(text))
    }

    /// The correction.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Removes control characters except newline and tab, then trims.
fn clean(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    kept.trim().to_owned()
}

/// Sentences, counted on `.`, `!`, `?` followed by whitespace or the end (a run
/// such as `?!` or `...` ends one sentence); trailing text without a
/// terminator is one more. `3.14` does not split.
pub fn count_sentences(text: &str) -> usize {
    let mut count = 0;
    let mut in_sentence = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let is_end = matches!(c, '.' | '!' | '?');
        if is_end {
            let next = chars.peek();
            let boundary = next.is_none_or(|n| n.is_whitespace());
            if boundary && in_sentence {
                count += 1;
                in_sentence = false;
            }
        } else if !c.is_whitespace() {
            in_sentence = true;
        }
    }
    count + usize::from(in_sentence)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TextLimits = TextLimits {
        max_chars: 20,
        max_sentences: 2,
    };

    #[test]
    fn cleans_control_characters_but_keeps_newlines_and_tabs() {
        let t = SourceText::parse("  Hi\u{0}\u{7}\tyou\nthere \u{1b} ", LIMITS).expect("valid");
        assert_eq!(t.as_str(), "Hi\tyou\nthere");
    }

    #[test]
    fn rejects_empty_long_and_wordy_texts() {
        assert!(matches!(
            SourceText::parse(" \n\t\u{0} ", LIMITS),
            Err(EdgeError::EmptyText)
        ));
        assert!(matches!(
            SourceText::parse(&"a".repeat(21), LIMITS),
            Err(EdgeError::TextTooLong { chars: 21, max: 20 })
        ));
        assert!(matches!(
            SourceText::parse("A. B. C.", LIMITS),
            Err(EdgeError::TooManySentences { count: 3, max: 2 })
        ));
        assert_eq!(
            SourceText::parse("é".repeat(20).as_str(), LIMITS)
                .map(|t| t.chars())
                .ok(),
            Some(20)
        );
    }

    #[test]
    fn counts_sentences() {
        for (text, n) in [
            ("Hello", 1),
            ("Hello.", 1),
            ("Hello. World", 2),
            ("Wait... what?!", 2),
            ("Pi is 3.14 today.", 1),
            ("One! Two? Three.", 3),
            ("...", 0),
            ("", 0),
        ] {
            assert_eq!(count_sentences(text), n, "{text:?}");
        }
    }

    #[test]
    fn corrections() {
        assert!(matches!(
            Correction::parse("  ", 5),
            Err(EdgeError::EmptyCorrection)
        ));
        assert!(matches!(
            Correction::parse("abcdef", 5),
            Err(EdgeError::CorrectionTooLong { chars: 6, max: 5 })
        ));
        assert_eq!(
            Correction::parse(" Bonjour ", 10)
                .map(Correction::into_string)
                .ok(),
            Some("Bonjour".to_owned())
        );
    }
}
