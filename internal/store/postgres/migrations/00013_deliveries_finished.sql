-- The dashboard's overview (issue 11) counts the deliveries that finished,
-- delivered or failed, in each minute of the last hour and each hour of the
-- last day, and reads how long the latest delivered ones took from their
-- event: each is a range of this index (one status, a span of updated_at,
-- which for a finished delivery is when it finished), never the table.
-- Only finished rows are in it, so claiming and recording the attempts of
-- waiting deliveries do not touch it; a delivery adds one entry as it
-- finishes.
-- +goose Up
CREATE INDEX deliveries_finished ON deliveries (status, updated_at) WHERE status IN ('delivered', 'failed');

-- +goose Down
DROP INDEX deliveries_finished;
