package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/retention"
)

// Version, Commit and Date say what this binary is. A release build sets
// them (scripts/release.sh):
//
//	-ldflags "-X github.com/heraldhq/herald/internal/cli.Version=v1.2.3
//	          -X github.com/heraldhq/herald/internal/cli.Commit=<git sha>
//	          -X github.com/heraldhq/herald/internal/cli.Date=<RFC 3339>"
//
// Left empty, they come from the module version and the VCS stamp Go adds
// to a build from a checkout, and are "dev" and "unknown" without either.
var Version, Commit, Date string

// Main runs the herald command with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "herald:", describeError(err))
		return 1
	}
	return 0
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "herald",
		Short:         "Herald delivers webhooks: signed, retried, logged.",
		Version:       buildInfo().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// herald -v and herald --version print what herald version does.
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(stdout, stderr), migrateCmd(stderr), rotateKeyCmd(stderr), versionCmd(stdout), benchCmd(stdout, stderr))
	root.AddCommand(receiverCmds(stdout, stderr)...)
	root.AddCommand(adminCmds(stdout, stderr)...)
	return root
}

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	cfg := &app.Config{Out: stdout}
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server and the delivery engine",
		Long: "Run the API server and the delivery engine. Every flag has a HERALD_* environment twin\n" +
			"(--database is HERALD_DATABASE_URL, --allow-private-destinations is\n" +
			"HERALD_ALLOW_PRIVATE_DESTINATIONS, and so on); a flag given on the command line wins.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			if cfg.Dev {
				cfg.AllowPrivateDestinations = true
			}
			if cfg.MaxBufferedBytes < cfg.MaxBodyBytes {
				return fmt.Errorf("--max-buffered-bytes %d is less than --max-body-bytes %d: a body at the limit could never be read", cfg.MaxBufferedBytes, cfg.MaxBodyBytes)
			}
			if cfg.MetricsTenantLabel < 0 {
				return fmt.Errorf("--metrics-tenant-label %d: want 0 (no tenant label) or the most tenants to label", cfg.MetricsTenantLabel)
			}
			if cfg.Workers < 1 {
				return fmt.Errorf("--workers %d: want at least one attempt in flight", cfg.Workers)
			}
			if cfg.PerTenant < 0 {
				return fmt.Errorf("--per-tenant %d: want 0 (three quarters of --workers) or more", cfg.PerTenant)
			}
			if cfg.MaxEndpointsPerTenant < 1 {
				return fmt.Errorf("--max-endpoints-per-tenant %d: a tenant must be allowed at least one endpoint", cfg.MaxEndpointsPerTenant)
			}
			if cfg.DisableAfter < 0 {
				return fmt.Errorf("--disable-after %v: want a duration of 0 (never) or more", cfg.DisableAfter)
			}
			if cfg.Retention < 0 {
				return fmt.Errorf("--retention %s: want 0 (keep everything) or a positive duration such as 720h", cfg.Retention)
			}
			if cfg.PprofAddr != "" {
				if err := app.CheckPprofAddr(cfg.PprofAddr); err != nil {
					return fmt.Errorf("--pprof-addr: %w", err)
				}
			}
			log := newLogger(stderr, cfg.Dev, logLevel)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return app.Run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&cfg.DatabaseURL, "database", "sqlite:herald.db", "database URL: sqlite:PATH or postgres://...")
	f.StringVar(&cfg.AdminKey, "admin-key", "", "admin API key, at least 32 characters (default: create one on first start and print it)")
	f.BoolVar(&cfg.AllowPrivateDestinations, "allow-private-destinations", false, "allow deliveries to loopback, private and other internal addresses")
	f.StringVar(&cfg.DefaultFormat, "default-format", "standard-webhooks", "format for endpoints that name none")
	f.StringVar(&cfg.FormatsFile, "formats", "", "load format definitions from this JSON or YAML file at start")
	f.BoolVar(&cfg.Dev, "dev", false, "development mode: allow private destinations, log as text, print the admin key (kept in a file beside the SQLite database and reused by later --dev starts)")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", 1<<20, "largest request body the API accepts")
	f.Int64Var(&cfg.MaxBufferedBytes, "max-buffered-bytes", 32<<20, "request-body bytes held in memory at once, across all requests; past it a request waits up to a second for room, then gets 503")
	f.IntVar(&cfg.Workers, "workers", delivery.DefaultWorkers, "attempts in flight at once on this node")
	f.IntVar(&cfg.PerEndpoint, "per-endpoint", delivery.DefaultPerEndpoint, "attempts in flight at once per endpoint, across all nodes, and the most an endpoint's max_in_flight may be")
	f.IntVar(&cfg.PerTenant, "per-tenant", 0, "attempts in flight at once for one tenant on this node, its fair share of the workers (its deliveries hold at most four times this many leases across all nodes: the same share of a node's room); 0: three quarters of --workers")
	f.IntVar(&cfg.MaxEndpointsPerTenant, "max-endpoints-per-tenant", 100, "endpoints one tenant may have, enabled or not; past it creating one is 409 (each is sent every matching event and failure notice, so this bounds one event's fan-out)")
	f.DurationVar(&cfg.Lease, "lease", 30*time.Second, "how long a claimed delivery is held without a heartbeat: after a crash, another node takes its deliveries within this time")
	f.DurationVar(&cfg.DisableAfter, "disable-after", 120*time.Hour, "disable an endpoint whose attempts have all failed for longer than this (a 410 answer disables it at once); 0: never")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "send traces over OTLP/HTTP to this collector URL, e.g. http://localhost:4318 (default: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set)")
	f.DurationVar(&cfg.Retention, "retention", retention.DefaultRetention, "delete events older than this whose deliveries are all delivered or failed, with their deliveries and attempts; 0 keeps everything")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&cfg.TrustForwardedProto, "trust-forwarded-proto", false, "take X-Forwarded-Proto from the proxy in front of Herald as telling whether the browser uses TLS (the dashboard's cookies are then Secure)")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060 (default: off)")
	f.IntVar(&cfg.MetricsTenantLabel, "metrics-tenant-label", 0, "label herald_events_accepted_total by tenant for up to this many tenants per node, the rest as tenant=\"(other)\" (default 0: no tenant label)")
	encryptionFlags(f, &cfg.EncryptionKey, &cfg.OldEncryptionKeys)
	return cmd
}

// encryptionFlags are the keys of secrets at rest, the same on serve and
// rotate-key.
func encryptionFlags(f *pflag.FlagSet, current *string, old *[]string) {
	f.StringVar(current, "encryption-key", "", "seal endpoint secrets at rest under this key: 32 random bytes in base64 (openssl rand -base64 32); prefer HERALD_ENCRYPTION_KEY to the command line")
	f.StringSliceVar(old, "old-encryption-key", nil, "a key being retired, still read (repeatable, or comma-separated in HERALD_OLD_ENCRYPTION_KEY); herald rotate-key seals its secrets under --encryption-key")
}

func rotateKeyCmd(stderr io.Writer) *cobra.Command {
	var dbURL, current string
	var old []string
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Seal every endpoint secret under --encryption-key and exit",
		Long: "Seal every endpoint secret under --encryption-key: those stored in clear (from before a key was\n" +
			"set) and those sealed under an --old-encryption-key. It checks first that every stored secret\n" +
			"opens with the keys given, and changes nothing if one does not. Run it after every node has been\n" +
			"restarted with the new key and the old one; then restart them without the old one.\n" +
			"Flags have the environment twins HERALD_DATABASE_URL, HERALD_ENCRYPTION_KEY and\n" +
			"HERALD_OLD_ENCRYPTION_KEY.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			ring, err := app.Keyring(current, old)
			if err != nil {
				return err
			}
			n, err := app.RotateKey(cmd.Context(), dbURL, ring)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "sealed the secrets of %d endpoints under key %s; every endpoint's secrets are now under it\n", n, ring.ID())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbURL, "database", "sqlite:herald.db", "database URL: sqlite:PATH or postgres://...")
	encryptionFlags(f, &current, &old)
	return cmd
}

func migrateCmd(stderr io.Writer) *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date and exit",
		Long: "Bring the database schema up to date and exit (herald serve also does this at start).\n" +
			"--database has the environment twin HERALD_DATABASE_URL.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			res, err := app.Migrate(cmd.Context(), dbURL)
			if err != nil {
				return err
			}
			if len(res.Applied) == 0 {
				fmt.Fprintf(stderr, "The schema is up to date, at version %d: nothing to apply.\n", res.Version)
				return nil
			}
			for _, m := range res.Applied {
				fmt.Fprintf(stderr, "applied %s (%s)\n", m.Name, m.Duration.Round(time.Millisecond))
			}
			fmt.Fprintf(stderr, "Applied %d migrations: the schema is at version %d.\n", len(res.Applied), res.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database", "sqlite:herald.db", "database URL: sqlite:PATH or postgres://...")
	return cmd
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the build date (as herald -v does)",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, buildInfo())
		},
	}
}

// build is what a binary says of itself.
type build struct {
	Version  string // v1.2.3, or dev
	Commit   string // the full commit id, or unknown
	Modified bool   // built from a checkout with uncommitted changes
	Date     string // when it was built (a release: its commit's time), or unknown
}

// buildInfo is this binary's build: Version, Commit and Date when the
// release build set them, else what Go stamped into it.
func buildInfo() build {
	b := build{Version: Version, Commit: Commit, Date: Date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
				b.Modified = b.Modified || slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool {
					return s.Key == "vcs.modified" && s.Value == "true"
				})
			case s.Key == "vcs.time" && b.Date == "":
				b.Date = s.Value
			}
		}
	}
	b.Version = cmp.Or(b.Version, "dev")
	b.Commit = cmp.Or(b.Commit, "unknown")
	b.Date = cmp.Or(b.Date, "unknown")
	return b
}

// String is the line herald version prints:
// "herald v1.2.3 (commit 0123456789ab, built 2026-12-01T12:00:00Z, go1.26.8 linux/amd64)".
func (b build) String() string {
	commit := b.Commit
	if len(commit) >= 40 && strings.Trim(commit[:40], "0123456789abcdef") == "" {
		commit = commit[:12] + commit[40:] // a full commit id, and -dirty if the release build says so
	}
	if b.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("herald %s (commit %s, built %s, %s %s/%s)", b.Version, commit, b.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// envNames maps flags whose environment twin is not HERALD_ + the flag name
// in upper snake case.
var envNames = map[string]string{"database": "HERALD_DATABASE_URL"}

// envName is the environment twin of the flag named flag.
func envName(flag string) string {
	if name, ok := envNames[flag]; ok {
		return name
	}
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// HERALD_* environment variable.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := envName(f.Name)
		v, set := os.LookupEnv(name)
		if !set {
			return
		}
		if f.Value.Type() == "bool" && v != "" {
			if _, perr := strconv.ParseBool(v); perr != nil {
				err = fmt.Errorf("%s=%q: want true or false", name, v)
				return
			}
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("%s: %w", name, serr)
		}
	})
	return err
}

func newLogger(w io.Writer, dev bool, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if dev {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
