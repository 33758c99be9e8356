-- Relais storage schema, version 1.
--
-- Portable SQL: the same file runs on PostgreSQL and SQLite. Timestamps are
-- RFC 3339 UTC text with microseconds (they sort as text), JSON is text,
-- numbers are BIGINT / DOUBLE PRECISION, keys come from the events (UUIDs as
-- text) or are natural keys; no SERIAL, no dialect-only types.

-- Every event as received, once per event identity. `id` is the envelope's
-- `originalid` when it has one (a replayed copy), otherwise its `id`, so a
-- redelivery or a replay never adds a row.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    delivered_id TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    subject     TEXT,
    source      TEXT NOT NULL,
    time        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    envelope    TEXT NOT NULL
);
CREATE INDEX events_type_time ON events (event_type, time);

-- One row per translation request, filled in by its requested / completed /
-- failed events in whatever order they arrive.
CREATE TABLE translations (
    request_id    TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('requested', 'completed', 'failed')),
    edge_id       TEXT NOT NULL,
    input         TEXT NOT NULL,
    output        TEXT,
    error_reason  TEXT,
    error_message TEXT,
    model_version TEXT,
    worker_id     TEXT,
    latency_ms    DOUBLE PRECISION,
    queue_ms      DOUBLE PRECISION,
    batch_size    BIGINT,
    client        TEXT,
    requested_at  TEXT,
    completed_at  TEXT
);
CREATE INDEX translations_completed_at ON translations (completed_at);

-- User corrections and their curation outcome.
CREATE TABLE feedback (
    feedback_id  TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL,
    correction   TEXT NOT NULL,
    client       TEXT,
    submitted_at TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'rejected')),
    reason_code  TEXT,
    reason       TEXT,
    curated_at   TEXT
);
CREATE INDEX feedback_request ON feedback (request_id);
CREATE INDEX feedback_status ON feedback (status);

-- Dataset versions: one row per import or feedback batch that added pairs.
CREATE TABLE dataset_versions (
    version     BIGINT PRIMARY KEY,
    source      TEXT NOT NULL CHECK (source IN ('tatoeba', 'feedback', 'import')),
    added_pairs BIGINT NOT NULL,
    total_pairs BIGINT NOT NULL,
    provenance  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Training pairs. `pair_key` is the SHA-256 (hex) of `english TAB french`, so
-- importing the same pair again adds nothing. `dataset_version` is NULL for an
-- accepted correction not yet part of a version; `position` keeps input order
-- within a version.
CREATE TABLE dataset_pairs (
    pair_key        TEXT PRIMARY KEY,
    english         TEXT NOT NULL CHECK (length(english) > 0),
    french          TEXT NOT NULL CHECK (length(french) > 0),
    source          TEXT NOT NULL CHECK (source IN ('tatoeba', 'feedback', 'import')),
    provenance      TEXT NOT NULL,
    dataset_version BIGINT,
    position        BIGINT NOT NULL,
    added_at        TEXT NOT NULL
);
CREATE INDEX dataset_pairs_version ON dataset_pairs (dataset_version, position);
CREATE INDEX dataset_pairs_source ON dataset_pairs (source);

-- Model versions, their metrics and their life in production.
CREATE TABLE model_versions (
    version         TEXT PRIMARY KEY,
    state           TEXT NOT NULL
                    CHECK (state IN ('registered', 'production', 'retired', 'rolled_back')),
    bleu            DOUBLE PRECISION,
    chrf            DOUBLE PRECISION,
    valid_loss      DOUBLE PRECISION,
    parent          TEXT,
    dataset_version BIGINT,
    corpus_hash     TEXT,
    created_at      TEXT,
    promoted_at     TEXT,
    rolled_back_at  TEXT,
    updated_at      TEXT NOT NULL
);
