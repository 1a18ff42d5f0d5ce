-- Operator notifications (issue 9, item 8): the operator's endpoints are
-- the endpoints of a tenant of its own, herald:operator, an id no user can
-- choose (tenant ids are [A-Za-z0-9_.-]), which every tenant method of the
-- store leaves out. Every failure notice and disabled-endpoint notice a
-- tenant's endpoints get is stored for it too, with the tenant's id in the
-- data, and delivered by the same engine.
-- Retention purges deleted endpoints once none of their deliveries
-- remain: endpoints_deleted finds them without reading the live ones.
-- +goose Up
INSERT INTO tenants (id, name, metadata, portal_origins, created_at, updated_at)
VALUES ('herald:operator', 'operator', '{}', '[]', 0, 0)
ON CONFLICT (id) DO NOTHING;
CREATE INDEX endpoints_deleted ON endpoints (id) WHERE deleted_at IS NOT NULL;

-- +goose Down
DROP INDEX endpoints_deleted;
DELETE FROM tenants WHERE id = 'herald:operator';
