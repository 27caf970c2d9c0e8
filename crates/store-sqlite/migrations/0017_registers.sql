-- The registers kept as documents (vendors, DPIAs): the JSON the core writes, by kind and
-- key, with a version for updates over the version read.
CREATE TABLE register_entries (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
