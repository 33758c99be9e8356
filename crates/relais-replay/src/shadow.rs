//! `--shadow-model`: the recorded requests translated again by a candidate
//! model, scored against what production answered and against the users'
//! corrections.

use std::collections::{BTreeSet, HashMap, HashSet};

use relais_bus::{Bus, ReplayQuery};
use relais_events::{Event, FeedbackSubmitted, RawEnvelope, TranslationCompleted};
use relais_text::{corpus_bleu, corpus_chrf};
use relais_worker::Translator;
use serde::Serialize;
use uuid::Uuid;

use crate::ReplayError;

/// How many texts go to the model at once.
const BATCH: usize = 16;

/// One completed request of the range, with its correction when a user sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The request.
    pub request_id: Uuid,
    /// English source.
    pub text: String,
    /// What production answered.
    pub production: String,
    /// The model version that answered.
    pub model_version: String,
    /// The latest correction of this request, if any.
    pub correction: Option<String>,
}

/// Corpus BLEU and chrF (sacreBLEU scale, 0–100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Corpus BLEU.
    pub bleu: f64,
    /// Corpus chrF.
    pub chrf: f64,
    /// Sentences scored.
    pub sentences: usize,
}

/// The outcome of a shadow evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    /// The candidate's version.
    pub candidate: String,
    /// Completed requests re-translated.
    pub requests: usize,
    /// The production model versions that answered them.
    pub production_versions: Vec<String>,
    /// Candidate against production's answers (`None` without requests).
    pub vs_production: Option<Scores>,
    /// Requests a user corrected.
    pub corrected: usize,
    /// Candidate against the corrections (`None` without corrections).
    pub vs_corrections: Option<Scores>,
    /// Production against the same corrections, the baseline to beat.
    pub production_vs_corrections: Option<Scores>,
}

/// The completed requests of `query` (one per request id, first completion
/// wins) joined with the latest correction of each, read from the stream
/// from the query's start to now (corrections come after the translation).
pub async fn recorded_requests(
    bus: &Bus,
    query: &ReplayQuery,
) -> Result<Vec<RecordedRequest>, ReplayError> {
    let mut requests = Vec::new();
    let mut seen = HashSet::new();
    let mut replay = bus.replay(query).await?;
    while let Some(item) = replay.next().await {
        let item = item?;
        let Some(raw) = raw_of_type(&item.payload, TranslationCompleted::TYPE) else {
            continue;
        };
        let Ok(done) = raw.into_typed::<TranslationCompleted>() else {
            continue;
        };
        if seen.insert(done.data.request_id) {
            requests.push(RecordedRequest {
                request_id: done.data.request_id,
                text: done.data.text,
                production: done.data.translation,
                model_version: done.data.model_version,
                correction: None,
            });
        }
    }
    let mut corrections: HashMap<Uuid, String> = HashMap::new();
    let mut replay = bus
        .replay(&ReplayQuery::new(query.stream.clone()).from(query.from))
        .await?;
    while let Some(item) = replay.next().await {
        let item = item?;
        let Some(raw) = raw_of_type(&item.payload, FeedbackSubmitted::TYPE) else {
            continue;
        };
        if let Ok(feedback) = raw.into_typed::<FeedbackSubmitted>() {
            corrections.insert(feedback.data.request_id, feedback.data.correction);
        }
    }
    for request in &mut requests {
        request.correction = corrections.remove(&request.request_id);
    }
    Ok(requests)
}

fn raw_of_type(payload: &[u8], event_type: &str) -> Option<RawEnvelope> {
    RawEnvelope::decode(payload)
        .ok()
        .filter(|raw| raw.event_type == event_type)
}

/// Translates `requests` with `candidate` (blocking, CPU-heavy) and scores it.
pub fn score(
    requests: &[RecordedRequest],
    candidate: &Translator,
) -> Result<ShadowReport, ReplayError> {
    let texts: Vec<String> = requests.iter().map(|r| r.text.clone()).collect();
    let mut outputs = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        outputs.extend(candidate.translate_batch(chunk)?);
    }
    let production: Vec<String> = requests.iter().map(|r| r.production.clone()).collect();
    let (mut cand_c, mut prod_c, mut refs_c) = (Vec::new(), Vec::new(), Vec::new());
    for (request, output) in requests.iter().zip(&outputs) {
        if let Some(correction) = &request.correction {
            cand_c.push(output.clone());
            prod_c.push(request.production.clone());
            refs_c.push(correction.clone());
        }
    }
    let versions: BTreeSet<String> = requests.iter().map(|r| r.model_version.clone()).collect();
    Ok(ShadowReport {
        candidate: candidate.version().to_owned(),
        requests: requests.len(),
        production_versions: versions.into_iter().collect(),
        vs_production: scores(&outputs, &production)?,
        corrected: refs_c.len(),
        vs_corrections: scores(&cand_c, &refs_c)?,
        production_vs_corrections: scores(&prod_c, &refs_c)?,
    })
}

fn scores(hyps: &[String], refs: &[String]) -> Result<Option<Scores>, ReplayError> {
    if hyps.is_empty() {
        return Ok(None);
    }
    let refs: Vec<Vec<String>> = refs.iter().map(|r| vec![r.clone()]).collect();
    Ok(Some(Scores {
        bleu: corpus_bleu(hyps, &refs)?.score,
        chrf: corpus_chrf(hyps, &refs)?,
        sentences: hyps.len(),
    }))
}

/// [`recorded_requests`] then [`score`]: the whole shadow evaluation. The
/// model runs on the calling thread.
pub async fn shadow(
    bus: &Bus,
    query: &ReplayQuery,
    candidate: &Translator,
) -> Result<ShadowReport, ReplayError> {
    let requests = recorded_requests(bus, query).await?;
    score(&requests, candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_outputs_score_100_and_nothing_scores_none() {
        let hyps = vec!["Le chat dort sur le tapis.".to_owned()];
        let s = scores(&hyps, &hyps).unwrap().unwrap();
        assert!(
            (s.bleu - 100.0).abs() < 1e-9 && (s.chrf - 100.0).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.sentences, 1);
        assert_eq!(scores(&[], &[]).unwrap(), None);
    }
}
