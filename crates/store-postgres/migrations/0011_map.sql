-- The data map: the organization, systems, the organization's taxonomy additions and
-- retention rules, each kept as the object that was accepted (JSON). Datasets stay in
-- `datasets`.
CREATE TABLE map_entries (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
