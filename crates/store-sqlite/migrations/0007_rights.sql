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
    requester_sealed         BLOB NOT NULL,
    email_index              BLOB,
    state                    TEXT NOT NULL,
    assignee                 TEXT,
    submitted_by             TEXT,
    approvals                TEXT NOT NULL,
    extended_at              INTEGER,
    extension_reason         TEXT,
    rejection                TEXT,
    verification_started_at  INTEGER,
    verified_at              INTEGER,
    received_at              INTEGER NOT NULL,
    deadlines                TEXT,
    due_at                   INTEGER,
    closed_at                INTEGER,
    retain_until             INTEGER,
    challenge_hash           BLOB,
    challenge_expires_at     INTEGER,
    challenge_attempts       INTEGER,
    challenge_sends          INTEGER,
    version                  INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX rights_requests_open_due ON rights_requests (due_at) WHERE closed_at IS NULL;
CREATE INDEX rights_requests_email ON rights_requests (email_index);
CREATE INDEX rights_requests_subject ON rights_requests (subject_id);
CREATE INDEX rights_requests_retention ON rights_requests (retain_until);
CREATE INDEX rights_requests_received ON rights_requests (received_at);

CREATE TABLE rights_events (
    request_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT,
    PRIMARY KEY (request_id, seq)
);
