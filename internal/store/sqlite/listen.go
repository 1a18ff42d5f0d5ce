package sqlite

import "context"

// Listen returns a channel that receives a value whenever this Store
// commits new due work. It is closed when ctx ends or the Store closes. The
// signal is in-process: with SQLite there is one node, and other processes
// writing the file (there should be none) are found by the worker's next
// poll.
func (s *Store) Listen(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.listeners[ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		// Under the lock, so wake never sends on a closed channel.
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.listeners[ch]; ok { // Close may have closed it
			delete(s.listeners, ch)
			close(ch)
		}
	})
	return ch, nil
}

// closeListeners closes every Listen channel, for Close.
func (s *Store) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.listeners {
		delete(s.listeners, ch)
		close(ch)
	}
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
