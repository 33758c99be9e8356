//! Corpus BLEU and chrF, computed as sacreBLEU 2.x does with its defaults.
//!
//! - BLEU: `13a` tokenisation, n-grams up to 4, `exp` smoothing, no
//!   lower-casing; with several references the n-gram counts are clipped by
//!   the maximum count over the references and the brevity penalty uses, per
//!   hypothesis, the closest reference length (the shorter one on a tie).
//! - chrF: character n-grams up to 6, no word n-grams, β = 2, whitespace
//!   removed; per hypothesis the statistics of the best-scoring reference
//!   are kept, summed over the corpus, and turned into one F-score.
//!
//! Scores are on sacreBLEU's 0–100 scale. `refs[i]` holds the references of
//! `hyps[i]` (at least one; an empty string is a valid, empty reference).

use std::collections::HashMap;

use crate::error::TextError;

const MAX_NGRAM: usize = 4;
const CHAR_ORDER: usize = 6;
const BETA: f64 = 2.0;

/// Corpus BLEU with its parts, as sacreBLEU reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct Bleu {
    /// BLEU, 0–100.
    pub score: f64,
    /// n-gram precisions for n = 1..=4, in percent (smoothed as sacreBLEU does).
    pub precisions: [f64; MAX_NGRAM],
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in 13a tokens.
    pub sys_len: usize,
    /// Effective reference length in 13a tokens.
    pub ref_len: usize,
}

/// sacreBLEU-compatible corpus BLEU.
pub fn corpus_bleu(hyps: &[String], refs: &[Vec<String>]) -> Result<Bleu, TextError> {
    check_shape(hyps, refs)?;
    let mut correct = [0usize; MAX_NGRAM];
    let mut total = [0usize; MAX_NGRAM];
    let (mut sys_len, mut ref_len) = (0usize, 0usize);
    for (hyp, refs) in hyps.iter().zip(refs) {
        let hyp_tokens = tokenize_13a(hyp);
        let hyp_ngrams = word_ngrams(&hyp_tokens);
        let mut max_ref: HashMap<&[String], usize> = HashMap::new();
        let ref_tokens: Vec<Vec<String>> = refs.iter().map(|r| tokenize_13a(r)).collect();
        let mut closest: Option<usize> = None;
        for tokens in &ref_tokens {
            for (ngram, count) in word_ngrams(tokens) {
                let slot = max_ref.entry(ngram).or_insert(0);
                *slot = (*slot).max(count);
            }
            let len = tokens.len();
            closest = Some(match closest {
                None => len,
                Some(best) => {
                    let (d, best_d) = (
                        len.abs_diff(hyp_tokens.len()),
                        best.abs_diff(hyp_tokens.len()),
                    );
                    if d < best_d || (d == best_d && len < best) {
                        len
                    } else {
                        best
                    }
                }
            });
        }
        sys_len += hyp_tokens.len();
        ref_len += closest.unwrap_or(0);
        for (ngram, count) in hyp_ngrams {
            let n = ngram.len() - 1;
            total[n] += count;
            correct[n] += count.min(max_ref.get(ngram).copied().unwrap_or(0));
        }
    }
    Ok(bleu_from_stats(&correct, &total, sys_len, ref_len))
}

fn bleu_from_stats(
    correct: &[usize; MAX_NGRAM],
    total: &[usize; MAX_NGRAM],
    sys_len: usize,
    ref_len: usize,
) -> Bleu {
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0; MAX_NGRAM];
    if correct.iter().all(|&c| c == 0) {
        return Bleu {
            score: 0.0,
            precisions,
            bp,
            sys_len,
            ref_len,
        };
    }
    let mut smooth = 1.0;
    for n in 0..MAX_NGRAM {
        if total[n] == 0 {
            break;
        }
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    // sacreBLEU floors log(0) at -9999999999, which makes the score 0.
    let log_sum: f64 = precisions
        .iter()
        .map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() })
        .sum();
    Bleu {
        score: bp * (log_sum / MAX_NGRAM as f64).exp(),
        precisions,
        bp,
        sys_len,
        ref_len,
    }
}

/// All word n-grams of orders 1..=4 with their counts.
fn word_ngrams(tokens: &[String]) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_NGRAM.min(tokens.len()) {
        for ngram in tokens.windows(n) {
            *counts.entry(ngram).or_insert(0) += 1;
        }
    }
    counts
}

/// Python's `str.isspace`: Unicode White_Space plus the information
/// separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// sacreBLEU's `13a` tokeniser (mteval-v13a), applied after `rstrip()`.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line.trim_end_matches(is_py_space).replace("<skipped>", "");
    line = line.replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 '
    let mut spaced: Vec<char> = Vec::with_capacity(line.len() + 8);
    spaced.push(' ');
    for c in line.chars() {
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            spaced.extend([' ', c, ' ']);
        } else {
            spaced.push(c);
        }
    }
    spaced.push(' ');
    let is_digit = |c: char| c.is_ascii_digit();
    let is_period_comma = |c: char| c == '.' || c == ',';
    // ([^0-9])([\.,]) -> '\1 \2 '
    let chars = substitute(
        &spaced,
        |a, b| !is_digit(a) && is_period_comma(b),
        |a, b| vec![a, ' ', b, ' '],
    );
    // ([\.,])([^0-9]) -> ' \1 \2'
    let chars = substitute(
        &chars,
        |a, b| is_period_comma(a) && !is_digit(b),
        |a, b| vec![' ', a, ' ', b],
    );
    // ([0-9])(-) -> '\1 \2 '
    let chars = substitute(
        &chars,
        |a, b| is_digit(a) && b == '-',
        |a, b| vec![a, ' ', b, ' '],
    );
    let text: String = chars.into_iter().collect();
    text.split(is_py_space)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `re.sub` of a two-character pattern: non-overlapping, left to right.
fn substitute(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char) -> Vec<char>,
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            out.extend(replace(chars[i], chars[i + 1]));
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// sacreBLEU-compatible corpus chrF (chrF2, character order 6).
pub fn corpus_chrf(hyps: &[String], refs: &[Vec<String>]) -> Result<f64, TextError> {
    check_shape(hyps, refs)?;
    let mut sums = [[0usize; 3]; CHAR_ORDER];
    for (hyp, refs) in hyps.iter().zip(refs) {
        let hyp_ngrams = char_ngrams(hyp);
        let mut best: Option<([[usize; 3]; CHAR_ORDER], f64)> = None;
        for reference in refs {
            let ref_ngrams = char_ngrams(reference);
            let mut stats = [[0usize; 3]; CHAR_ORDER];
            for (order, (h, r)) in hyp_ngrams.iter().zip(&ref_ngrams).enumerate() {
                let hyp_count: usize = h.values().sum();
                let ref_count: usize = r.values().sum();
                let matched: usize = h
                    .iter()
                    .map(|(ngram, &c)| c.min(r.get(ngram).copied().unwrap_or(0)))
                    .sum();
                // sacreBLEU counts no hypothesis n-grams where the reference has none.
                stats[order] = [if r.is_empty() { 0 } else { hyp_count }, ref_count, matched];
            }
            let f = chrf_from_stats(&stats);
            if best.as_ref().is_none_or(|&(_, best_f)| f > best_f) {
                best = Some((stats, f));
            }
        }
        if let Some((stats, _)) = best {
            for (sum, stat) in sums.iter_mut().zip(stats) {
                for k in 0..3 {
                    sum[k] += stat[k];
                }
            }
        }
    }
    Ok(chrf_from_stats(&sums))
}

/// Character n-grams of orders 1..=6 of the text with whitespace removed.
fn char_ngrams(text: &str) -> Vec<HashMap<String, usize>> {
    let chars: Vec<char> = text.chars().filter(|&c| !is_py_space(c)).collect();
    (1..=CHAR_ORDER)
        .map(|n| {
            let mut counts = HashMap::new();
            for ngram in chars.windows(n) {
                *counts.entry(ngram.iter().collect::<String>()).or_insert(0) += 1;
            }
            counts
        })
        .collect()
}

fn chrf_from_stats(stats: &[[usize; 3]; CHAR_ORDER]) -> f64 {
    let factor = BETA * BETA;
    let (mut avg_prec, mut avg_rec, mut effective) = (0.0, 0.0, 0usize);
    for &[n_hyp, n_ref, n_match] in stats {
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += n_match as f64 / n_hyp as f64;
            avg_rec += n_match as f64 / n_ref as f64;
            effective += 1;
        }
    }
    if effective == 0 {
        return 0.0;
    }
    avg_prec /= effective as f64;
    avg_rec /= effective as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    100.0 * (1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
}

fn check_shape(hyps: &[String], refs: &[Vec<String>]) -> Result<(), TextError> {
    if hyps.len() != refs.len() {
        return Err(TextError::LengthMismatch {
            hypotheses: hyps.len(),
            references: refs.len(),
        });
    }
    match refs.iter().position(Vec::is_empty) {
        Some(index) => Err(TextError::NoReferences { index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identical_output_scores_100() {
        let hyps = strings(&["Je suis content de vous voir.", "Qui est là\u{202F}?"]);
        let refs: Vec<Vec<String>> = hyps.iter().map(|h| vec![h.clone()]).collect();
        let bleu = corpus_bleu(&hyps, &refs).unwrap();
        assert!((bleu.score - 100.0).abs() < 1e-9, "{bleu:?}");
        assert_eq!(bleu.bp, 1.0);
        assert!((corpus_chrf(&hyps, &refs).unwrap() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn nothing_in_common_scores_0() {
        let hyps = strings(&["abc"]);
        let refs = vec![strings(&["xyz"])];
        assert_eq!(corpus_bleu(&hyps, &refs).unwrap().score, 0.0);
        assert_eq!(corpus_chrf(&hyps, &refs).unwrap(), 0.0);
    }

    #[test]
    fn shape_errors() {
        let hyps = strings(&["a", "b"]);
        assert!(matches!(
            corpus_bleu(&hyps, &[strings(&["a"])]),
            Err(TextError::LengthMismatch {
                hypotheses: 2,
                references: 1
            })
        ));
        assert!(matches!(
            corpus_chrf(&hyps, &[strings(&["a"]), vec![]]),
            Err(TextError::NoReferences { index: 1 })
        ));
    }

    #[test]
    fn thirteen_a_splits_punctuation_but_not_numbers() {
        assert_eq!(
            tokenize_13a("Ça coûte 3,50 €, non\u{202F}?"),
            ["Ça", "coûte", "3,50", "€", ",", "non", "?"]
        );
        assert_eq!(tokenize_13a("l'été 20-30"), ["l'été", "20", "-", "30"]);
    }
}
