package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/endpoint"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// herald version, herald -v and herald --version print one line, the
// same: the version, the commit and the build date.
func TestVersion_AndDashVPrintTheSame(t *testing.T) {
	t.Parallel()
	out, _, err := herald(t, nil, "version")
	if err != nil || !regexp.MustCompile(`^herald \S+ \(commit \S+, built \S+, go\S+ \w+/\w+\)\n$`).MatchString(out) {
		t.Fatalf("version: %q, %v", out, err)
	}
	for _, flag := range []string{"-v", "--version"} {
		if got, _, err := herald(t, nil, flag); err != nil || got != out {
			t.Errorf("herald %s printed %q (%v), want what herald version prints, %q", flag, got, err, out)
		}
	}
}

func TestBuild_String(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		b    build
		want string
	}{
		{build{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-01T12:00:00Z"}, "herald v1.2.3 (commit 0123456789ab, built 2026-12-01T12:00:00Z, "},
		{build{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567-dirty", Date: "d"}, "herald v1.2.3 (commit 0123456789ab-dirty, built d, "},
		{build{Version: "dev", Commit: "0123456789abcdef0123456789abcdef01234567", Modified: true, Date: "d"}, "herald dev (commit 0123456789ab, modified, built d, "},
		{build{Version: "dev", Commit: "unknown", Date: "unknown"}, "herald dev (commit unknown, built unknown, "},
	} {
		if got := tc.b.String(); !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, runtime.GOOS+"/"+runtime.GOARCH+")") {
			t.Errorf("%+v: %q, want %q...", tc.b, got, tc.want)
		}
	}
}

// migrate says what it applied, then that there was nothing to apply; a
// database URL it cannot take is an error that says what it can.
func TestMigrate_SQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	_, errOut, err := herald(t, nil, "migrate", "--database", "sqlite:"+path)
	if err != nil {
		t.Fatalf("migrate: %v, %q", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	n := len(lines) - 1
	if n < 3 || !strings.HasPrefix(lines[0], "applied 00001_init.sql (") || lines[n] != fmt.Sprintf("Applied %d migrations: the schema is at version %d.", n, n) {
		t.Errorf("migrate printed:\n%s\nwant each migration applied, then how many and the version", errOut)
	}
	// Again: nothing to do, still fine.
	_, errOut, err = herald(t, nil, "migrate", "--database", "sqlite:"+path)
	if want := fmt.Sprintf("The schema is up to date, at version %d: nothing to apply.\n", n); err != nil || errOut != want {
		t.Errorf("second migrate: %v, %q; want %q", err, errOut, want)
	}
	for url, want := range map[string]string{
		"mysql://nope": `database URL "mysql://nope": Herald supports sqlite:PATH and postgres://... URLs`,
		"foo.db":       `database URL "foo.db": Herald supports sqlite:PATH and postgres://... URLs; for the SQLite file foo.db, give sqlite:foo.db`,
	} {
		if _, _, err := herald(t, nil, "migrate", "--database", url); err == nil || err.Error() != want {
			t.Errorf("migrate --database %s: %v, want %q", url, err, want)
		}
	}
}

// TestApplyEnv: every serve flag has a HERALD_* twin; a flag given on the
// command line wins; a bad value is an error that names the variable.
func TestApplyEnv(t *testing.T) {
	// Not parallel: it sets environment variables.
	cmd := serveCmd(&syncBuffer{}, &syncBuffer{})
	fs := cmd.Flags()
	t.Setenv("HERALD_ADDR", "127.0.0.1:9999")
	t.Setenv("HERALD_DATABASE_URL", "sqlite:from-env.db")
	t.Setenv("HERALD_ALLOW_PRIVATE_DESTINATIONS", "true")
	t.Setenv("HERALD_DEFAULT_FORMAT", "acme")
	t.Setenv("HERALD_WORKERS", "7")
	t.Setenv("HERALD_PPROF_ADDR", "127.0.0.1:6061")
	t.Setenv("HERALD_MAX_BUFFERED_BYTES", "2097152")
	t.Setenv("HERALD_METRICS_TENANT_LABEL", "20")
	t.Setenv("HERALD_MAX_ENDPOINTS_PER_TENANT", "250")
	t.Setenv("HERALD_ENCRYPTION_KEY", "a2V5")
	t.Setenv("HERALD_OLD_ENCRYPTION_KEY", "b2xk,b2xkZXI=")
	t.Setenv("HERALD_RETENTION", "36h")
	if err := fs.Parse([]string{"--default-format", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"addr": "127.0.0.1:9999", "database": "sqlite:from-env.db", "allow-private-destinations": "true",
		"default-format": "from-flag", "workers": "7", "pprof-addr": "127.0.0.1:6061", "max-buffered-bytes": "2097152",
		"metrics-tenant-label":     "20",
		"max-endpoints-per-tenant": "250",
		"encryption-key":           "a2V5", "old-encryption-key": "[b2xk,b2xkZXI=]",
		"retention": "36h0m0s",
	} {
		if got := fs.Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Usage == "" {
			t.Errorf("--%s has no help text", f.Name)
		}
	})

	bad := serveCmd(&syncBuffer{}, &syncBuffer{}).Flags()
	t.Setenv("HERALD_DEV", "maybe")
	if err := applyEnv(bad); err == nil || !strings.Contains(err.Error(), "HERALD_DEV") {
		t.Errorf("HERALD_DEV=maybe: err = %v, want one naming the variable", err)
	}
}

// --retention keeps 30 days by default; 0 keeps everything, and a
// negative one is refused at start.
func TestServe_Retention(t *testing.T) {
	t.Parallel()
	if got := serveCmd(&syncBuffer{}, &syncBuffer{}).Flags().Lookup("retention").DefValue; got != "720h0m0s" {
		t.Errorf("--retention defaults to %s, want 720h", got)
	}
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--retention", "-1h", "--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	if err := root.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), "--retention") {
		t.Fatalf("serve --retention -1h: %v, want an error naming --retention", err)
	}
}

// Logs are JSON lines unless --dev asks for text.
func TestNewLogger_JSONUnlessDev(t *testing.T) {
	t.Parallel()
	var js, text syncBuffer
	newLogger(&js, false, "info").Info("hello", "delivery_id", "dlv_1")
	newLogger(&text, true, "info").Info("hello", "delivery_id", "dlv_1")
	var m map[string]any
	if err := json.Unmarshal([]byte(js.String()), &m); err != nil || m["msg"] != "hello" || m["delivery_id"] != "dlv_1" {
		t.Errorf("default log line %q, want JSON with msg and delivery_id", js.String())
	}
	if !strings.Contains(text.String(), "msg=hello delivery_id=dlv_1") {
		t.Errorf("--dev log line %q, want text", text.String())
	}
}

// A budget of buffered bodies smaller than one body could never take a
// body at the limit: serve refuses to start with one.
func TestServe_RefusesABufferedBudgetBelowTheBodyLimit(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--max-body-bytes", "2000000", "--max-buffered-bytes", "1000000",
		"--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--max-buffered-bytes") || !strings.Contains(err.Error(), "--max-body-bytes") {
		t.Fatalf("serve with --max-buffered-bytes below --max-body-bytes: %v, want an error naming both", err)
	}
}

// A negative bound on tenant labels is no bound: serve refuses it.
func TestServe_RefusesANegativeMetricsTenantLabel(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--metrics-tenant-label", "-1", "--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--metrics-tenant-label") {
		t.Fatalf("serve --metrics-tenant-label -1: %v, want an error naming the flag", err)
	}
}

// A tenant allowed no endpoint could do nothing: serve refuses to start.
func TestServe_RefusesNoEndpointsPerTenant(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--max-endpoints-per-tenant", "0", "--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--max-endpoints-per-tenant") {
		t.Fatalf("serve with --max-endpoints-per-tenant 0: %v, want an error naming the flag", err)
	}
}

// A node with no workers would never send, and a negative tenant share
// means nothing: serve refuses to start, naming the flag.
func TestServe_RefusesNoWorkersOrNegativeShare(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--workers", "0"}, {"--workers", "-5"}, {"--per-tenant", "-1"}} {
		var out, errOut syncBuffer
		root := NewRoot(&out, &errOut)
		root.SetArgs(append([]string{"serve", "--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")}, args...))
		err := root.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("serve %v: %v, want an error naming the flag", args, err)
		}
	}
}

// The flag's default is the endpoint service's.
func TestServe_MaxEndpointsPerTenantDefault(t *testing.T) {
	t.Parallel()
	f := serveCmd(&syncBuffer{}, &syncBuffer{}).Flags().Lookup("max-endpoints-per-tenant")
	if f.DefValue != strconv.Itoa(endpoint.DefaultMaxPerTenant) {
		t.Errorf("--max-endpoints-per-tenant defaults to %s, want endpoint.DefaultMaxPerTenant %d", f.DefValue, endpoint.DefaultMaxPerTenant)
	}
}

// TestServe_DevPrintsKeyAndURLAndStops runs `herald serve --dev` in process
// and stops it as SIGINT would (its context ends).
func TestServe_DevPrintsKeyAndURLAndStops(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"serve", "--dev", "--addr", addr, "--database", "sqlite:" + filepath.Join(t.TempDir(), "h.db")})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	if !waitFor(30*time.Second, func() bool { return strings.Contains(out.String(), "Admin key: hk_") }) {
		cancel()
		t.Fatalf("no admin key printed; stdout %q stderr %q", out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "http://"+addr) {
		t.Errorf("stdout %q does not give the URL", out.String())
	}
	key := strings.Fields(out.String()[strings.Index(out.String(), "Admin key: ")+len("Admin key: "):])[0]
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the printed admin key gets %d, want 200", resp.StatusCode)
	}
	if !strings.Contains(errOut.String(), "level=INFO") {
		t.Errorf("--dev logs as text; stderr %q", errOut.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after its context ended, want a clean stop", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestRotateKey: herald rotate-key seals every endpoint's secrets under
// the new key, and refuses to start while a stored secret does not open
// with the keys it was given.
func TestRotateKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	keyA, keyB := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
	ringA, err := app.Keyring(keyA, nil)
	if err != nil {
		t.Fatal(err)
	}
	ringB, _ := app.Keyring(keyB, nil)
	st := dbtest.OpenSQLite(t, path, true, store.WithSecrets(ringA))
	if _, err := st.TenantCreate(t.Context(), &store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	ep, err := st.EndpointCreate(t.Context(), &store.Endpoint{TenantID: "acme", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x"})
	if err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + path
	if _, _, err := herald(t, nil, "rotate-key", "--database", db); err == nil || !strings.Contains(err.Error(), "--encryption-key") {
		t.Errorf("rotate-key without a key: %v, want an error asking for --encryption-key", err)
	}
	if _, _, err := herald(t, nil, "rotate-key", "--database", db, "--encryption-key", keyB); err == nil || !strings.Contains(err.Error(), ringA.ID()) {
		t.Errorf("rotate-key without the old key: %v, want an error naming key %s", err, ringA.ID())
	}
	_, errOut, err := herald(t, nil, "rotate-key", "--database", db, "--encryption-key", keyB, "--old-encryption-key", keyA)
	if err != nil || !strings.Contains(errOut, "sealed the secrets of 1 endpoints under key "+ringB.ID()) {
		t.Fatalf("rotate-key: %v, %q", err, errOut)
	}
	after := dbtest.OpenSQLite(t, path, false, store.WithSecrets(ringB))
	if got, err := after.EndpointGet(t.Context(), "acme", ep.ID); err != nil || got.Secret != "whsec_x" {
		t.Fatalf("the endpoint under the new key alone: %+v, %v", got, err)
	}
}
