-- A training completion recorded in error, or whose certificate was withdrawn, is revoked
-- (kept, for the record) and stops counting.
ALTER TABLE training_completions ADD COLUMN revoked_at INTEGER;
ALTER TABLE training_completions ADD COLUMN revoked_by TEXT;
