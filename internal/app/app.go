package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
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
	"github.com/heraldhq/herald/internal/apikey"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/replay"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/web"
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
	PerTenant                int
	// MaxEndpointsPerTenant is how many endpoints one tenant may have; 0
	// means the default (100).
	MaxEndpointsPerTenant int
	// MaxBufferedBytes bounds the request-body bytes held in memory at
	// once across all requests (api.Config.MaxBufferedBytes).
	MaxBufferedBytes int64
	// Lease is how long a claimed delivery stays this node's before another
	// node may take it (crash recovery time); it must exceed the longest
	// format timeout.
	Lease time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed for
	// longer than this (--disable-after); 0 never does.
	DisableAfter time.Duration
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
	// Clock is the time of the store, the engine and the API; nil means
	// the wall clock (tests pass a clock.Fake).
	Clock clock.Clock
	// TrustForwardedProto takes the X-Forwarded-Proto header of a proxy in
	// front of Herald as telling whether the browser uses TLS, so that the
	// dashboard's session cookie is marked Secure behind a TLS proxy.
	TrustForwardedProto bool
	// PprofAddr, when set, serves net/http/pprof on a listener of its own
	// at this loopback address (CheckPprofAddr); off by default.
	PprofAddr string
	// MetricsTenantLabel, when above 0, labels
	// herald_events_accepted_total by tenant for up to this many tenants
	// per node, the rest counted together (delivery.MetricsConfig); 0
	// means no tenant label.
	MetricsTenantLabel int
	// EncryptionKey, 32 random bytes in base64, seals endpoints' secrets
	// at rest (--encryption-key); "" keeps them in clear, with a warning at
	// start outside Dev.
	EncryptionKey string
	// OldEncryptionKeys are keys being retired: secrets sealed under them
	// are still read, and sealed again under EncryptionKey when written or
	// by RotateKey.
	OldEncryptionKeys []string
	// Retention is how long finished events are kept (--retention): older
	// ones whose deliveries are all delivered or failed are deleted, with
	// their deliveries and attempts, by a background job on one node at a
	// time. 0 keeps everything; the serve command's default is
	// retention.DefaultRetention.
	Retention time.Duration
	// RetentionEvery is the wait between two retention runs; 0 means
	// retention's default (half the retention, at most 10 minutes).
	RetentionEvery time.Duration
}

// Keyring makes the keyring of --encryption-key and --old-encryption-key:
// nil (secrets in clear) without a key.
func Keyring(current string, old []string) (*secretbox.Keyring, error) {
	if current == "" {
		if len(old) > 0 {
			return nil, errors.New("--old-encryption-key without --encryption-key: give the key to seal with too")
		}
		return nil, nil
	}
	cur, err := secretbox.ParseKey(current)
	if err != nil {
		return nil, fmt.Errorf("--encryption-key: %w", err)
	}
	var olds [][]byte
	for i, o := range old {
		k, err := secretbox.ParseKey(o)
		if err != nil {
			return nil, fmt.Errorf("--old-encryption-key %d: %w", i+1, err)
		}
		olds = append(olds, k)
	}
	return secretbox.NewKeyring(cur, olds...)
}

// RotateKey seals every endpoint's secrets under the keyring's current key
// (herald rotate-key): those in clear, and those under an old key, which
// the keyring must have. It checks first that every stored secret opens,
// so it changes nothing unless it can finish. It returns how many
// endpoints it sealed again.
func RotateKey(ctx context.Context, databaseURL string, ring *secretbox.Keyring) (int, error) {
	if ring == nil {
		return 0, errors.New("--encryption-key is required: the key to seal every secret under")
	}
	st, err := OpenStore(databaseURL, store.WithSecrets(ring))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if _, err := st.EndpointSecretsCheck(ctx); err != nil {
		return 0, secretsErr(err)
	}
	return st.EndpointSecretsReseal(ctx)
}

// secretsErr says what to do when stored secrets do not open.
func secretsErr(err error) error {
	return fmt.Errorf("%w; give the --encryption-key they were sealed under, or it as --old-encryption-key beside the new one", err)
}

// OpenStore opens the store a database URL names: postgres:// or
// postgresql:// for PostgreSQL, sqlite:PATH for SQLite. Anything else is
// refused, a bare file name with the URL it was meant to be.
func OpenStore(databaseURL string, opts ...store.Option) (store.Store, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		return postgres.Open(databaseURL, opts...)
	}
	if !strings.HasPrefix(databaseURL, "sqlite:") {
		msg := fmt.Sprintf("database URL %q: Herald supports sqlite:PATH and postgres://... URLs", redactURL(databaseURL))
		if databaseURL != "" && !strings.Contains(databaseURL, "://") {
			msg += fmt.Sprintf("; for the SQLite file %s, give sqlite:%s", databaseURL, databaseURL)
		}
		return nil, errors.New(msg)
	}
	path, err := sqlite.PathFromURL(databaseURL)
	if err != nil {
		return nil, err
	}
	return sqlite.Open(path, opts...)
}

// Migrate opens the database, brings its schema up to date and says what
// it applied.
func Migrate(ctx context.Context, databaseURL string) (*store.MigrateResult, error) {
	st, err := OpenStore(databaseURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.MigrateUp(ctx)
}

// Main is one Herald server: NewMain wires it, Open acquires what it needs
// (the store, formats, the admin key, tracing, the listening socket), Run
// serves until the context ends, and Close lets go. Tests start it as the
// serve command does.
type Main struct {
	cfg Config
	log *slog.Logger

	st          store.Store
	formats     *catalog.Catalog
	engine      *delivery.Engine
	replays     *replay.Service
	retention   *retention.Sweeper
	httpSrv     *http.Server
	ln          net.Listener
	served      bool
	flushTraces func(context.Context) error
	pprofSrv    *http.Server
	pprofLn     net.Listener
	node        *store.Node // this node's row in the nodes table, while registered
}

// NewMain returns a Main for cfg, logging to log. It does no I/O.
func NewMain(cfg *Config, log *slog.Logger) *Main {
	m := &Main{cfg: *cfg, log: log}
	m.cfg.Clock = clock.Or(m.cfg.Clock)
	if m.cfg.DatabaseURL == "" {
		m.cfg.DatabaseURL = "sqlite:herald.db"
	}
	return m
}

// Run runs a Main for cfg until ctx ends (SIGTERM/SIGINT in the CLI): Open,
// Run, Close.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) (err error) {
	m := NewMain(cfg, log)
	defer func() { err = errors.Join(err, m.Close()) }()
	if err := m.Open(ctx); err != nil {
		return err
	}
	return m.Run(ctx)
}

// Open opens and migrates the store, loads the formats, registers this
// node (warning when a live peer's destination settings differ), makes
// sure an admin key exists, sets up tracing, builds the API and the engine and listens on
// Config.Addr; it prints the admin key when there is one to show. Nothing
// is served until Run. After an error, Close releases what was acquired.
func (m *Main) Open(ctx context.Context) error {
	if m.cfg.PprofAddr != "" {
		if err := CheckPprofAddr(m.cfg.PprofAddr); err != nil {
			return err
		}
	}
	if m.cfg.AdminKey != "" {
		if err := apikey.CheckConfigured(m.cfg.AdminKey); err != nil {
			return fmt.Errorf("--admin-key (HERALD_ADMIN_KEY): %w", err)
		}
	}
	ring, err := Keyring(m.cfg.EncryptionKey, m.cfg.OldEncryptionKeys)
	if err != nil {
		return err
	}
	st, err := OpenStore(m.cfg.DatabaseURL, store.WithClock(m.cfg.Clock), store.WithSecrets(ring))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	m.st = st
	migrated, err := st.MigrateUp(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, mg := range migrated.Applied {
		m.log.Info("migration applied", "migration", mg.Name, "duration", mg.Duration)
	}
	if err := m.checkSecrets(ctx, ring); err != nil {
		return err
	}
	if err := m.loadFormats(ctx); err != nil {
		return err
	}
	m.registerNode(ctx)
	boot := &apikey.BootstrapParams{Key: m.cfg.AdminKey, Dev: m.cfg.Dev}
	if m.cfg.Dev && boot.Key == "" {
		if boot.Key, err = devAdminKey(DevKeyFile(m.cfg.DatabaseURL)); err != nil {
			return err
		}
		boot.Name = "dev admin key"
	}
	adminKey, err := apikey.NewService(&apikey.Config{Store: st, Clock: m.cfg.Clock, Logger: m.log}).Bootstrap(ctx, boot)
	if err != nil {
		if m.cfg.Dev && m.cfg.AdminKey == "" {
			return fmt.Errorf("the dev admin key in %s: %w", DevKeyFile(m.cfg.DatabaseURL), err)
		}
		return err
	}
	tp := m.cfg.TracerProvider
	if tp == nil {
		if tp, m.flushTraces, err = newTracing(ctx, m.cfg.OTLPEndpoint, os.LookupEnv, m.log); err != nil {
			return err
		}
	}
	handler := m.build(tp)
	if m.ln, err = net.Listen("tcp", m.cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", m.cfg.Addr, err)
	}
	m.httpSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	if err := m.listenPprof(); err != nil {
		return err
	}
	m.announce(adminKey)
	return nil
}

// checkSecrets makes sure this server can open every endpoint's secrets
// before it serves (a wrong or missing --encryption-key is an error here,
// not a failed delivery later), and warns of secrets left in clear.
func (m *Main) checkSecrets(ctx context.Context, ring *secretbox.Keyring) error {
	rep, err := m.st.EndpointSecretsCheck(ctx)
	if err != nil {
		return fmt.Errorf("endpoint secrets: %w", secretsErr(err))
	}
	switch {
	case ring == nil && !m.cfg.Dev:
		m.log.Warn("endpoint secrets are stored in clear: a copy of the database holds every endpoint's signing secret; set --encryption-key (HERALD_ENCRYPTION_KEY) to seal them at rest",
			"endpoints", rep.Clear)
	case ring == nil:
	case rep.Clear > 0:
		m.log.Warn("some endpoint secrets are still stored in clear, from before --encryption-key; run herald rotate-key to seal them",
			"endpoints", rep.Clear, "key_id", ring.ID())
	default:
		m.log.Info("endpoint secrets sealed at rest", "key_id", ring.ID())
	}
	for id, n := range rep.Sealed {
		if ring != nil && id != ring.ID() {
			m.log.Warn("some endpoint secrets are sealed under an old key; run herald rotate-key to seal them under --encryption-key",
				"endpoints", n, "old_key_id", id, "key_id", ring.ID())
		}
	}
	return nil
}

// DevKeyFile is where a --dev start keeps the admin key it prints, so the
// next start prints and uses the same one instead of adding another: a
// file beside the SQLite database (herald.db.dev-admin-key), or
// herald.dev-admin-key in the working directory for PostgreSQL.
func DevKeyFile(databaseURL string) string {
	if path, err := sqlite.PathFromURL(databaseURL); err == nil {
		return path + ".dev-admin-key"
	}
	return "herald.dev-admin-key"
}

// devAdminKey reads the key in path, or makes one and writes it there,
// readable by its owner only (0600).
func devAdminKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read the dev admin key: %w", err)
	}
	key := apikey.New()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return devAdminKey(path) // another start wrote it first
	}
	if err != nil {
		return "", fmt.Errorf("keep the dev admin key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("keep the dev admin key: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("keep the dev admin key: %w", err)
	}
	return key, nil
}

// loadFormats makes the catalog, stores the formats of Config.FormatsFile
// in it, and checks that the default format exists (it may be one the file
// just defined).
func (m *Main) loadFormats(ctx context.Context) error {
	m.formats = catalog.New(m.st, m.cfg.DefaultFormat, m.cfg.Clock)
	if m.cfg.FormatsFile != "" {
		fs, err := format.LoadFile(m.cfg.FormatsFile)
		if err != nil {
			return err
		}
		for _, f := range fs {
			if _, err := m.formats.Put(ctx, f); err != nil {
				return fmt.Errorf("load format %s: %w", f.Name, err)
			}
			m.log.Info("format loaded", "name", f.Name, "file", m.cfg.FormatsFile)
		}
	}
	if _, err := m.formats.Get(ctx, ""); err != nil {
		return fmt.Errorf("default format %q: %w", m.formats.DefaultName(), err)
	}
	return nil
}

// build makes the delivery engine and the handler of every route: the API,
// the dashboard and /metrics.
func (m *Main) build(tp trace.TracerProvider) http.Handler {
	base := service.Base{Store: m.st, Clock: m.cfg.Clock, Logger: m.log}
	// The background jobs: replays carried on in batches, and retention,
	// whose runs' totals are served as herald_retention_* series.
	m.replays = replay.NewService(&replay.Config{Base: base})
	m.retention = retention.New(&retention.Config{Base: base, Retention: m.cfg.Retention, Every: m.cfg.RetentionEvery})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newRetentionCollector(m.retention))
	metrics := delivery.NewMetrics(reg, &delivery.MetricsConfig{
		Store: m.st, Clock: m.cfg.Clock, Logger: m.log, TenantLabel: m.cfg.MetricsTenantLabel,
	})
	m.engine = delivery.NewEngine(delivery.Config{
		Store: m.st, Formats: m.formats, Logger: m.log, Metrics: metrics, Clock: m.cfg.Clock,
		Client:          delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: m.cfg.AllowPrivateDestinations, Workers: m.cfg.Workers}),
		Workers:         m.cfg.Workers,
		ClaimGap:        store.ClaimGap(m.st),
		ClaimProbe:      store.ClaimProbe(m.st),
		PerEndpoint:     m.cfg.PerEndpoint,
		MaxRenderedBody: 2 * cmp.Or(m.cfg.MaxBodyBytes, api.DefaultMaxBodyBytes),
		PerTenant:       m.cfg.PerTenant,
		Lease:           m.cfg.Lease,
		DisableAfter:    m.cfg.DisableAfter,
		TracerProvider:  tp,
	})
	srv := api.New(&api.Config{
		Store: m.st, Formats: m.formats, Tester: m.engine, Dispatcher: m.engine, Replays: m.replays, Logger: m.log, Clock: m.cfg.Clock,
		EventAccepted:            metrics.EventAccepted,
		MaxBodyBytes:             m.cfg.MaxBodyBytes,
		MaxBufferedBytes:         m.cfg.MaxBufferedBytes,
		AllowPrivateDestinations: m.cfg.AllowPrivateDestinations,
		MaxInFlight:              m.cfg.PerEndpoint,
		MaxEndpointsPerTenant:    m.cfg.MaxEndpointsPerTenant,
		Ready:                    m.st.Ping,
		TracerProvider:           tp,
		TrustForwardedProto:      m.cfg.TrustForwardedProto,
	})
	dash := web.New(&web.Config{
		Store: m.st, Formats: m.formats, Tester: m.engine, Replays: m.replays, Logger: m.log, Clock: m.cfg.Clock,
		AllowPrivateDestinations: m.cfg.AllowPrivateDestinations,
		MaxInFlight:              m.cfg.PerEndpoint,
		TrustForwardedProto:      m.cfg.TrustForwardedProto,
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// The dashboard has its own paths; every other one is the API's, which
	// answers problem details for those it does not know.
	for _, p := range web.Paths() {
		mux.Handle(p, dash)
	}
	mux.Handle("/", srv.Handler())
	return mux
}

// announce logs where the server listens and prints the admin key, if
// there is one to show, to Config.Out.
func (m *Main) announce(adminKey string) {
	url := "http://" + m.Addr()
	m.log.Info("herald listening", "url", url, "database", redactURL(m.cfg.DatabaseURL), "default_format", m.formats.DefaultName())
	out := m.cfg.Out
	switch {
	case out == nil:
	case m.cfg.Dev:
		fmt.Fprintf(out, "\nHerald is running at %s\n", url)
		if adminKey != "" {
			fmt.Fprintf(out, "Admin key: %s\n", adminKey)
			if m.cfg.AdminKey == "" {
				fmt.Fprintf(out, "(kept in %s: every --dev start on this database uses it)\n", DevKeyFile(m.cfg.DatabaseURL))
			}
			fmt.Fprintf(out, "Try: curl -H 'Authorization: Bearer %s' %s/api/v1/tenants\n\n", adminKey, url)
		}
	case adminKey != "":
		fmt.Fprintf(out, "Created the first admin key (shown once, only its hash is stored): %s\n", adminKey)
	}
}

// Addr is the address the server listens on, once Open has succeeded
// (the port chosen when Config.Addr asks for ":0").
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves the API and runs the delivery engine until ctx ends or either
// stops, then shuts both down: the API stops taking requests and finishes
// those it has, then the engine stops claiming and lets in-flight attempts
// finish or hands them back. Call it once, after Open.
func (m *Main) Run(ctx context.Context) error {
	// The engine outlives ctx so that it can finish what the API's last
	// requests asked of it.
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engineDone := make(chan error, 1)
	go func() { engineDone <- m.engine.Run(engineCtx) }()
	// The background jobs stop with ctx; the store outlives them.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	var jobs sync.WaitGroup
	jobs.Go(func() { _ = m.replays.Run(jobsCtx) })
	jobs.Go(func() { _ = m.retention.Run(jobsCtx) })
	jobs.Go(func() { m.vacuum(jobsCtx) })
	serveDone := make(chan error, 1)
	m.served = true // the server closes the listener from now on
	go func() { serveDone <- m.httpSrv.Serve(m.ln) }()
	m.servePprof()
	beatCtx, stopBeat := context.WithCancel(ctx)
	beatDone := make(chan struct{})
	go func() { defer close(beatDone); m.heartbeat(beatCtx) }()
	defer func() { stopBeat(); <-beatDone }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveDone:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-engineDone:
		runErr = fmt.Errorf("delivery engine stopped: %w", err)
		engineDone <- nil
	}
	m.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := m.httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		m.log.Warn("http shutdown", "err", err)
	}
	stopJobs()
	jobs.Wait()
	stopEngine()
	<-engineDone
	m.log.Info("stopped")
	return runErr
}

// Close releases what Open acquired: it stops the profiler, closes a
// listener Run did not serve, flushes the spans still buffered (waiting at most 5 seconds for a
// collector that does not answer), deletes this node's row of the nodes
// table and closes the store. It may be called
// after a failed Open.
func (m *Main) Close() error {
	if m.pprofSrv != nil {
		_ = m.pprofSrv.Close()
		_ = m.pprofLn.Close() // not yet closed if Run never served it
	}
	if m.ln != nil && !m.served {
		if err := m.ln.Close(); err != nil {
			m.log.Warn("close listener", "err", err)
		}
	}
	if m.flushTraces != nil {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.flushTraces(flushCtx); err != nil {
			m.log.Warn("flush traces", "err", err)
		}
	}
	if m.st == nil {
		return nil
	}
	m.unregisterNode()
	if err := m.st.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
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
