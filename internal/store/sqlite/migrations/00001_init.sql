-- Herald's schema on SQLite. Times are INTEGER unix microseconds, so they
-- compare and sort as times. Tables are STRICT so a wrongly typed value is
-- an error, not a silent conversion. Event data is a BLOB: the bytes an
-- event was posted with are the bytes we sign.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tenants_list ON tenants (created_at DESC, id DESC);

-- API keys, stored only as the SHA-256 hex of the key. tenant_id is NULL for
-- an admin key.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE formats (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schema      TEXT, -- NULL when the type has no schema
    archived    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX event_types_list ON event_types (created_at DESC, name DESC);

-- Endpoint ids are globally unique (ULIDs) but every lookup also names the
-- tenant, so one tenant can never reach another's endpoint. format is not a
-- foreign key: it may name a built-in format that has no row here.
CREATE TABLE endpoints (
    id                          TEXT PRIMARY KEY,
    tenant_id                   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL,
    events                      TEXT NOT NULL, -- JSON array of filters
    format                      TEXT NOT NULL,
    secret                      TEXT NOT NULL,
    previous_secret             TEXT NOT NULL,
    previous_secret_expires_at  INTEGER,
    enabled                     INTEGER NOT NULL,
    headers                     TEXT NOT NULL, -- JSON object
    rate_limit                  INTEGER NOT NULL,
    metadata                    TEXT NOT NULL,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
) STRICT;
CREATE INDEX endpoints_list ON endpoints (tenant_id, created_at DESC, id DESC);
CREATE INDEX endpoints_format ON endpoints (format);

-- Event ids are the producer's, unique per tenant only.
CREATE TABLE events (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       BLOB NOT NULL,
    hash       TEXT NOT NULL,
    trace_id   TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX events_list ON events (tenant_id, created_at DESC, id DESC);
CREATE INDEX events_list_type ON events (tenant_id, type, created_at DESC, id DESC);

-- deliveries is the queue. A row is due for a claim when its status is
-- active (pending, retrying, delivering) and next_attempt_at has passed. For
-- a delivering row next_attempt_at equals lease_expires_at: an expired lease
-- makes the row due again, so one condition, and the partial indexes on it
-- below, serve the claim, NextDue and lease recovery alike. (SQLite uses a
-- partial index only when the query repeats its WHERE term, so queries spell
-- it exactly as here.)
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'retrying', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    series_attempts  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    -- The bytes sent on the first attempt; every later attempt resends them.
    body             BLOB,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
) STRICT;
-- The claim: an endpoint's due rows, oldest first (whether it has any, and
-- its first cap of them).
CREATE INDEX deliveries_due_endpoint ON deliveries (endpoint_id, next_attempt_at, id)
    WHERE status IN ('pending', 'retrying', 'delivering');
-- The claim's in-flight count: an endpoint's unexpired leases.
CREATE INDEX deliveries_leased ON deliveries (endpoint_id, lease_expires_at)
    WHERE status = 'delivering';
-- NextDue: the earliest due row of all.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying', 'delivering');
-- Lists, newest first, with their filters.
CREATE INDEX deliveries_list ON deliveries (tenant_id, created_at DESC, id DESC);
CREATE INDEX deliveries_list_status ON deliveries (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX deliveries_list_endpoint ON deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX deliveries_event ON deliveries (tenant_id, event_id);
-- Replay: an endpoint's failed deliveries in a time window.
CREATE INDEX deliveries_replay ON deliveries (endpoint_id, created_at) WHERE status = 'failed';

CREATE TABLE attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    response_code INTEGER NOT NULL,
    response_body BLOB NOT NULL,
    error         TEXT NOT NULL,
    UNIQUE (delivery_id, number)
) STRICT;

-- Answers to POSTs with an Idempotency-Key, per calling key.
CREATE TABLE idempotency_records (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;

-- +goose Down
DROP TABLE idempotency_records;
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE endpoints;
DROP TABLE event_types;
DROP TABLE formats;
DROP TABLE api_keys;
DROP TABLE tenants;
