-- Consent: purposes, immutable notice versions, the append-only ledger (subjects by
-- pseudonym) and the current state derived from it.
CREATE TABLE consent_purposes (
    key         TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE consent_notices (
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    texts         TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    published_at  INTEGER NOT NULL,
    PRIMARY KEY (key, version)
) WITHOUT ROWID;

CREATE TRIGGER consent_notices_immutable BEFORE UPDATE ON consent_notices
BEGIN SELECT RAISE(ABORT, 'published notices are immutable'); END;
CREATE TRIGGER consent_notices_kept BEFORE DELETE ON consent_notices
BEGIN SELECT RAISE(ABORT, 'published notices are immutable'); END;

CREATE TABLE consent_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    state           TEXT NOT NULL,
    notice_key      TEXT,
    notice_version  INTEGER,
    notice_hash     TEXT,
    language        TEXT,
    at              INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    method          TEXT NOT NULL,
    source          TEXT NOT NULL,
    jurisdiction    TEXT,
    expires_at      INTEGER,
    proof           TEXT NOT NULL,
    receipt_id      TEXT NOT NULL
);
CREATE INDEX consent_events_subject ON consent_events (subject, seq);

CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER consent_events_kept BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

CREATE TABLE consent_current (
    subject         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    state           TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    at              INTEGER NOT NULL,
    expires_at      INTEGER,
    notice_version  INTEGER,
    method          TEXT NOT NULL,
    PRIMARY KEY (subject, purpose)
) WITHOUT ROWID;
