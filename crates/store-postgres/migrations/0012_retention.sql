-- Retention: legal holds (a subject or a dataset; the reason is the operator's own words,
-- never audited), the end of each subject's relationship (a retention trigger), and the
-- retention jobs' leases, so several processes never dispose of the same thing twice.
CREATE TABLE legal_holds (
    id           TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    target       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    released_at  BIGINT,
    released_by  TEXT
);
CREATE TABLE subject_relationships (
    subject_id  TEXT PRIMARY KEY,
    ended_at    BIGINT NOT NULL
);
CREATE TABLE retention_jobs (
    name          TEXT PRIMARY KEY,
    due_at        BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    last_run_at   BIGINT,
    last_outcome  TEXT
);
