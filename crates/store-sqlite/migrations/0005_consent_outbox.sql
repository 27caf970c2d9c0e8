-- Propagation of consent changes: targets (webhooks, NATS), the outbox written with each
-- ledger record, and each target's delivery of each change.
CREATE TABLE consent_targets (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    url            TEXT,
    all_purposes   INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    description    TEXT,
    secret_sealed  BLOB,
    created_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE consent_target_purposes (
    target_id  TEXT NOT NULL REFERENCES consent_targets (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    PRIMARY KEY (target_id, purpose)
) WITHOUT ROWID;

CREATE TABLE consent_outbox (
    event_id    TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX consent_outbox_subject ON consent_outbox (subject);

CREATE TABLE consent_deliveries (
    event_id         TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (event_id, target_id)
);
CREATE INDEX consent_deliveries_due ON consent_deliveries (next_attempt_at) WHERE state = 'pending';
