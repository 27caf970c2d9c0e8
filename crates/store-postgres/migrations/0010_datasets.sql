-- Connected databases declared as datasets (the Fides shape, stored as accepted JSON), and
-- the manual tasks of rights requests for systems Custodian cannot reach.
CREATE TABLE datasets (
    key          TEXT PRIMARY KEY,
    declaration  TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE TABLE rights_tasks (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL,
    system      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    assignee    TEXT,
    due_at      BIGINT,
    evidence    TEXT,
    done_by     TEXT,
    done_at     BIGINT,
    created_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    UNIQUE (request_id, system)
);
