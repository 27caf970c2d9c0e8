-- The Data Rights Protocol: the agent link of a request filed over DRP (JSON, no personal
-- data), and each authorized agent's pair-wise bearer token, kept as its SHA-256 only.
ALTER TABLE rights_requests ADD COLUMN drp TEXT;

CREATE TABLE drp_agents (
    agent_id    TEXT PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    paired_at   BIGINT NOT NULL
);
