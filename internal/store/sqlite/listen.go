package sqlite

import "context"

// Listen returns a channel that receives a value whenever this Store
// commits new due work. The signal is in-process: with SQLite there is one
// node, and other processes writing the file (there should be none) are
// found by the worker's next poll.
func (s *Store) Listen(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.listeners[ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		// Under the lock, so wake never sends on a closed channel.
		s.mu.Lock()
		delete(s.listeners, ch)
		close(ch)
		s.mu.Unlock()
	})
	return ch, nil
}

// wake signals every listener without blocking; a value already waiting in
// a buffer says the same thing. Called after the commit, never inside a
// transaction, so a woken worker always sees the new rows.
func (s *Store) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.listeners {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
