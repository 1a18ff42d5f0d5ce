package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers. Everything in Herald that reads the
// time or waits for a moment takes one, so a test can hand it a Fake.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock, as time.Timer.
type Timer interface {
	// C receives the time when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was
	// still pending.
	Stop() bool
	// Reset makes the timer fire d from now; it reports whether it was
	// still pending.
	Reset(d time.Duration) bool
}

// Real is the wall clock.
func Real() Clock { return realClock{} }

// Or is c, or the wall clock when c is nil: what constructors use for a
// Clock their config leaves unset.
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// Fake is a Clock that moves only when told to. Its timers fire, in order of
// their deadlines, when Advance or Set passes them. The zero value is not
// usable; make one with NewFake.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a Fake clock stopped at now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

// Now is the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and fires every timer it passes.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	to := f.now.Add(d)
	f.mu.Unlock()
	f.Set(to)
}

// Set moves the clock to t (never backwards) and fires every timer whose
// deadline is at or before t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.now = t
	}
	sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	kept := f.timers[:0]
	for _, ft := range f.timers {
		if ft.at.After(f.now) {
			kept = append(kept, ft)
			continue
		}
		// The channel has room for one value, as time.Timer's; a value
		// nobody took is replaced, never blocking the clock.
		select {
		case ft.c <- f.now:
		default:
		}
		ft.pending = false
	}
	f.timers = kept
}

// Timers is how many timers are waiting to fire: a test can wait for the
// code under test to have set its timer before advancing past it.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NextDeadline is when the earliest waiting timer fires, zero when none
// waits: a test can tell which wait the code under test chose.
func (f *Fake) NextDeadline() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for _, ft := range f.timers {
		if next.IsZero() || ft.at.Before(next) {
			next = ft.at
		}
	}
	return next
}

// NewTimer returns a timer that fires when the clock reaches Now()+d; at
// once if d <= 0.
func (f *Fake) NewTimer(d time.Duration) Timer {
	ft := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	ft.Reset(d)
	return ft
}

type fakeTimer struct {
	f       *Fake
	c       chan time.Time
	at      time.Time
	pending bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.stopLocked()
}

func (t *fakeTimer) stopLocked() bool {
	was := t.pending
	if was {
		for i, ft := range t.f.timers {
			if ft == t {
				t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
				break
			}
		}
	}
	t.pending = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	was := t.stopLocked()
	t.at = t.f.now.Add(d)
	if d <= 0 {
		now := t.f.now
		t.f.mu.Unlock()
		select {
		case t.c <- now:
		default:
		}
		return was
	}
	t.pending = true
	t.f.timers = append(t.f.timers, t)
	t.f.mu.Unlock()
	return was
}
