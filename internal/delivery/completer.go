package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// completion is a finished attempt waiting for its record.
type completion struct {
	p *store.AttemptRecordParams
	// done is told, once the batch holding p has been written, the
	// attempt as stored or why it was not (ErrLeaseLost, or the batch's
	// own error when the database failed).
	done func(att *store.Attempt, err error)
}

// completer writes finished attempts in batches, one transaction each
// (store.DeliveryRecordAttempts), instead of one transaction per attempt. A
// batch goes out when it holds maxBatch attempts, when wait has passed
// since its first, or at once when no attempt is being sent (no more are
// coming soon, so a lone attempt is not held back). An attempt waiting
// here is still leased to this node, and the heartbeat keeps its lease: a
// crash before its batch commits leaves it leased, so it is sent again
// when the lease runs out (at least once, never lost). Closing the input
// flushes what is left.
type completer struct {
	st store.Store
	// record writes a batch; nil means st.DeliveryRecordAttempts.
	record   func(ctx context.Context, ps []*store.AttemptRecordParams) ([]store.AttemptRecordResult, error)
	clock    clock.Clock
	log      *slog.Logger
	maxBatch int
	wait     time.Duration
	busy     func() bool // attempts are being sent: more outcomes are coming

	in   chan *completion
	poke chan struct{} // cap 1: busy may have changed
}

func newCompleter(c *completer) *completer {
	// The queue is bounded: a worker that finds it full waits, so a
	// database slower than the senders slows the senders rather than
	// piling up outcomes in memory.
	c.in = make(chan *completion, 2*c.maxBatch)
	c.poke = make(chan struct{}, 1)
	return c
}

// add queues a finished attempt for the next batch.
func (c *completer) add(cp *completion) { c.in <- cp }

// nudge tells the completer that busy may have changed.
func (c *completer) nudge() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// close ends the input: run writes what is queued and returns. Call it
// once nothing more can be added.
func (c *completer) close() { close(c.in) }

// run writes batches until the input is closed and drained. ctx is the
// context of the writes: it should outlive a shutdown, which flushes.
func (c *completer) run(ctx context.Context) {
	for {
		first, ok := <-c.in
		if !ok {
			return
		}
		c.write(ctx, c.gather(first))
	}
}

// gather collects a batch that starts with first.
func (c *completer) gather(first *completion) []*completion {
	batch := []*completion{first}
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(batch) < c.maxBatch {
		select {
		case cp, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, cp)
			continue
		default:
		}
		if !c.busy() {
			return batch
		}
		if timer == nil {
			timer = c.clock.NewTimer(c.wait)
		}
		select {
		case cp, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, cp)
		case <-timer.C():
			return batch
		case <-c.poke:
		}
	}
	return batch
}

// write records a batch and tells each attempt what became of it.
func (c *completer) write(ctx context.Context, batch []*completion) {
	ps := make([]*store.AttemptRecordParams, len(batch))
	for i, cp := range batch {
		ps[i] = cp.p
	}
	record := c.record
	if record == nil {
		record = c.st.DeliveryRecordAttempts
	}
	res, err := record(ctx, ps)
	if err != nil {
		// Nothing of the batch was recorded: its deliveries stay leased
		// until their leases run out and are attempted again.
		c.log.Error("record attempts", "err", err, "attempts", len(batch))
	}
	for i, cp := range batch {
		if err != nil {
			cp.done(nil, err)
			continue
		}
		cp.done(res[i].Attempt, res[i].Err)
	}
}
