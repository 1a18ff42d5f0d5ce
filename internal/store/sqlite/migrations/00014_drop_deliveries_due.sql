-- deliveries_due (next_attempt_at, over the unfinished deliveries) served
-- no query of its own any more: the earliest due time is found by skipping
-- through deliveries_due_endpoint, one probe per endpoint with work, and
-- the queue's gauges count the unfinished rows of that index, whose
-- condition is the same. Every delivery's insert, and on PostgreSQL every
-- claim and record of one (none of which is a HOT update), wrote an entry
-- to it for nothing (docs/design.md).
-- +goose Up
DROP INDEX deliveries_due;

-- +goose Down
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying', 'delivering');
