//! Reading Tatoeba/manythings exports: a zip holding `fra.txt`, or the bare
//! tab-separated text.

use std::collections::HashSet;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use super::clean::clean_sentence;
use super::Pair;
use crate::error::{LineProblem, TextError};

/// What to do with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineMode {
    /// Fail on the first malformed line, naming it (what the importer wants).
    #[default]
    Strict,
    /// Skip malformed lines and count them in [`ReadStats::skipped_lines`].
    Lenient,
}

/// Counts gathered while reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// The zip member read, when the input was a zip archive.
    pub member: Option<String>,
    /// Lines in the text, blank ones included.
    pub lines: usize,
    /// Blank lines (ignored in both modes).
    pub blank_lines: usize,
    /// Malformed lines skipped in [`LineMode::Lenient`].
    pub skipped_lines: usize,
    /// Pairs dropped because an identical cleaned pair came earlier.
    pub duplicates: usize,
}

/// Cleaned, de-duplicated pairs in file order, with reading statistics.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub pairs: Vec<Pair>,
    pub stats: ReadStats,
}

/// Reads a corpus file strictly: cleaned, de-duplicated pairs in file order.
///
/// The file is a zip archive (recognised by its signature, whatever its
/// name) or UTF-8 text with lines `English<TAB>French[<TAB>attribution]`.
pub fn read_pairs(path: impl AsRef<Path>) -> Result<Vec<Pair>, TextError> {
    Ok(read_corpus(path, LineMode::Strict)?.pairs)
}

/// Reads a corpus file (zip or text) with the chosen [`LineMode`].
pub fn read_corpus(path: impl AsRef<Path>, mode: LineMode) -> Result<Corpus, TextError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| TextError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_corpus_bytes(&bytes, &path.display().to_string(), mode)
}

/// Parses a corpus held in memory (for example a downloaded body): a zip
/// archive if it starts with the zip signature, tab-separated text otherwise.
/// `source_name` only labels errors.
pub fn parse_corpus_bytes(
    bytes: &[u8],
    source_name: &str,
    mode: LineMode,
) -> Result<Corpus, TextError> {
    if bytes.starts_with(b"PK\x03\x04") {
        parse_zip(Cursor::new(bytes), source_name, mode)
    } else {
        parse_tsv_bytes(bytes, source_name, mode)
    }
}

/// Reads the pairs member of a zip archive: among the `.txt`/`.tsv` members
/// (`fra-eng/fra.txt` in older exports, `fra.txt` in newer ones, next to an
/// `_about.txt`), the one with the most lines holding a tab.
pub fn parse_zip<R: Read + Seek>(
    reader: R,
    source_name: &str,
    mode: LineMode,
) -> Result<Corpus, TextError> {
    let zip_err = |source| TextError::Zip {
        source_name: source_name.to_owned(),
        source,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let mut best: Option<(usize, String, Vec<u8>)> = None;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_err)?;
        let name = file.name().map_err(zip_err)?.into_owned();
        let lower = name.to_ascii_lowercase();
        if !file.is_file() || !(lower.ends_with(".txt") || lower.ends_with(".tsv")) {
            continue;
        }
        let mut data = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
        file.read_to_end(&mut data)
            .map_err(|source| TextError::Io {
                path: format!("{source_name}!{name}").into(),
                source,
            })?;
        let tab_lines = data
            .split(|&b| b == b'\n')
            .filter(|l| l.contains(&b'\t'))
            .count();
        if tab_lines > 0 && best.as_ref().is_none_or(|(n, _, _)| tab_lines > *n) {
            best = Some((tab_lines, name, data));
        }
    }
    let (_, member, data) = best.ok_or_else(|| TextError::NoPairsMember {
        source_name: source_name.to_owned(),
    })?;
    let mut corpus = parse_tsv_bytes(&data, &format!("{source_name}!{member}"), mode)?;
    corpus.stats.member = Some(member);
    Ok(corpus)
}

fn parse_tsv_bytes(bytes: &[u8], source_name: &str, mode: LineMode) -> Result<Corpus, TextError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TextError::NotUtf8 {
        source_name: source_name.to_owned(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })?;
    parse_tsv(text, source_name, mode)
}

/// Parses tab-separated text: one pair a line, 2 or 3 columns, blank lines
/// ignored, `\r\n` accepted. Each side is cleaned with
/// [`clean_sentence`](super::clean_sentence); exact duplicate pairs after
/// cleaning are dropped (the first is kept).
pub fn parse_tsv(text: &str, source_name: &str, mode: LineMode) -> Result<Corpus, TextError> {
    let mut stats = ReadStats::default();
    let mut pairs = Vec::new();
    let mut seen: HashSet<Pair> = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        stats.lines += 1;
        if line.trim().is_empty() {
            stats.blank_lines += 1;
            continue;
        }
        match parse_line(line) {
            Ok(pair) => {
                if seen.contains(&pair) {
                    stats.duplicates += 1;
                } else {
                    seen.insert(pair.clone());
                    pairs.push(pair);
                }
            }
            Err(problem) => match mode {
                LineMode::Lenient => stats.skipped_lines += 1,
                LineMode::Strict => {
                    return Err(TextError::MalformedLine {
                        source_name: source_name.to_owned(),
                        line: index + 1,
                        problem,
                    })
                }
            },
        }
    }
    Ok(Corpus { pairs, stats })
}

fn parse_line(line: &str) -> Result<Pair, LineProblem> {
    let columns: Vec<&str> = line.split('\t').collect();
    let (en, fr) = match columns.as_slice() {
        [_] => return Err(LineProblem::MissingTab),
        [en, fr] | [en, fr, _] => (clean_sentence(en), clean_sentence(fr)),
        more => return Err(LineProblem::TooManyColumns(more.len())),
    };
    if en.is_empty() {
        return Err(LineProblem::EmptyEnglish);
    }
    if fr.is_empty() {
        return Err(LineProblem::EmptyFrench);
    }
    Ok(Pair { en, fr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(en: &str, fr: &str) -> Pair {
        Pair {
            en: en.into(),
            fr: fr.into(),
        }
    }

    #[test]
    fn two_and_three_columns() {
        let text = "Go.\tVa !\nRun!\tCours\u{202F}!\tCC-BY 2.0 (France) Attribution: tatoeba.org #906328\r\n";
        let corpus = parse_tsv(text, "t", LineMode::Strict).unwrap();
        assert_eq!(
            corpus.pairs,
            vec![pair("Go.", "Va !"), pair("Run!", "Cours\u{202F}!")]
        );
    }

    #[test]
    fn cleans_and_drops_exact_duplicates_after_cleaning() {
        let text = "Hi.\tSalut.\n Hi. \tSalut.\n\nHi.\tSalut !\nHi.\tSalut.\n";
        let corpus = parse_tsv(text, "t", LineMode::Strict).unwrap();
        assert_eq!(
            corpus.pairs,
            vec![pair("Hi.", "Salut."), pair("Hi.", "Salut !")]
        );
        assert_eq!(corpus.stats.duplicates, 2);
        assert_eq!(corpus.stats.blank_lines, 1);
        assert_eq!(corpus.stats.lines, 5);
    }

    #[test]
    fn strict_names_the_malformed_line() {
        for (text, line, problem) in [
            ("Go.\tVa !\nno tab here\n", 2, LineProblem::MissingTab),
            ("Go.\tVa !\n\nGo.\t  \n", 3, LineProblem::EmptyFrench),
            ("\tVa !\n", 1, LineProblem::EmptyEnglish),
            ("a\tb\tc\td\n", 1, LineProblem::TooManyColumns(4)),
        ] {
            let err = parse_tsv(text, "fra.txt", LineMode::Strict).unwrap_err();
            match &err {
                TextError::MalformedLine {
                    line: l,
                    problem: p,
                    ..
                } => assert_eq!((*l, *p), (line, problem), "{text:?}"),
                other => panic!("unexpected {other:?}"),
            }
            assert!(err
                .to_string()
                .starts_with(&format!("fra.txt, line {line}: ")));
        }
    }

    #[test]
    fn lenient_skips_and_counts() {
        let text = "Go.\tVa !\nbroken\nRun!\tCours !\n";
        let corpus = parse_tsv(text, "t", LineMode::Lenient).unwrap();
        assert_eq!(corpus.pairs.len(), 2);
        assert_eq!(corpus.stats.skipped_lines, 1);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = parse_corpus_bytes(b"a\tb\nc\t\xff\n", "x", LineMode::Strict).unwrap_err();
        assert!(matches!(err, TextError::NotUtf8 { line: 2, .. }), "{err:?}");
    }
}
