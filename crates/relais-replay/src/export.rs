//! `--to jsonl`: every replayed message as one JSON object per line.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use relais_bus::{Bus, ReplayItem, ReplayQuery};
use serde::Serialize;

use crate::ReplayError;

/// One line of an export.
#[derive(Debug, Serialize)]
struct Line<'a> {
    seq: u64,
    time: DateTime<Utc>,
    subject: &'a str,
    /// The envelope as stored, when the payload is JSON.
    event: Option<serde_json::Value>,
    /// The payload as text, only when it is not JSON (junk that was
    /// dead-lettered by the audit service).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
}

fn line(item: &ReplayItem) -> Line<'_> {
    let (event, payload) = match serde_json::from_slice(&item.payload) {
        Ok(value) => (Some(value), None),
        Err(_) => (
            None,
            Some(String::from_utf8_lossy(&item.payload).into_owned()),
        ),
    };
    Line {
        seq: item.sequence,
        time: item.time,
        subject: &item.subject,
        event,
        payload,
    }
}

/// Writes every message of `query` to `out`, one JSON object per line
/// (`{"seq","time","subject","event"}`), and returns how many. `out` is
/// flushed; `path` only names it in errors.
pub async fn export_jsonl<W: Write>(
    bus: &Bus,
    query: &ReplayQuery,
    out: &mut W,
    path: &Path,
) -> Result<u64, ReplayError> {
    let write_err = |source| ReplayError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut replay = bus.replay(query).await?;
    let mut count = 0;
    while let Some(item) = replay.next().await {
        let item = item?;
        serde_json::to_writer(&mut *out, &line(&item))?;
        out.write_all(b"\n").map_err(write_err)?;
        count += 1;
    }
    out.flush().map_err(write_err)?;
    Ok(count)
}

/// [`export_jsonl`] into the file `path`: written to a temporary file beside
/// it and renamed over it at the end, so a failed export leaves no half file.
pub async fn export_jsonl_file(
    bus: &Bus,
    query: &ReplayQuery,
    path: &Path,
) -> Result<u64, ReplayError> {
    let write_err = |source| ReplayError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().map_or_else(
        || "export.jsonl".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let file = std::fs::File::create(&tmp).map_err(write_err)?;
    let mut out = std::io::BufWriter::new(file);
    let result = export_jsonl(bus, query, &mut out, path).await;
    let finished = result.and_then(|count| {
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)?;
        Ok(count)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    finished
}
