-- An endpoint's own cap on attempts in flight; 0 means the server's
-- (--per-endpoint), and the server's is also the most an endpoint may set.
-- +goose Up
ALTER TABLE endpoints ADD COLUMN max_in_flight integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN max_in_flight;
