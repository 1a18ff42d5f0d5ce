-- Deliveries listed by event type (?event_type=, issue 10): without this
-- the list walks every delivery of the tenant, newest first, to find a rare
-- type. Like the other list indexes it goes on with created_at, so the
-- ?since= and ?until= window and the cursor are a range of it.
-- +goose Up
CREATE INDEX deliveries_list_type ON deliveries (tenant_id, event_type, created_at DESC, id DESC);

-- +goose Down
DROP INDEX deliveries_list_type;
