package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen returns a channel that receives a value whenever any node commits
// new due work (a NOTIFY on herald_deliveries). The first LISTEN is done
// before Listen returns, so every commit after that wakes the channel.
//
// It holds a connection of its own, outside the pool: a LISTEN lives as
// long as its session, and a pooled connection held forever would shrink
// the pool and make pool.Close wait for it.
func (s *Store) Listen(ctx context.Context) (<-chan struct{}, error) {
	ctx, cancel := context.WithCancel(ctx)
	stopWithStore := context.AfterFunc(s.lifetime, cancel)
	conn, schema, err := s.listenConn(ctx)
	if err != nil {
		stopWithStore()
		cancel()
		return nil, err
	}
	ch := make(chan struct{}, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer stopWithStore()
		defer cancel()
		defer close(ch)
		s.listenLoop(ctx, conn, schema, ch)
	}()
	return ch, nil
}

// listenConn connects, listens, and returns the schema whose notifications
// concern this Store.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, string, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, "", fmt.Errorf("postgres: listen: %w", err)
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		closeConn(conn)
		return nil, "", fmt.Errorf("postgres: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		closeConn(conn)
		return nil, "", fmt.Errorf("postgres: listen: %w", err)
	}
	return conn, schema, nil
}

// listenLoop forwards notifications until ctx ends, reconnecting with
// backoff when the connection fails.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn, schema string, ch chan<- struct{}) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		if conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err == nil {
				backoff = minBackoff
				if n.Payload == schema {
					wake(ch)
				}
				continue
			}
			closeConn(conn)
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		c, _, err := s.listenConn(ctx)
		if err != nil {
			continue
		}
		conn = c
		// Whatever was committed while we were away was not heard: look.
		wake(ch)
	}
}

// wake sends on ch without ever blocking; a value already waiting in the
// buffer says the same thing.
func wake(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
