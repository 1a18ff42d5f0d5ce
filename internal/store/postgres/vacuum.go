package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Vacuum thresholds: a table of the schema is vacuumed once its dead row
// versions reach VacuumMinDead plus VacuumFraction of its live rows, and
// analyzed once AnalyzeMinChanged plus that fraction of them changed since
// its last analysis: a new table's first thousand rows already give the
// planner statistics to choose the queue's indexes by, where the empty
// table's had it scan the due index whole in every claim.
const (
	VacuumMinDead     = 10_000
	AnalyzeMinChanged = 1_000
	VacuumFraction    = 0.1
)

// Vacuum vacuums and analyzes each table of Herald's schema whose dead
// row versions have reached the thresholds (VacuumMinDead, VacuumFraction),
// and analyzes each whose rows changed enough since it was last analyzed
// (AnalyzeMinChanged). It returns the tables it vacuumed or analyzed. A table another
// session is vacuuming is skipped (SKIP_LOCKED), so nodes that run it at
// once do not queue behind each other.
//
// The delivery queue rewrites a row at every claim and record, and a
// claim walks its indexes from their first entry: dead versions left
// there make every claim slower until a vacuum removes them, and stale
// statistics give plans for the table's size at its last analysis. With
// autovacuum off, or a minute behind a burst, claims on a table that had
// seen a million deliveries took 40 ms instead of 1 (docs/design.md), so
// the server does not leave this to the database's configuration alone.
func (s *Store) Vacuum(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT relname, n_dead_tup >= $1 + $3 * n_live_tup
		FROM pg_stat_user_tables
		WHERE schemaname = current_schema()
		  AND (n_dead_tup >= $1 + $3 * n_live_tup OR n_mod_since_analyze >= $2 + $3 * n_live_tup)
		ORDER BY relname`, VacuumMinDead, AnalyzeMinChanged, VacuumFraction)
	if err != nil {
		return nil, fmt.Errorf("postgres: vacuum: read table statistics: %w", err)
	}
	type table struct {
		name   string
		vacuum bool
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var t table
		return t, r.Scan(&t.name, &t.vacuum)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: vacuum: read table statistics: %w", err)
	}
	var done []string
	for _, t := range tables {
		what := "ANALYZE (SKIP_LOCKED) "
		if t.vacuum {
			what = "VACUUM (ANALYZE, SKIP_LOCKED) "
		}
		if _, err := s.pool.Exec(ctx, what+pgx.Identifier{t.name}.Sanitize()); err != nil {
			return done, fmt.Errorf("postgres: vacuum %s: %w", t.name, err)
		}
		done = append(done, t.name)
	}
	return done, nil
}
