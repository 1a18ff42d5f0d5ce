-- Endpoint health and auto-disable (issue 9). The health columns are
-- written in the transaction that records a batch of attempts, so every
-- node reads the same streak and the decision to disable is taken once.
-- disabled_reason is '' while the endpoint is enabled, else gone (a 410
-- answer), failing (a streak longer than --disable-after) or manual (a
-- user's enabled: false). endpoint_health holds an endpoint's attempts by
-- the hour they started in, for the last 24 hours' counts.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN failing_since timestamptz;
ALTER TABLE endpoints ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE endpoints ADD COLUMN last_response_code integer NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN disabled_reason text NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN disabled_at timestamptz;
UPDATE endpoints SET disabled_reason = 'manual', disabled_at = updated_at WHERE NOT enabled;

CREATE TABLE endpoint_health (
    endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    hour        timestamptz NOT NULL,
    succeeded   integer NOT NULL,
    failed      integer NOT NULL,
    PRIMARY KEY (endpoint_id, hour)
);
-- The hourly sweep of buckets older than a day.
CREATE INDEX endpoint_health_hour ON endpoint_health (hour);

-- +goose Down
DROP TABLE endpoint_health;
ALTER TABLE endpoints DROP COLUMN disabled_at;
ALTER TABLE endpoints DROP COLUMN disabled_reason;
ALTER TABLE endpoints DROP COLUMN last_response_code;
ALTER TABLE endpoints DROP COLUMN last_attempt_at;
ALTER TABLE endpoints DROP COLUMN failing_since;
ALTER TABLE endpoints DROP COLUMN consecutive_failures;
