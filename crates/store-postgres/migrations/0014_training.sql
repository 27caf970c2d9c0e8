-- The training register: courses, the roles that must take them, and completions with the
-- time each stops counting. An operator's training is derived from these when the operator
-- is read, so the column that used to hold it goes.
CREATE TABLE training_courses (
    key            TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT,
    validity_days  BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE TABLE training_requirements (
    course_key  TEXT NOT NULL REFERENCES training_courses (key),
    role        TEXT NOT NULL,
    PRIMARY KEY (course_key, role)
);
CREATE INDEX training_requirements_role ON training_requirements (role);
CREATE TABLE training_completions (
    id            TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators (id),
    course_key    TEXT NOT NULL REFERENCES training_courses (key),
    completed_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    reference     TEXT,
    recorded_by   TEXT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX training_completions_operator ON training_completions (operator_id, course_key);
ALTER TABLE operators DROP COLUMN training_valid_until;
