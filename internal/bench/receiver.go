package bench

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// mode is how a receiver answers.
type mode int

const (
	healthy mode = iota // 204 at once
	slow                // 200 after slowAnswer
	flaky               // 500 at random (failRate of attempts), else 204
	hold                // 204 once released
)

// slowAnswer is how long a slow receiver of the noisy-neighbour scenario
// takes to answer.
const slowAnswer = 10 * time.Second

// recorder keeps, for each of n events, when a receiver first answered it
// 2xx: the slot of event "e<i>" is i. Slots are atomics, so receivers
// never contend on a lock.
type recorder struct {
	arrived []atomic.Int64 // unix nanoseconds; 0 not yet
	want    int64
	got     atomic.Int64
	dups    atomic.Int64
	done    chan struct{}
	once    sync.Once
}

func newRecorder(n int) *recorder {
	r := &recorder{arrived: make([]atomic.Int64, n), want: int64(n), done: make(chan struct{})}
	if n == 0 {
		close(r.done)
	}
	return r
}

// arrive records event webhookID at t; a second 2xx for it is a duplicate.
func (r *recorder) arrive(webhookID string, t time.Time) {
	if len(webhookID) < 2 || webhookID[0] != 'e' {
		return
	}
	i, err := strconv.Atoi(webhookID[1:])
	if err != nil || i < 0 || i >= len(r.arrived) {
		return
	}
	if !r.arrived[i].CompareAndSwap(0, t.UnixNano()) {
		r.dups.Add(1)
		return
	}
	if r.got.Add(1) == r.want {
		r.once.Do(func() { close(r.done) })
	}
}

// receiver is one HTTP server on 127.0.0.1 standing in for an endpoint. It
// checks no signature: it is here to answer, and to note when.
type receiver struct {
	mode     mode
	rec      *recorder
	failRate float64
	release  chan struct{} // hold: closed to answer
	quit     chan struct{} // closed on close: slow and held handlers return
	attempts atomic.Int64
	failed   atomic.Int64
	srv      *http.Server
	ln       net.Listener
	closed   sync.Once
}

// startReceiver listens on a free loopback port and serves.
func startReceiver(m mode, rec *recorder) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{mode: m, rec: rec, failRate: 0.3, release: make(chan struct{}), quit: make(chan struct{}), ln: ln}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is where the receiver takes deliveries.
func (r *receiver) URL() string { return "http://" + r.ln.Addr().String() + "/hook" }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	r.attempts.Add(1)
	switch r.mode {
	case slow:
		select {
		case <-time.After(slowAnswer):
		case <-r.quit:
		case <-req.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
		return
	case flaky:
		if rand.Float64() < r.failRate {
			r.failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	case hold:
		select {
		case <-r.release:
		case <-r.quit:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case <-req.Context().Done():
			return
		}
	}
	if r.rec != nil {
		r.rec.arrive(req.Header.Get("webhook-id"), time.Now())
	}
	w.WriteHeader(http.StatusNoContent)
}

// Release lets a holding receiver answer what it holds and all that comes.
func (r *receiver) Release() { close(r.release) }

func (r *receiver) close() {
	r.closed.Do(func() {
		close(r.quit)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.srv.Shutdown(ctx) != nil {
			_ = r.srv.Close()
		}
	})
}

// refusedURL is a loopback URL where nothing listens: a port taken from
// the kernel and given back, so connections to it are refused.
func refusedURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return "http://" + addr + "/hook", nil
}
