package app

import (
	"context"
	"time"
)

// vacuumEvery is how often a node asks the store to vacuum what needs it.
const vacuumEvery = 5 * time.Second

// vacuumer is a store that vacuums its own tables (PostgreSQL): see
// postgres.Store.Vacuum. SQLite keeps no dead row versions.
type vacuumer interface {
	Vacuum(ctx context.Context) ([]string, error)
}

// vacuum asks the store every vacuumEvery to vacuum and analyze the tables
// whose dead rows or changes have piled up, until ctx ends.
func (m *Main) vacuum(ctx context.Context) {
	v, ok := m.st.(vacuumer)
	if !ok {
		return
	}
	m.every(ctx, vacuumEvery, func() {
		started := m.cfg.Clock.Now()
		tables, err := v.Vacuum(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Warn("vacuum", "err", err, "tables", tables)
		case len(tables) > 0:
			m.log.Debug("vacuumed", "tables", tables, "took", m.cfg.Clock.Now().Sub(started))
		}
	})
}
