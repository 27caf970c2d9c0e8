-- The data map: the organization, systems, the organization's taxonomy additions and
-- retention rules, each kept as the object that was accepted (JSON). Datasets stay in
-- `datasets`.
CREATE TABLE map_entries (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
