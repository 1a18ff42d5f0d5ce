package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// Config is everything `herald serve` takes from flags and HERALD_*
// variables.
type Config struct {
	Addr                     string
	DatabaseURL              string
	AdminKey                 string
	AllowPrivateDestinations bool
	DefaultFormat            string
	FormatsFile              string
	Dev                      bool
	MaxBodyBytes             int64
	Workers                  int
	PerEndpoint              int
	// Lease is how long a claimed delivery stays this node's before another
	// node may take it (crash recovery time); it must exceed the longest
	// format timeout.
	Lease time.Duration
	// OTLPEndpoint, when set, sends traces over OTLP/HTTP to this collector
	// URL (http://host:4318; /v1/traces is added unless the path already
	// ends so). Without it the standard OTEL_EXPORTER_OTLP_ENDPOINT and
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variables turn tracing on; with
	// none of them tracing is off.
	OTLPEndpoint string
	// TracerProvider, when set, is used instead of one made from
	// OTLPEndpoint and the environment, and is not shut down by Run (tests
	// pass an in-memory one).
	TracerProvider trace.TracerProvider
	// Out is where --dev prints the admin key and the URL (stdout).
	Out io.Writer
	// Ready, when set, receives the address the server listens on once it
	// accepts connections (tests use ":0").
	Ready chan<- string
}

// OpenStore opens the store a database URL names: postgres:// or
// postgresql:// for PostgreSQL, sqlite:PATH (or a bare path) for SQLite.
func OpenStore(databaseURL string) (store.Store, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		return postgres.Open(databaseURL)
	}
	if !strings.HasPrefix(databaseURL, "sqlite:") && strings.Contains(databaseURL, "://") {
		return nil, fmt.Errorf("database URL %q: Herald supports sqlite:PATH and postgres://... URLs", redactURL(databaseURL))
	}
	path, err := sqlite.PathFromURL(databaseURL)
	if err != nil {
		return nil, err
	}
	return sqlite.Open(path)
}

// Migrate opens the database and brings its schema up to date.
func Migrate(ctx context.Context, databaseURL string) error {
	st, err := OpenStore(databaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// Run serves until ctx ends (SIGTERM/SIGINT in the CLI), then shuts down:
// the API stops taking requests, the engine stops claiming and lets
// in-flight attempts finish or hands them back.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite:herald.db"
	}
	st, err := OpenStore(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	formats := catalog.New(st, cfg.DefaultFormat, nil)
	if cfg.FormatsFile != "" {
		fs, err := format.LoadFile(cfg.FormatsFile)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if _, err := formats.Put(ctx, f); err != nil {
				return fmt.Errorf("load format %s: %w", f.Name, err)
			}
			log.Info("format loaded", "name", f.Name, "file", cfg.FormatsFile)
		}
	}

	// The default may be one the formats file just defined.
	if _, err := formats.Get(ctx, ""); err != nil {
		return fmt.Errorf("default format %q: %w", formats.DefaultName(), err)
	}

	adminKey, err := bootstrapAdminKey(ctx, st, cfg)
	if err != nil {
		return err
	}

	tp := cfg.TracerProvider
	if tp == nil {
		var shutdown func(context.Context) error
		tp, shutdown, err = newTracing(ctx, cfg.OTLPEndpoint, os.LookupEnv, log)
		if err != nil {
			return err
		}
		defer func() {
			// Flush the spans still buffered; a collector that does not
			// answer holds the exit up for at most 5 seconds.
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(flushCtx); err != nil {
				log.Warn("flush traces", "err", err)
			}
		}()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engine := delivery.NewEngine(delivery.Config{
		Store: st, Formats: formats, Logger: log, Metrics: delivery.NewMetrics(reg),
		Client:         delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: cfg.AllowPrivateDestinations}),
		Workers:        cfg.Workers,
		PerEndpoint:    cfg.PerEndpoint,
		Lease:          cfg.Lease,
		TracerProvider: tp,
	})
	srv := api.New(&api.Config{
		Store: st, Formats: formats, Tester: engine, Logger: log,
		MaxBodyBytes:             cfg.MaxBodyBytes,
		AllowPrivateDestinations: cfg.AllowPrivateDestinations,
		CheckURL: func(ctx context.Context, raw string) error {
			return delivery.CheckURL(ctx, raw, "body.url", cfg.AllowPrivateDestinations, nil)
		},
		Ready:          st.Ping,
		TracerProvider: tp,
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", srv.Handler())

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}

	url := "http://" + ln.Addr().String()
	log.Info("herald listening", "url", url, "database", redactURL(cfg.DatabaseURL), "default_format", formats.DefaultName())
	if cfg.Dev && cfg.Out != nil {
		fmt.Fprintf(cfg.Out, "\nHerald is running at %s\n", url)
		if adminKey != "" {
			fmt.Fprintf(cfg.Out, "Admin key: %s\n", adminKey)
			fmt.Fprintf(cfg.Out, "Try: curl -H 'Authorization: Bearer %s' %s/api/v1/tenants\n\n", adminKey, url)
		}
	} else if adminKey != "" && cfg.Out != nil {
		fmt.Fprintf(cfg.Out, "Created the first admin key (shown once, only its hash is stored): %s\n", adminKey)
	}

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	engineDone := make(chan error, 1)
	go func() { engineDone <- engine.Run(engineCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpSrv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready <- ln.Addr().String()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveDone:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-engineDone:
		runErr = fmt.Errorf("delivery engine stopped: %w", err)
		engineDone <- nil
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	stopEngine()
	<-engineDone
	log.Info("stopped")
	return runErr
}

// newTracing makes the tracer provider for `serve`. With an OTLP endpoint
// (the flag, or OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT in the environment) it is an SDK
// provider that batches spans to an OTLP/HTTP exporter, with service.name
// "herald" (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES may add to or
// override it); shutdown flushes it. Without one it is a no-op provider and
// no exporter exists.
func newTracing(ctx context.Context, endpoint string, lookupEnv func(string) (string, bool), log *slog.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	var opts []otlptracehttp.Option
	switch {
	case endpoint != "":
		u, err := tracesURL(endpoint)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	case !envSet(lookupEnv, "OTEL_EXPORTER_OTLP_ENDPOINT") && !envSet(lookupEnv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("herald")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, nil, fmt.Errorf("trace resource: %w", err)
	}
	// Export failures (a collector that is down) are otel's to report
	// through its one process-wide hook; send them to the log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	log.Info("tracing on", "exporter", "otlp/http")
	return tp, tp.Shutdown, nil
}

// tracesURL turns --otlp-endpoint, a collector's base URL as in
// OTEL_EXPORTER_OTLP_ENDPOINT, into the URL spans are posted to.
func tracesURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("otlp endpoint %q: want an http:// or https:// URL of an OTLP collector", raw)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

func envSet(lookupEnv func(string) (string, bool), name string) bool {
	v, _ := lookupEnv(name)
	return strings.TrimSpace(v) != ""
}

// bootstrapAdminKey makes sure an admin key exists. A key given in the
// config is stored (by hash) if new. Without one, a key is created on first
// start; in dev mode a fresh one is created on every start so it can be
// printed (keys are stored hashed and cannot be shown again). It returns the
// key to print, or "".
func bootstrapAdminKey(ctx context.Context, st store.Store, cfg *Config) (string, error) {
	if cfg.AdminKey != "" {
		hash := api.HashKey(cfg.AdminKey)
		_, err := st.KeyGetByHash(ctx, hash)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrNotFound):
			if _, err := st.KeyCreate(ctx, &store.Key{ID: id.New(id.Key), Name: "configured admin key", Hash: hash, CreatedAt: time.Now().UTC()}); err != nil && !errors.Is(err, store.ErrConflict) {
				return "", fmt.Errorf("store admin key: %w", err)
			}
		default:
			return "", fmt.Errorf("look up admin key: %w", err)
		}
		if cfg.Dev {
			return cfg.AdminKey, nil
		}
		return "", nil
	}
	exists, err := st.KeyAdminExists(ctx)
	if err != nil {
		return "", fmt.Errorf("look up admin keys: %w", err)
	}
	if exists && !cfg.Dev {
		return "", nil
	}
	key := api.NewKey()
	name := "first admin key"
	if cfg.Dev {
		name = "dev admin key"
	}
	if _, err := st.KeyCreate(ctx, &store.Key{ID: id.New(id.Key), Name: name, Hash: api.HashKey(key), CreatedAt: time.Now().UTC()}); err != nil {
		return "", fmt.Errorf("create admin key: %w", err)
	}
	return key, nil
}

// redactURL drops a password from a database URL before it is logged.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	creds := u[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return u[:scheme+3] + creds[:i] + ":***" + u[at:]
	}
	return u
}
