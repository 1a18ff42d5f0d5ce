package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// Scenarios are the scenario names, in the order they run.
var Scenarios = []string{"ingest", "throughput", "latency", "noisy-neighbour", "fair-share", "failures", "backlog"}

// Config is what `herald bench` takes from its flags. Zero sizes get the
// defaults, small enough that a run with every scenario ends in about two
// minutes on two cores.
type Config struct {
	// Target and Key drive a running server (its base URL and an admin
	// key); without Target the bench starts Herald in this process on
	// DatabaseURL.
	Target string
	Key    string
	// DatabaseURL is the database of the in-process server: sqlite:PATH or
	// postgres://...; "" is a new SQLite file in a temporary directory,
	// removed afterwards. Give PostgreSQL a database of its own: the bench
	// migrates it and deletes only what it created.
	DatabaseURL string
	// PprofAddr serves net/http/pprof of the in-process server (and of the
	// bench) on this loopback address.
	PprofAddr string
	// Scenarios to run, by name; nil is all.
	Scenarios []string
	// Producers is how many goroutines post at once, each on a kept-alive
	// connection (32).
	Producers int
	// IngestEvents is the number of events of the ingest scenario (5,000).
	IngestEvents int
	// Events is the number of events of the fan-out 1 throughput run
	// (5,000), and the number of raw requests.
	Events int
	// FanoutEvents is the number of events of the fan-out 10 run (1,000,
	// so 10,000 deliveries).
	FanoutEvents int
	// Rate and Duration shape the latency scenario (1,000 events/s for
	// 10 s).
	Rate     int
	Duration time.Duration
	// NoisyRate and NoisyDuration shape each of the two noisy-neighbour
	// runs (100 events/s to 10 healthy endpoints, for 10 s).
	NoisyRate     int
	NoisyDuration time.Duration
	// FailureEvents is the number of events of the failures scenario
	// (2,000).
	FailureEvents int
	// Backlog is the number of deliveries of the backlog scenario (100,000).
	Backlog int
	// Timeout bounds each wait for deliveries to arrive (2m); a scenario
	// that runs out reports what arrived, marked incomplete.
	Timeout time.Duration
	// Progress receives a line every few seconds while the bench runs.
	Progress io.Writer
	// Logger is the in-process server's log (default: discarded).
	Logger *slog.Logger
}

func (c *Config) defaults() {
	c.Producers = cmp.Or(c.Producers, 32)
	c.IngestEvents = cmp.Or(c.IngestEvents, 5000)
	c.Events = cmp.Or(c.Events, 5000)
	c.FanoutEvents = cmp.Or(c.FanoutEvents, 1000)
	c.Rate = cmp.Or(c.Rate, 1000)
	c.Duration = cmp.Or(c.Duration, 10*time.Second)
	c.NoisyRate = cmp.Or(c.NoisyRate, 100)
	c.NoisyDuration = cmp.Or(c.NoisyDuration, 10*time.Second)
	c.FailureEvents = cmp.Or(c.FailureEvents, 2000)
	c.Backlog = cmp.Or(c.Backlog, 100000)
	c.Timeout = cmp.Or(c.Timeout, 2*time.Minute)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
}

// Check reports a Config the bench cannot run.
func (c *Config) Check() error {
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("scenario %q: want one of %s", s, strings.Join(Scenarios, ", "))
		}
	}
	if c.Target != "" && c.Key == "" {
		return errors.New("--target needs --key, an admin key of that server")
	}
	if c.Target != "" && c.DatabaseURL != "" {
		return errors.New("--database is for the server the bench starts; with --target the server has its own")
	}
	if c.PprofAddr != "" {
		if err := app.CheckPprofAddr(c.PprofAddr); err != nil {
			return err
		}
	}
	for name, v := range map[string]int{
		"producers": c.Producers, "ingest-events": c.IngestEvents, "events": c.Events, "fanout-events": c.FanoutEvents,
		"rate": c.Rate, "noisy-rate": c.NoisyRate, "failure-events": c.FailureEvents, "backlog": c.Backlog,
	} {
		if v < 0 {
			return fmt.Errorf("--%s %d: must not be negative", name, v)
		}
	}
	return nil
}

// Run measures the raw ceiling, then each scenario, and returns the report.
// It stops by itself: every load is bounded in count, every wait by
// Config.Timeout.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	r := &runner{cfg: &cfg, progress: cfg.Progress, runID: "bench-" + randomHex(4)}
	rep := &Report{
		StartedAt: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Producers: cfg.Producers, Scenarios: cfg.Scenarios,
	}
	r.report = rep
	base, key := cfg.Target, cfg.Key
	if cfg.Target == "" {
		stop, err := r.startHerald(ctx)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			return nil, err
		}
		base, key = r.base, r.key
		rep.Server = "in-process"
	} else {
		rep.Server = cfg.Target
	}
	r.api = newClient(base, key, cfg.Producers)
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	defer r.cleanup()

	r.logf("raw ceiling: %d signed POSTs straight to a receiver", cfg.Events)
	raw, err := r.raw(ctx)
	if err != nil {
		return nil, fmt.Errorf("raw ceiling: %w", err)
	}
	rep.Raw = raw
	for _, s := range cfg.Scenarios {
		r.logf("%s", s)
		var err error
		switch s {
		case "ingest":
			rep.Ingest, err = r.ingest(ctx)
		case "throughput":
			for _, fo := range []struct{ fanout, events int }{{1, cfg.Events}, {10, cfg.FanoutEvents}} {
				var t *Throughput
				if t, err = r.throughput(ctx, fo.fanout, fo.events); err != nil {
					break
				}
				rep.Throughput = append(rep.Throughput, t)
			}
		case "latency":
			rep.Latency, err = r.latency(ctx)
		case "noisy-neighbour":
			rep.NoisyNeighbour, err = r.noisy(ctx)
		case "fair-share":
			rep.FairShare, err = r.fairShare(ctx)
		case "failures":
			rep.Failures, err = r.failures(ctx)
		case "backlog":
			rep.Backlog, err = r.backlog(ctx)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", s, err)
		}
	}
	rep.Seconds = time.Since(rep.StartedAt).Seconds()
	return rep, nil
}

// startHerald opens a server in this process, as `herald serve` does, with
// an admin key of its own, on a fresh database, listening on a free
// loopback port. The returned stop shuts it down.
func (r *runner) startHerald(ctx context.Context) (stop func(), err error) {
	dbURL := r.cfg.DatabaseURL
	var tmp string
	if dbURL == "" {
		if tmp, err = os.MkdirTemp("", "herald-bench-"); err != nil {
			return nil, err
		}
		dbURL = "sqlite:" + filepath.Join(tmp, "bench.db")
	}
	r.report.Database = redact(dbURL)
	r.key = "hk_bench_" + randomHex(16)
	m := app.NewMain(&app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: dbURL, AdminKey: r.key, AllowPrivateDestinations: true,
		PprofAddr: r.cfg.PprofAddr,
	}, r.cfg.Logger)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	stop = func() {
		cancel()
		if done != nil {
			<-done
		}
		_ = m.Close()
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}
	if err := m.Open(ctx); err != nil {
		done = nil
		return stop, fmt.Errorf("start herald: %w", err)
	}
	if a := m.PprofAddr(); a != "" {
		r.logf("pprof at http://%s/debug/pprof/", a)
	}
	go func() { done <- m.Run(runCtx) }()
	r.base, r.inProcess = "http://"+m.Addr(), true
	return stop, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact drops a password from a database URL before it is printed.
func redact(u string) string {
	at, scheme := strings.LastIndex(u, "@"), strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	if i := strings.Index(u[scheme+3:at], ":"); i >= 0 {
		return u[:scheme+3+i] + ":***" + u[at:]
	}
	return u
}
