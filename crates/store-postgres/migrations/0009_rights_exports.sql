-- Export packages of access and portability requests: the ZIP sealed under the requester's
-- key, found by the SHA-256 of its single-use download token, emptied once downloaded.
CREATE TABLE rights_exports (
    token_hash     BYTEA PRIMARY KEY,
    request_id     TEXT NOT NULL,
    sealed         BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    downloaded_at  BIGINT
);
CREATE INDEX rights_exports_request ON rights_exports (request_id);
