-- The incident register: each incident kept as the object the core writes (JSON), with its
-- status and version beside it for listing and optimistic updates.
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
