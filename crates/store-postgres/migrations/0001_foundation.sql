-- Installation facts, operators, API keys, policy sets and the audit log.
CREATE TABLE installation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    install_id  TEXT NOT NULL,
    log_origin  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE operators (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    role                  TEXT NOT NULL,
    training_valid_until  BIGINT,
    disabled              BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL REFERENCES operators (id),
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_operator ON api_keys (operator_id);

-- Every saved version is kept; the current one has the highest version.
CREATE TABLE policy_sets (
    version     BIGINT PRIMARY KEY,
    text        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY,
    time_ms     BIGINT NOT NULL,
    request_id  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    subject     TEXT,
    fields      TEXT NOT NULL,
    purpose     TEXT,
    decision    TEXT NOT NULL,
    leaf_hash   BYTEA NOT NULL,
    chain_hash  BYTEA NOT NULL
);

-- Completed perfect subtrees of the RFC 9162 tree (level 0 = leaf hashes).
CREATE TABLE audit_nodes (
    level  INTEGER NOT NULL,
    idx    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- One row; appends lock it (SELECT ... FOR UPDATE) so several processes build one chain.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    size      BIGINT NOT NULL,
    chain     BYTEA NOT NULL,
    frontier  BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, chain, frontier) VALUES (1, 0, decode(repeat('00', 32), 'hex'), ''::bytea);
