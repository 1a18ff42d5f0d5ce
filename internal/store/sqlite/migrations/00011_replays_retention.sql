-- Replays are jobs (issue 9): a replay queues an endpoint's finished
-- deliveries again in batches, each its own short transaction, walking the
-- window in (created_at, id) order from position_at/position_id on, so a
-- restart resumes where it stopped and a window of hundreds of thousands
-- never holds a lock for long. A background runner on some node holds each
-- running replay by its lease. endpoint_id is not a foreign key: a replay
-- whose endpoint is deleted stays, failed, to say so.
-- +goose Up
CREATE TABLE replays (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    since_at         INTEGER NOT NULL,
    until_at         INTEGER NOT NULL,
    delivery_status  TEXT NOT NULL CHECK (delivery_status IN ('failed', 'delivered')),
    event_type       TEXT NOT NULL, -- '' for every type
    queued           INTEGER NOT NULL DEFAULT 0,
    scanned          INTEGER NOT NULL DEFAULT 0,
    position_at      INTEGER NOT NULL,
    position_id      TEXT NOT NULL,
    error            TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
) STRICT;
CREATE INDEX replays_list ON replays (tenant_id, created_at DESC, id DESC);
CREATE INDEX replays_list_endpoint ON replays (endpoint_id, created_at DESC, id DESC);
-- The runner's claim: the oldest running replay.
CREATE INDEX replays_running ON replays (created_at, id) WHERE status = 'running';
-- Retention of finished replays.
CREATE INDEX replays_finished ON replays (finished_at) WHERE status <> 'running';
-- A replay's walk over an endpoint's failed deliveries, by (created_at, id):
-- it replaces the index of the old one-statement replay. Delivered ones
-- are walked on deliveries_list_endpoint.
CREATE INDEX deliveries_replay_failed ON deliveries (endpoint_id, created_at, id) WHERE status = 'failed';
DROP INDEX deliveries_replay;

-- Leases of background jobs that one node at a time runs (retention): a
-- row per job, held by owner until expires_at. (Retention walks each
-- tenant's events on events_list, newest first from its cutoff.)
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE leases;
CREATE INDEX deliveries_replay ON deliveries (endpoint_id, created_at) WHERE status = 'failed';
DROP INDEX deliveries_replay_failed;
DROP TABLE replays;
