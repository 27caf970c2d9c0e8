-- Data-subject rights requests and their history. The requester's identity is sealed
-- (requester_sealed) under the key of the vault subject `requester:<id>`; nothing here is
-- personal data in plaintext. email_index is a blind index, for finding a person's requests.
CREATE TABLE rights_requests (
    id                       TEXT PRIMARY KEY,
    request_type             TEXT NOT NULL,
    jurisdiction             TEXT NOT NULL,
    time_zone                TEXT NOT NULL,
    rules_version            TEXT NOT NULL,
    channel                  TEXT NOT NULL,
    subject_id               TEXT,
    requester_sealed         BYTEA NOT NULL,
    email_index              BYTEA,
    state                    TEXT NOT NULL,
    assignee                 TEXT,
    submitted_by             TEXT,
    approvals                TEXT NOT NULL,
    extended_at              BIGINT,
    extension_reason         TEXT,
    rejection                TEXT,
    verification_started_at  BIGINT,
    verified_at              BIGINT,
    received_at              BIGINT NOT NULL,
    deadlines                TEXT,
    due_at                   BIGINT,
    closed_at                BIGINT,
    retain_until             BIGINT,
    challenge_hash           BYTEA,
    challenge_expires_at     BIGINT,
    challenge_attempts       BIGINT,
    challenge_sends          BIGINT,
    version                  BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX rights_requests_open_due ON rights_requests (due_at) WHERE closed_at IS NULL;
CREATE INDEX rights_requests_email ON rights_requests (email_index);
CREATE INDEX rights_requests_subject ON rights_requests (subject_id);
CREATE INDEX rights_requests_retention ON rights_requests (retain_until);
CREATE INDEX rights_requests_received ON rights_requests (received_at);

CREATE TABLE rights_events (
    request_id  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT,
    PRIMARY KEY (request_id, seq)
);
