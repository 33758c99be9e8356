//! Sentence segmentation: the model translates one sentence at a time, users
//! paste paragraphs.
//!
//! - [`segment`] cuts English text into [`Segment`]s, each keeping the
//!   whitespace that follows it, so [`reassemble`] puts the translations back
//!   with the original spaces, line breaks and blank lines.
//! - [`split_long`] cuts a sentence over the model's token budget into
//!   [`Piece`]s: at clause marks first, then at commas and dashes, then
//!   between words. Nothing is dropped; a single word over the budget is kept
//!   whole and flagged.
//!
//! Rules of [`segment`]:
//! - Sentences end only at whitespace, so decimals (`3.14`, `1,000.50`),
//!   versions (`2.0.1`), URLs and e-mail addresses are never cut.
//! - A line break always ends a sentence.
//! - Closing quotes and brackets after the final mark stay with the sentence:
//!   `He said "Stop." Then he left.` is `He said "Stop."` + `Then he left.`
//! - `?` or `!` (also `?!`, `!!`, `?..`) ends a sentence, except inside a
//!   closing quote or bracket before a lower-case word: `"Why?" he asked.`
//! - An ellipsis (`...`, `…`) ends a sentence only before a capital letter:
//!   `Wait... what?` is one sentence, `I don't know... Maybe later.` two.
//! - A period ends a sentence unless the next word starts in lower case,
//!   except that titles and Latin abbreviations (`Mr.`, `Dr.`, `e.g.`,
//!   `vs.`) never do; `No.`, `p.`, `Jan.` do not before a number; `etc.`,
//!   `a.m.`, `Inc.` do only before a capital; initials and dotted
//!   abbreviations (`J.`, `U.S.`, `Ph.D.`, `St.`) do only before a common
//!   sentence opener (`The`, `He`, `It's`, …); and a number opening a
//!   sentence is a list marker (`1. Buy milk.`).

use std::ops::Range;

/// One sentence of the input and the whitespace around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Whitespace before the sentence that no earlier segment carries: the
    /// start of the input for the first segment, empty for the others.
    pub leading: String,
    /// The sentence, without leading or trailing whitespace; never empty.
    pub text: String,
    /// The whitespace between this sentence and the next one (or the end of
    /// the input), exactly as it was.
    pub separator_after: String,
}

/// Splits `text` into sentences (see the module docs for the rules).
///
/// Input with no visible character gives no segments. Otherwise
/// `leading + text + separator_after` over all segments is `text` exactly.
pub fn segment(text: &str) -> Vec<Segment> {
    let words = words(text, 0..text.len());
    let mut segments = Vec::new();
    let Some(first) = words.first() else {
        return segments;
    };
    let mut leading = &text[..first.start];
    let mut start = first.start;
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1);
        let gap = word.end..next.map_or(text.len(), |n| n.start);
        let ends = match next {
            None => true,
            Some(next) => {
                text[gap.clone()].chars().any(is_line_break)
                    || ends_sentence(
                        &text[word.clone()],
                        &text[next.clone()],
                        word.start == start,
                    )
            }
        };
        if ends {
            segments.push(Segment {
                leading: leading.to_owned(),
                text: text[start..word.end].to_owned(),
                separator_after: text[gap.clone()].to_owned(),
            });
            leading = "";
            start = gap.end;
        }
    }
    segments
}

/// Joins translated sentences with the whitespace of the original text.
///
/// Each translation is trimmed, then placed between its segment's `leading`
/// and `separator_after`. With `translation == segment.text` for every
/// segment, the result is the text given to [`segment`].
pub fn reassemble<S: AsRef<str>>(translated: &[(Segment, S)]) -> String {
    let mut out = String::new();
    for (segment, translation) in translated {
        out.push_str(&segment.leading);
        out.push_str(translation.as_ref().trim());
        out.push_str(&segment.separator_after);
    }
    out
}

/// Part of a sentence cut by [`split_long`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The text, without leading or trailing whitespace.
    pub text: String,
    /// The whitespace that followed the piece in the sentence (empty after
    /// the last one): joining `text + separator_after` restores the sentence.
    pub separator_after: String,
    /// `count_tokens(text)`.
    pub tokens: usize,
    /// The piece is a single word over the budget: it cannot be cut without
    /// breaking the word, so it is kept whole for the caller to refuse or
    /// truncate.
    pub oversized: bool,
}

/// Cuts `sentence` (trimmed) into pieces of at most `max_tokens` tokens as
/// counted by `count_tokens`.
///
/// A sentence within the budget is one piece. A longer one is cut after `;`,
/// `:`, `?`, `!` or `…`; a part still too long after `,` or a dash standing
/// as a word (`—`, `–`, `-`); a part still too long between words. At each
/// level consecutive parts are packed greedily into pieces that fit. Cuts
/// are only made at whitespace, which goes to `separator_after`, so nothing
/// is lost. A whitespace-only sentence gives no pieces.
pub fn split_long(
    sentence: &str,
    max_tokens: usize,
    count_tokens: impl Fn(&str) -> usize,
) -> Vec<Piece> {
    let text = sentence.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let whole = count_tokens(text);
    let mut cuts = Vec::new();
    if whole <= max_tokens {
        cuts.push((0..text.len(), whole));
    } else {
        let mut splitter = Splitter {
            text,
            max_tokens,
            count_tokens: &count_tokens,
            out: &mut cuts,
        };
        splitter.split(0..text.len(), Level::Clause);
    }
    let ends = cuts
        .iter()
        .skip(1)
        .map(|(r, _)| r.start)
        .chain([text.len()]);
    cuts.iter()
        .zip(ends)
        .map(|((range, tokens), next_start)| Piece {
            text: text[range.clone()].to_owned(),
            separator_after: text[range.end..next_start].to_owned(),
            tokens: *tokens,
            oversized: *tokens > max_tokens,
        })
        .collect()
}

/// Where [`split_long`] may cut, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// After `; : ? ! …`.
    Clause,
    /// After `,` or a dash.
    Phrase,
    /// Between any two words.
    Word,
}

impl Level {
    fn weaker(self) -> Option<Self> {
        match self {
            Self::Clause => Some(Self::Phrase),
            Self::Phrase => Some(Self::Word),
            Self::Word => None,
        }
    }
}

struct Splitter<'a, F> {
    text: &'a str,
    max_tokens: usize,
    count_tokens: &'a F,
    out: &'a mut Vec<(Range<usize>, usize)>,
}

impl<F: Fn(&str) -> usize> Splitter<'_, F> {
    /// Packs the parts of `range` cut at `level`; a part over the budget is
    /// cut at the next weaker level and stands alone.
    fn split(&mut self, range: Range<usize>, level: Level) {
        let mut current: Option<(Range<usize>, usize)> = None;
        for part in parts(self.text, range, level) {
            if let Some((open, _)) = &current {
                let joined = open.start..part.end;
                let tokens = (self.count_tokens)(&self.text[joined.clone()]);
                if tokens <= self.max_tokens {
                    current = Some((joined, tokens));
                    continue;
                }
                self.out.extend(current.take());
            }
            let tokens = (self.count_tokens)(&self.text[part.clone()]);
            match level.weaker() {
                _ if tokens <= self.max_tokens => current = Some((part, tokens)),
                Some(weaker) => self.split(part, weaker),
                None => self.out.push((part, tokens)),
            }
        }
        self.out.extend(current);
    }
}

/// The parts of `range` separated by whitespace after a word that allows a
/// cut at `level` (every word at [`Level::Word`]).
fn parts(text: &str, range: Range<usize>, level: Level) -> Vec<Range<usize>> {
    let words = words(text, range);
    let mut parts = Vec::new();
    let mut start = None;
    for (i, word) in words.iter().enumerate() {
        let part_start = *start.get_or_insert(word.start);
        let last = i + 1 == words.len();
        if last || cut_level(&text[word.clone()]) <= level {
            parts.push(part_start..word.end);
            start = None;
        }
    }
    parts
}

/// The strongest [`Level`] at which a cut after `word` is allowed.
fn cut_level(word: &str) -> Level {
    let core = word.trim_end_matches(is_closer);
    if !core.is_empty() && core.chars().all(is_dash) {
        return Level::Phrase;
    }
    match core.chars().last() {
        Some(';' | ':' | '…') => Level::Clause,
        Some(c) if is_strong_mark(c) => Level::Clause,
        Some(c) if c == ',' || is_dash(c) => Level::Phrase,
        _ => Level::Word,
    }
}

/// Maximal runs of non-whitespace inside `range`, as byte ranges of `text`.
fn words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let offset = range.start;
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text[range.clone()].char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push(offset + s..offset + i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push(offset + s..range.end);
    }
    words
}

/// How the word after a possible sentence end begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Upper,
    Lower,
    Digit,
    Other,
}

/// Whether a sentence ends after `word`, on the same line as `next`.
/// `first` says that `word` opens its sentence.
fn ends_sentence(word: &str, next: &str, first: bool) -> bool {
    let core = word.trim_end_matches(is_closer);
    let closed = core.len() < word.len();
    let stem = core.trim_end_matches(is_terminal);
    let marks = &core[stem.len()..];
    if marks.is_empty() {
        return false;
    }
    let next_start = start_of(next);
    if marks.chars().any(is_strong_mark) {
        !(closed && next_start == Start::Lower)
    } else if marks.contains('…') || marks.len() > 1 {
        next_start == Start::Upper
    } else {
        period_ends(stem, next, next_start, first)
    }
}

/// Whether a single period after `stem` ends the sentence.
fn period_ends(stem: &str, next: &str, next_start: Start, first: bool) -> bool {
    let bare = stem
        .trim_start_matches(is_opener)
        .trim_end_matches(is_closer);
    if first && (1..=3).contains(&bare.len()) && bare.bytes().all(|b| b.is_ascii_digit()) {
        return false; // list marker: "1. Buy milk."
    }
    let key = bare.to_lowercase();
    let key = key.as_str();
    let never =
        NEVER_FINAL.contains(&key) || (BEFORE_NUMBER.contains(&key) && next_start == Start::Digit);
    if never {
        false
    } else if FINAL_BEFORE_CAPITAL.contains(&key) {
        next_start == Start::Upper
    } else if FINAL_BEFORE_OPENER.contains(&key) || is_initialism(bare) {
        opens_sentence(next)
    } else {
        next_start != Start::Lower
    }
}

/// `J`, `U.S`, `Ph.D`: letter groups of one or two joined by dots, at least
/// one of a single letter; a lone letter must be a capital.
fn is_initialism(bare: &str) -> bool {
    let groups: Vec<&str> = bare.split('.').collect();
    let all_short = groups.iter().all(|g| {
        let n = g.chars().count();
        (1..=2).contains(&n) && g.chars().all(char::is_alphabetic)
    });
    let has_single = groups.iter().any(|g| g.chars().count() == 1);
    match groups.as_slice() {
        [one] => one.chars().count() == 1 && one.chars().all(char::is_uppercase),
        _ => all_short && has_single,
    }
}

fn start_of(word: &str) -> Start {
    if word.contains("://") || word.starts_with("www.") || word.contains('@') {
        return Start::Other; // an address opens a sentence whatever its case
    }
    match word.trim_start_matches(is_opener).chars().next() {
        Some(c) if c.is_uppercase() => Start::Upper,
        Some(c) if c.is_lowercase() => Start::Lower,
        Some(c) if c.is_numeric() => Start::Digit,
        _ => Start::Other,
    }
}

/// Whether `word` is a capitalised common sentence opener (`It's`, `"The`),
/// not another initial (`A.`).
fn opens_sentence(word: &str) -> bool {
    let bare = word.trim_start_matches(is_opener);
    let head_len = bare
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(bare.len(), |(i, _)| i);
    let head = &bare[..head_len];
    let initial = head.chars().count() == 1 && bare[head_len..].starts_with('.');
    head.chars().next().is_some_and(char::is_uppercase)
        && !initial
        && SENTENCE_OPENERS.contains(&head.to_lowercase().as_str())
}

/// Titles and Latin abbreviations: always followed by more of the sentence.
const NEVER_FINAL: &[&str] = &[
    "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "fr", "gen", "col", "capt", "lt", "sgt", "cmdr",
    "adm", "gov", "sen", "rep", "pres", "hon", "messrs", "mme", "mlle", "e.g", "i.e", "vs", "v",
    "cf", "viz", "approx",
];

/// Abbreviations usually followed by a number.
const BEFORE_NUMBER: &[&str] = &[
    "no", "nos", "nr", "vol", "vols", "p", "pp", "fig", "figs", "ch", "chap", "sec", "para", "eq",
    "tel", "ext", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec",
];

/// Abbreviations that often end a sentence: they do before a capital.
const FINAL_BEFORE_CAPITAL: &[&str] = &[
    "etc", "a.m", "p.m", "jr", "sr", "inc", "ltd", "co", "corp", "bros", "llc", "esq", "al",
];

/// Abbreviations often followed by a name: they end a sentence only before
/// a common sentence opener.
const FINAL_BEFORE_OPENER: &[&str] = &["st", "mt", "ft", "ave", "rd", "blvd", "dept", "univ"];

/// Words that commonly open an English sentence (lower case).
const SENTENCE_OPENERS: &[&str] = &[
    "a", "after", "all", "also", "an", "and", "are", "as", "at", "be", "because", "before", "but",
    "can", "could", "did", "do", "does", "don", "for", "from", "he", "her", "here", "his", "how",
    "however", "i", "if", "in", "is", "it", "its", "let", "many", "maybe", "most", "my", "no",
    "not", "now", "of", "on", "one", "our", "please", "she", "since", "so", "some", "that", "the",
    "their", "then", "there", "these", "they", "this", "those", "to", "we", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "yes", "you", "your",
];

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_terminal(c: char) -> bool {
    c == '.' || c == '…' || is_strong_mark(c)
}

fn is_strong_mark(c: char) -> bool {
    matches!(c, '?' | '!' | '‽' | '⁇' | '⁈' | '⁉' | '‼')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | '»' | '›' | ')' | ']' | '}')
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '„' | '«' | '‹' | '(' | '[' | '{' | '¿' | '¡'
    )
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_byte_ranges_of_non_whitespace() {
        let text = " ab  c\u{00A0}dé\n";
        let got: Vec<&str> = words(text, 0..text.len())
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(got, ["ab", "c", "dé"]);
        assert_eq!(words(text, 1..4), vec![1..3]);
    }

    #[test]
    fn sentence_end_depends_on_the_next_word() {
        assert!(ends_sentence("home.", "Then", false));
        assert!(!ends_sentence("approx.", "five", false));
        assert!(ends_sentence("now?!", "ok", false));
        assert!(!ends_sentence("why?\"", "he", false));
        assert!(ends_sentence("why?\"", "He", false));
        assert!(!ends_sentence("Wait...", "what?", false));
        assert!(ends_sentence("know…", "Maybe", false));
        assert!(!ends_sentence("1.", "Buy", true));
        assert!(ends_sentence("1.", "Buy", false));
        assert!(!ends_sentence("home", "Then", false));
    }

    #[test]
    fn abbreviations_by_kind() {
        assert!(!ends_sentence("Dr.", "Smith", false));
        assert!(!ends_sentence("(e.g.", "Paris)", false));
        assert!(!ends_sentence("No.", "5", false));
        assert!(
            ends_sentence("no.", "Tom", false),
            "the word \"no\" ends sentences"
        );
        assert!(ends_sentence("etc.", "Tom", false));
        assert!(!ends_sentence("etc.", "and", false));
        assert!(!ends_sentence("U.S.", "Army", false));
        assert!(ends_sentence("U.S.", "It's", false));
        assert!(!ends_sentence("J.", "R.", false));
        assert!(!ends_sentence("B.", "A.", false), "an initial is no opener");
        assert!(ends_sentence("B.", "A", false));
    }

    #[test]
    fn initialisms() {
        for yes in ["J", "U.S", "Ph.D", "U.S.A", "e.g"] {
            assert!(is_initialism(yes), "{yes}");
        }
        for no in ["j", "example.com", "co.uk", "3.14", "Tom", ""] {
            assert!(!is_initialism(no), "{no}");
        }
    }

    #[test]
    fn next_word_start() {
        assert_eq!(start_of("\"(Then"), Start::Upper);
        assert_eq!(start_of("¿qué"), Start::Lower);
        assert_eq!(start_of("3.5"), Start::Digit);
        assert_eq!(start_of("https://x.org"), Start::Other);
        assert_eq!(start_of("bob@example.com"), Start::Other);
        assert_eq!(start_of("—"), Start::Other);
    }

    #[test]
    fn cut_levels() {
        assert_eq!(cut_level("then;"), Level::Clause);
        assert_eq!(cut_level("said:"), Level::Clause);
        assert_eq!(cut_level("\"Why?\""), Level::Clause);
        assert_eq!(cut_level("apples,"), Level::Phrase);
        assert_eq!(cut_level("—"), Level::Phrase);
        assert_eq!(cut_level("--"), Level::Phrase);
        assert_eq!(cut_level("well-known"), Level::Word);
        assert_eq!(cut_level("Mr."), Level::Word);
    }

    #[test]
    fn parts_at_each_level() {
        let text = "a, b; c d";
        let at = |level| -> Vec<&str> {
            parts(text, 0..text.len(), level)
                .into_iter()
                .map(|r| &text[r])
                .collect()
        };
        assert_eq!(at(Level::Clause), ["a, b;", "c d"]);
        assert_eq!(at(Level::Phrase), ["a,", "b;", "c d"]);
        assert_eq!(at(Level::Word), ["a,", "b;", "c", "d"]);
    }
}
