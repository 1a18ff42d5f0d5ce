package cli

import (
	"encoding/json"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/bench"
)

func benchCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		cfg    bench.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Herald on this machine, beside the raw ceiling of the same run",
		Long: `Measure Herald: ingest, delivery throughput at fan-out 1 and 10, latency at
a fixed rate, a noisy neighbour, failing receivers, and a backlog. Every run
first measures the raw ceiling (the same number of signed ~1 KiB POSTs sent
straight from the bench to its receivers, at the same concurrency) and puts
each Herald figure beside it as a ratio. It stops by itself: every load is
bounded in count and every wait by --timeout.

By default it starts Herald in this process on a fresh database (--database,
default a new SQLite file in a temporary directory) with receivers of its
own on 127.0.0.1. With --target and --key (an admin key) it drives a
running server instead, which must allow private destinations and reach
127.0.0.1 of this machine; it creates its own format and tenants there and
deletes them at the end. Progress goes to stderr, the table (or --json) to
stdout. See docs/benchmarks.md.`,
		Example: `  herald bench
  herald bench --database 'postgres://postgres@127.0.0.1:5432/bench?sslmode=disable'
  herald bench --scenario throughput,latency --json
  herald bench --target http://127.0.0.1:8080 --key hk_...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Progress = stderr
			if err := cfg.Check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.Print(stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DatabaseURL, "database", "", "database of the in-process server: sqlite:PATH or postgres://... (default: a new SQLite file, removed afterwards)")
	f.StringVar(&cfg.Target, "target", "", "drive the running server at this URL instead of starting one")
	f.StringVar(&cfg.Key, "key", "", "an admin key of the --target server")
	f.StringSliceVar(&cfg.Scenarios, "scenario", nil, "scenarios to run, comma-separated: ingest, throughput, latency, noisy-neighbour, fair-share, failures, backlog (default all)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.IntVar(&cfg.Producers, "producers", 32, "requests in flight at once, each on a kept-alive connection")
	f.IntVar(&cfg.Events, "events", 5000, "events of the fan-out 1 throughput run, and raw requests of the ceiling")
	f.IntVar(&cfg.FanoutEvents, "fanout-events", 1000, "events of the fan-out 10 throughput run")
	f.IntVar(&cfg.IngestEvents, "ingest-events", 5000, "events of the ingest scenario")
	f.IntVar(&cfg.Rate, "rate", 1000, "events per second of the latency scenario")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the latency scenario posts")
	f.IntVar(&cfg.NoisyRate, "noisy-rate", 100, "events per second of each noisy-neighbour run, each to 10 healthy endpoints, and of each fair-share run, each to 2")
	f.DurationVar(&cfg.NoisyDuration, "noisy-duration", 10*time.Second, "how long each noisy-neighbour and fair-share run posts")
	f.IntVar(&cfg.FailureEvents, "failure-events", 2000, "events of the failures scenario")
	f.IntVar(&cfg.Backlog, "backlog", 100000, "deliveries held back, then released, in the backlog scenario")
	f.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "longest wait for a scenario's deliveries to arrive")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve net/http/pprof of this process (the in-process server) on this loopback address, e.g. 127.0.0.1:6060")
	return cmd
}
