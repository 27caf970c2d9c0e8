-- Webhook secret rotation: the previous secret stays in use beside the new one until a
-- deadline, so receivers can switch without refusing a delivery.
ALTER TABLE consent_targets ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE consent_targets ADD COLUMN previous_secret_until INTEGER;
