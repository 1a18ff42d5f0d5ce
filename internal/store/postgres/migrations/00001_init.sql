-- Herald's schema on PostgreSQL. Times are timestamptz (microseconds).
-- JSON the user gave for display only (metadata, headers, filters, schemas)
-- is text, and event data is bytea: jsonb would reorder keys and rewrite
-- numbers, and the bytes an event was posted with are the bytes we sign.

-- +goose Up
CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    metadata   text NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX tenants_list ON tenants (created_at DESC, id DESC);

-- API keys, stored only as the SHA-256 hex of the key. tenant_id is NULL for
-- an admin key.
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant_id  text REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL,
    hash       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE formats (
    name       text PRIMARY KEY,
    definition text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE event_types (
    name        text PRIMARY KEY,
    description text NOT NULL,
    schema      text, -- NULL when the type has no schema
    archived    boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX event_types_list ON event_types (created_at DESC, name DESC);

-- Endpoint ids are globally unique (ULIDs) but every lookup also names the
-- tenant, so one tenant can never reach another's endpoint. format is not a
-- foreign key: it may name a built-in format that has no row here.
CREATE TABLE endpoints (
    id                          text PRIMARY KEY,
    tenant_id                   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    description                 text NOT NULL,
    events                      text NOT NULL, -- JSON array of filters
    format                      text NOT NULL,
    secret                      text NOT NULL,
    previous_secret             text NOT NULL,
    previous_secret_expires_at  timestamptz,
    enabled                     boolean NOT NULL,
    headers                     text NOT NULL, -- JSON object
    rate_limit                  integer NOT NULL,
    metadata                    text NOT NULL,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX endpoints_list ON endpoints (tenant_id, created_at DESC, id DESC);
CREATE INDEX endpoints_format ON endpoints (format);

-- Event ids are the producer's, unique per tenant only.
CREATE TABLE events (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         text NOT NULL,
    type       text NOT NULL,
    data       bytea NOT NULL,
    hash       text NOT NULL,
    trace_id   text NOT NULL,
    source     text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_list ON events (tenant_id, created_at DESC, id DESC);
CREATE INDEX events_list_type ON events (tenant_id, type, created_at DESC, id DESC);

-- deliveries is the queue. A row is due for a claim when its status is
-- active (pending, retrying, delivering) and next_attempt_at has passed. For
-- a delivering row next_attempt_at equals lease_expires_at: an expired lease
-- makes the row due again, so one condition, and the partial indexes on it
-- below, serve the claim, NextDue and lease recovery alike.
CREATE TABLE deliveries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    endpoint_id      text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('pending', 'delivering', 'retrying', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    series_attempts  integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz,
    -- The bytes sent on the first attempt; every later attempt resends them.
    body             bytea,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
);
-- The claim: due rows of one endpoint, oldest first (the LATERAL per endpoint).
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
    id            text PRIMARY KEY,
    delivery_id   text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        integer NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_ms   bigint NOT NULL,
    response_code integer NOT NULL,
    -- bytea: a receiver's body may be any bytes, text would refuse some.
    response_body bytea NOT NULL,
    error         text NOT NULL,
    UNIQUE (delivery_id, number)
);

-- Answers to POSTs with an Idempotency-Key, per calling key.
CREATE TABLE idempotency_records (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

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
