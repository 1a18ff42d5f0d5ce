-- When a key was last used (written at most once a minute, NULL before its
-- first request); the keys of a tenant, and the admin keys, listed newest
-- first from an index, which also serves what the old one on tenant_id
-- did; and the disabled endpoints counted for /metrics from an index of
-- them alone.
-- +goose Up
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_keys_list ON api_keys (tenant_id, created_at DESC, id DESC);
DROP INDEX api_keys_tenant;
CREATE INDEX endpoints_disabled ON endpoints (id) WHERE NOT enabled;

-- +goose Down
DROP INDEX endpoints_disabled;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
DROP INDEX api_keys_list;
ALTER TABLE api_keys DROP COLUMN last_used_at;
