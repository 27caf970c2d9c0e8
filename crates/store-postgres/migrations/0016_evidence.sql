-- Exported evidence bundles: the audit log size and root each covered and its manifest's
-- hash, so the next bundle proves the log grew consistently from the last one.
CREATE TABLE evidence_bundles (
    id               TEXT PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    tree_size        BIGINT NOT NULL,
    root             TEXT NOT NULL,
    manifest_sha256  TEXT NOT NULL,
    created_by       TEXT NOT NULL
);
