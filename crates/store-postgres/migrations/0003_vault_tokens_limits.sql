-- Tokens (each sealed under its subject's data key) and processing limits (restriction of
-- processing, objections to purposes). Erasure deletes both with the subject's key.
CREATE TABLE vault_tokens (
    token        TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    collection   TEXT NOT NULL,
    field        TEXT NOT NULL,
    key_version  BIGINT NOT NULL,
    ciphertext   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (token, subject_id)
);
CREATE INDEX vault_tokens_subject ON vault_tokens (subject_id);

CREATE TABLE vault_processing_limits (
    subject_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (subject_id, kind, purpose)
);

CREATE INDEX vault_erasure_ledger_pseudonym ON vault_erasure_ledger (pseudonym);
