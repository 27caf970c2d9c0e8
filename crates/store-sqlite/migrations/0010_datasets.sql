-- Connected databases declared as datasets (the Fides shape, stored as accepted JSON), and
-- the manual tasks of rights requests for systems Custodian cannot reach.
CREATE TABLE datasets (
    key          TEXT PRIMARY KEY,
    declaration  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE rights_tasks (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL,
    system      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    assignee    TEXT,
    due_at      INTEGER,
    evidence    TEXT,
    done_by     TEXT,
    done_at     INTEGER,
    created_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    UNIQUE (request_id, system)
);
