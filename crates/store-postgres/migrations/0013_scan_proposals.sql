-- Proposals to the data map from scans of connected databases: a category for a column,
-- with the evidence (counts and the name hint; never a value), pending until a DPO decides.
CREATE TABLE scan_proposals (
    id           TEXT PRIMARY KEY,
    dataset      TEXT NOT NULL,
    table_name   TEXT NOT NULL,
    column_name  TEXT NOT NULL,
    category     TEXT NOT NULL,
    kind         TEXT,
    confidence   DOUBLE PRECISION NOT NULL,
    hint         TEXT,
    sampled      BIGINT NOT NULL,
    matched      BIGINT NOT NULL,
    embedded     BOOLEAN NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT
);
CREATE INDEX scan_proposals_column ON scan_proposals (dataset, table_name, column_name);
