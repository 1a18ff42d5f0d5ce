package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

const nodeCols = `id, name, settings_hash, settings, started_at, seen_at`

// NodePut stores n, replacing the row of its ID, and forgets the nodes not
// seen since forgetBefore, in one transaction.
func (s *Store) NodePut(ctx context.Context, n *store.Node, forgetBefore time.Time) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO nodes (`+nodeCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, settings_hash = excluded.settings_hash,
				settings = excluded.settings, started_at = excluded.started_at, seen_at = excluded.seen_at`,
			n.ID, n.Name, n.SettingsHash, n.Settings, s.orNow(n.StartedAt), s.orNow(n.SeenAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM nodes WHERE seen_at < $1 AND id <> $2`, store.Timestamp(forgetBefore), n.ID)
		return err
	})
	return s.Err(err, "put node %q", n.ID)
}

// NodeList lists the nodes seen at or after since, the earliest started
// first.
func (s *Store) NodeList(ctx context.Context, since time.Time) ([]*store.Node, error) {
	rows, err := s.read.Query(ctx, `SELECT `+nodeCols+` FROM nodes WHERE seen_at >= $1 ORDER BY started_at, id`, store.Timestamp(since))
	if err != nil {
		return nil, s.Err(err, "list nodes")
	}
	defer rows.Close()
	var out []*store.Node
	for rows.Next() {
		var n store.Node
		if err := rows.Scan(&n.ID, &n.Name, &n.SettingsHash, &n.Settings, &n.StartedAt, &n.SeenAt); err != nil {
			return nil, s.Err(err, "list nodes")
		}
		n.StartedAt, n.SeenAt = store.Timestamp(n.StartedAt), store.Timestamp(n.SeenAt)
		out = append(out, &n)
	}
	return out, s.Err(rows.Err(), "list nodes")
}

// NodeDelete deletes a node's row.
func (s *Store) NodeDelete(ctx context.Context, id string) error {
	n, err := s.write.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, id)
	if err != nil {
		return s.Err(err, "delete node %q", id)
	}
	if n == 0 {
		return fmt.Errorf("node %q: %w", id, store.ErrNotFound)
	}
	return nil
}
