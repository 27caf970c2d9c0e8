-- Tokens (each sealed under its subject's data key) and processing limits (restriction of
-- processing, objections to purposes). Erasure deletes both with the subject's key.
CREATE TABLE vault_tokens (
    token        TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    collection   TEXT NOT NULL,
    field        TEXT NOT NULL,
    key_version  INTEGER NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (token, subject_id)
) WITHOUT ROWID;
CREATE INDEX vault_tokens_subject ON vault_tokens (subject_id);

CREATE TABLE vault_processing_limits (
    subject_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    since       INTEGER NOT NULL,
    PRIMARY KEY (subject_id, kind, purpose)
) WITHOUT ROWID;

CREATE INDEX vault_erasure_ledger_pseudonym ON vault_erasure_ledger (pseudonym);
