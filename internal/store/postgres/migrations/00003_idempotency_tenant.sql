-- An idempotency record belongs to the tenant its request was for, and goes
-- with it: an answer replayed after its tenant was deleted would describe
-- what no longer exists (and, for a key, once held the key itself). NULL
-- for a request under no tenant, and for records made before this column.
-- Records expire after a day; the index on created_at finds them.
-- +goose Up
ALTER TABLE idempotency_records ADD COLUMN tenant_id text REFERENCES tenants (id) ON DELETE CASCADE;
CREATE INDEX idempotency_records_tenant ON idempotency_records (tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);

-- +goose Down
DROP INDEX idempotency_records_created;
DROP INDEX idempotency_records_tenant;
ALTER TABLE idempotency_records DROP COLUMN tenant_id;
