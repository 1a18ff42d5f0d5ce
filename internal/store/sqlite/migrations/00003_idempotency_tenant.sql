-- An idempotency record belongs to the tenant its request was for, and goes
-- with it: an answer replayed after its tenant was deleted would describe
-- what no longer exists (and, for a key, once held the key itself). NULL
-- for a request under no tenant, and for records made before this column.
-- Records expire after a day; the index on created_at finds them.
-- +goose Up
ALTER TABLE idempotency_records ADD COLUMN tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE;
CREATE INDEX idempotency_records_tenant ON idempotency_records (tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);

-- +goose Down
-- SQLite cannot drop a column a foreign key uses: the table is rebuilt.
DROP INDEX idempotency_records_created;
DROP INDEX idempotency_records_tenant;
CREATE TABLE idempotency_records_before (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
INSERT INTO idempotency_records_before (scope, key, request_hash, status, body, created_at)
    SELECT scope, key, request_hash, status, body, created_at FROM idempotency_records;
DROP TABLE idempotency_records;
ALTER TABLE idempotency_records_before RENAME TO idempotency_records;
