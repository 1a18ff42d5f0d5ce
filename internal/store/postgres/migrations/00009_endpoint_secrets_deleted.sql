-- Issue 10: secrets that outlive one rotation, secrets sealed at rest, and
-- endpoints that are deleted without their delivery log.
--
-- previous_secrets replaces previous_secret and previous_secret_expires_at:
-- a JSON array (text, as the other JSON columns), newest first, of every
-- secret a rotation replaced that may still be signing, each {"secret",
-- "replaced_at"?, "expires_at"} with times in unix microseconds, so each
-- keeps its own grace period.
-- secret_key_id is the id of the --encryption-key that sealed secret and
-- every secret in previous_secrets ('' when they are in clear): a row is
-- always written whole, so one key seals all of it.
-- deleted_at marks an endpoint deleted: it is gone for every endpoint
-- query, but its deliveries and their attempts are kept. A deleted endpoint
-- is not enabled, but not one of the disabled endpoints /metrics counts:
-- their index holds the live ones only.
-- +goose Up
ALTER TABLE endpoints ADD COLUMN previous_secrets text NOT NULL DEFAULT '[]';
ALTER TABLE endpoints ADD COLUMN secret_key_id text NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN deleted_at timestamptz;
UPDATE endpoints
SET previous_secrets = json_build_array(json_build_object(
        'secret', previous_secret,
        'expires_at', (extract(epoch FROM previous_secret_expires_at) * 1000000)::bigint))::text
WHERE previous_secret <> '' AND previous_secret_expires_at IS NOT NULL;
ALTER TABLE endpoints DROP COLUMN previous_secret;
ALTER TABLE endpoints DROP COLUMN previous_secret_expires_at;
DROP INDEX endpoints_disabled;
CREATE INDEX endpoints_disabled ON endpoints (id) WHERE NOT enabled AND deleted_at IS NULL;

-- +goose Down
-- Deleted endpoints go, with their deliveries, as a delete did before.
-- Secrets sealed under a key stay sealed: the old schema cannot read them.
DELETE FROM endpoints WHERE deleted_at IS NOT NULL;
DROP INDEX endpoints_disabled;
CREATE INDEX endpoints_disabled ON endpoints (id) WHERE NOT enabled;
ALTER TABLE endpoints ADD COLUMN previous_secret text NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_secret_expires_at timestamptz;
UPDATE endpoints
SET previous_secret = previous_secrets::json -> 0 ->> 'secret',
    previous_secret_expires_at = timestamptz 'epoch' + (previous_secrets::json -> 0 ->> 'expires_at')::bigint * interval '1 microsecond'
WHERE json_array_length(previous_secrets::json) > 0;
ALTER TABLE endpoints DROP COLUMN deleted_at;
ALTER TABLE endpoints DROP COLUMN secret_key_id;
ALTER TABLE endpoints DROP COLUMN previous_secrets;
