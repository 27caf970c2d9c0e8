-- Consent: purposes, immutable notice versions, the append-only ledger (subjects by
-- pseudonym) and the current state derived from it.
CREATE TABLE consent_purposes (
    key         TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE consent_notices (
    key           TEXT NOT NULL,
    version       BIGINT NOT NULL,
    texts         TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    published_at  BIGINT NOT NULL,
    PRIMARY KEY (key, version)
);

CREATE FUNCTION consent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$;
CREATE TRIGGER consent_notices_immutable BEFORE UPDATE OR DELETE ON consent_notices
FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();

CREATE TABLE consent_events (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    subject         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    state           TEXT NOT NULL,
    notice_key      TEXT,
    notice_version  BIGINT,
    notice_hash     TEXT,
    language        TEXT,
    at              BIGINT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    method          TEXT NOT NULL,
    source          TEXT NOT NULL,
    jurisdiction    TEXT,
    expires_at      BIGINT,
    proof           TEXT NOT NULL,
    receipt_id      TEXT NOT NULL
);
CREATE INDEX consent_events_subject ON consent_events (subject, seq);

CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();

CREATE TABLE consent_current (
    subject         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    state           TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    at              BIGINT NOT NULL,
    expires_at      BIGINT,
    notice_version  BIGINT,
    method          TEXT NOT NULL,
    PRIMARY KEY (subject, purpose)
);
