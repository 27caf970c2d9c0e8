-- Propagation of consent changes: targets (webhooks, NATS), the outbox written with each
-- ledger record, and each target's delivery of each change.
CREATE TABLE consent_targets (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    url            TEXT,
    all_purposes   BOOLEAN NOT NULL,
    enabled        BOOLEAN NOT NULL,
    description    TEXT,
    secret_sealed  BYTEA,
    created_at     BIGINT NOT NULL
);

CREATE TABLE consent_target_purposes (
    target_id  TEXT NOT NULL REFERENCES consent_targets (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    PRIMARY KEY (target_id, purpose)
);

CREATE TABLE consent_outbox (
    event_id    TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX consent_outbox_subject ON consent_outbox (subject);

CREATE TABLE consent_deliveries (
    event_id         TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (event_id, target_id)
);
CREATE INDEX consent_deliveries_due ON consent_deliveries (next_attempt_at) WHERE state = 'pending';
