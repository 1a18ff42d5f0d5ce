-- PostgreSQL's migration 15 drops the foreign keys of events, deliveries,
-- attempts and endpoint health, whose checks cost it a sixth of fan-out
-- 1. SQLite keeps them: its checks are look-ups in this process, and
-- dropping one means rebuilding the table. The store deletes those rows'
-- children itself on both (TenantDelete, EndpointPurgeDeleted, retention),
-- so the cascades find nothing left; this version keeps the two schemas'
-- numbers in step.
-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
