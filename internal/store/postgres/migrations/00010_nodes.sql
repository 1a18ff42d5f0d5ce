-- Every running herald serve registers itself here with a hash of its
-- destination settings (whether private destinations are allowed), and
-- refreshes seen_at while it runs: a node started with settings its live
-- peers do not share warns at start, since whichever node claims a
-- delivery decides whether its address may be reached. A node deletes its
-- row when it stops; rows of nodes that crashed are forgotten after a day.
-- +goose Up
CREATE TABLE nodes (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    settings_hash text NOT NULL,
    settings      text NOT NULL,
    started_at    timestamptz NOT NULL,
    seen_at       timestamptz NOT NULL
);
CREATE INDEX nodes_seen ON nodes (seen_at);

-- +goose Down
DROP TABLE nodes;
