-- The customer portal (issue 11): the origins that may frame a tenant's
-- portal pages (a JSON array of origins, CSP frame-ancestors), and a table
-- of server-wide settings, where the secret that signs portal links is
-- made once and shared by every node.
-- +goose Up
ALTER TABLE tenants ADD COLUMN portal_origins TEXT NOT NULL DEFAULT '[]';

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
ALTER TABLE tenants DROP COLUMN portal_origins;
