-- The vault: collection schemas, per-subject wrapped data keys, records of sealed cells,
-- blind indexes, and the erasure ledger (pseudonyms only). No plaintext personal data.
CREATE TABLE vault_collections (
    name        TEXT PRIMARY KEY,
    fields      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE vault_subject_keys (
    subject_id   TEXT PRIMARY KEY,
    key_version  BIGINT NOT NULL,
    kek_id       TEXT NOT NULL,
    wrapped_dek  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE vault_records (
    id           TEXT PRIMARY KEY,
    collection   TEXT NOT NULL REFERENCES vault_collections (name),
    subject_id   TEXT NOT NULL,
    key_version  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX vault_records_subject ON vault_records (subject_id);
CREATE INDEX vault_records_collection ON vault_records (collection, id);

CREATE TABLE vault_cells (
    record_id   TEXT NOT NULL REFERENCES vault_records (id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    ciphertext  BYTEA NOT NULL,
    PRIMARY KEY (record_id, field)
);

CREATE TABLE vault_index (
    collection  TEXT NOT NULL,
    field       TEXT NOT NULL,
    idx         BYTEA NOT NULL,
    record_id   TEXT NOT NULL REFERENCES vault_records (id) ON DELETE CASCADE,
    PRIMARY KEY (collection, field, idx, record_id)
);
CREATE INDEX vault_index_record ON vault_index (record_id);

CREATE TABLE vault_erasure_ledger (
    seq        BIGSERIAL PRIMARY KEY,
    pseudonym  TEXT NOT NULL,
    erased_at  BIGINT NOT NULL
);
