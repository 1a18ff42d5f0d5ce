-- An endpoint's rate limit holds for the whole deployment: every claim
-- (serialized with the others) gives each delivery of a rate-limited
-- endpoint its turn, and this is the next free one. NULL: free now.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN rate_next_at INTEGER;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN rate_next_at;
