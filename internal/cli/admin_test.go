package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
)

// testAdminKey is the admin key of the servers the admin commands are
// tested against.
const testAdminKey = "hk_cli_test_admin_key_0123456789abcdefghij"

// startHerald runs a Herald server in this process until the test ends,
// on a fresh SQLite file, allowed to deliver to this machine, and returns
// its URL.
func startHerald(t *testing.T) string {
	t.Helper()
	m := app.NewMain(&app.Config{
		Addr: "127.0.0.1:0", DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "herald.db"),
		AdminKey: testAdminKey, AllowPrivateDestinations: true,
	}, slog.New(slog.DiscardHandler))
	if err := m.Open(t.Context()); err != nil {
		m.Close()
		t.Fatalf("server did not start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := errors.Join(<-done, m.Close()); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + m.Addr()
}

// adminCLI runs admin commands against one server with one key.
type adminCLI struct {
	t      *testing.T
	server string
	key    string
}

// run runs the herald command with --server and --key added, and fails
// the test if it fails.
func (c adminCLI) run(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("herald %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// try runs the herald command with --server and --key added.
func (c adminCLI) try(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	return herald(c.t, nil, append(args, "--server", c.server, "--key", c.key)...)
}

// runJSON runs a command with --json and decodes what it printed.
func (c adminCLI) runJSON(out any, args ...string) {
	c.t.Helper()
	s := c.run(append(args, "--json")...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		c.t.Fatalf("herald %s --json printed what does not parse: %v\n%s", strings.Join(args, " "), err, s)
	}
}

// checkAligned checks that every line of a table starts each column where
// its header line does.
func checkAligned(t *testing.T, table string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("table %q has no rows", table)
	}
	starts := regexp.MustCompile(`\S+( \S+)*`).FindAllStringIndex(lines[0], -1) // headers may hold one space ("NEXT ATTEMPT")
	for _, line := range lines[1:] {
		for _, s := range starts[1:] {
			if len(line) <= s[0] || line[s[0]-1] != ' ' || line[s[0]] == ' ' {
				t.Errorf("column at %d is not aligned in %q (table:\n%s)", s[0], line, table)
			}
		}
	}
}

// compact is JSON without its white space.
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out.String()
}

// The tenants commands: a table for people, the API's JSON with --json,
// and a delete that asks for --yes.
func TestAdmin_Tenants(t *testing.T) {
	t.Parallel()
	c := adminCLI{t, startHerald(t), testAdminKey}
	out := c.run("tenants", "create", "acme", "--name", "Acme Inc", "--metadata", `{"plan":"pro"}`)
	if !regexp.MustCompile(`(?m)^ID:\s+acme$`).MatchString(out) || !regexp.MustCompile(`(?m)^Name:\s+Acme Inc$`).MatchString(out) ||
		!strings.Contains(out, `{"plan":"pro"}`) {
		t.Errorf("tenants create printed:\n%s", out)
	}
	c.run("tenants", "create", "globex")
	table := c.run("tenants", "list")
	if !strings.HasPrefix(table, "ID      NAME      CREATED\n") || !strings.Contains(table, "\nglobex  -         20") {
		t.Errorf("tenants list printed:\n%s", table)
	}
	checkAligned(t, table)

	var page struct {
		Data []struct {
			ID       string          `json:"id"`
			Name     string          `json:"name"`
			Metadata json.RawMessage `json:"metadata"`
		} `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}
	c.runJSON(&page, "tenants", "list")
	if len(page.Data) != 2 || page.Data[0].ID != "globex" || page.Data[1].Name != "Acme Inc" || page.NextCursor != nil {
		t.Errorf("tenants list --json: %+v", page)
	}
	var tn struct {
		ID        string `json:"id"`
		CreatedAt string `json:"created_at"`
	}
	c.runJSON(&tn, "tenants", "get", "acme")
	if tn.ID != "acme" || tn.CreatedAt == "" {
		t.Errorf("tenants get --json: %+v", tn)
	}

	if _, _, err := c.try("tenants", "delete", "acme"); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("tenants delete without --yes: %v, want a refusal asking for --yes", err)
	}
	if out := c.run("tenants", "delete", "acme", "--yes"); !strings.Contains(out, "Deleted tenant acme") {
		t.Errorf("tenants delete printed %q", out)
	}
	_, _, err := c.try("tenants", "get", "acme")
	if err == nil || describeError(err) != "404 Not Found: tenant acme not found" {
		t.Errorf("tenants get of a deleted tenant: %v, want the server's 404", err)
	}
}

// Pages: --limit pages, the next cursor is on stderr, --cursor takes the
// next page and --all follows every one.
func TestAdmin_Paging(t *testing.T) {
	t.Parallel()
	c := adminCLI{t, startHerald(t), testAdminKey}
	for _, id := range []string{"t1", "t2", "t3"} {
		c.run("tenants", "create", id)
	}
	out, errOut, err := c.try("tenants", "list", "--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--cursor (\S+)`).FindStringSubmatch(errOut)
	if strings.Count(out, "\n") != 3 || m == nil {
		t.Fatalf("a page of 2 of 3: stdout\n%s\nstderr %q; want a header and 2 rows, and the next cursor", out, errOut)
	}
	if rest := c.run("tenants", "list", "--limit", "2", "--cursor", m[1]); !strings.Contains(rest, "t1") || strings.Contains(rest, "t3") {
		t.Errorf("the next page:\n%s", rest)
	}
	var page struct {
		Data       []struct{ ID string } `json:"data"`
		NextCursor *string               `json:"next_cursor"`
	}
	c.runJSON(&page, "tenants", "list", "--limit", "1", "--all")
	if len(page.Data) != 3 || page.NextCursor != nil {
		t.Errorf("--all by pages of 1: %+v, want all 3 and no next cursor", page)
	}
	if _, _, err := c.try("tenants", "list", "--limit", "999"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("--limit 999: %v, want the server's 422", err)
	}
}

// A producer's and an operator's day: an endpoint, events sent, a failed
// delivery found, read and retried once the receiver is mended, and an
// endpoint test.
func TestAdmin_EndpointsEventsDeliveries(t *testing.T) {
	t.Parallel()
	c := adminCLI{t, startHerald(t), testAdminKey}
	var status atomic.Int32
	status.Store(500)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		w.Write([]byte("not today"))
	}))
	defer rcv.Close()
	c.run("tenants", "create", "acme")
	oneShot(t, c)

	out := c.run("endpoints", "create", "--tenant", "acme", "--url", rcv.URL+"/hooks", "--events", "order.*,user.created",
		"--format", "one-shot", "--header", "X-Team: growth", "--rate-limit", "5")
	secret := regexp.MustCompile(`(?m)^whsec_\S+$`).FindString(out)
	epID := regexp.MustCompile(`(?m)^ID:\s+(ep_\S+)$`).FindStringSubmatch(out)
	if secret == "" || epID == nil || !strings.Contains(out, "order.*, user.created") || !strings.Contains(out, "X-Team: growth") ||
		!strings.Contains(out, "5 per second") || !strings.Contains(out, "shown this once") {
		t.Fatalf("endpoints create printed:\n%s", out)
	}
	if table := c.run("endpoints", "list", "--tenant", "acme"); !strings.Contains(table, epID[1]) || !strings.Contains(table, "order.*,user.created") {
		t.Errorf("endpoints list:\n%s", table)
	} else {
		checkAligned(t, table)
	}
	if got := c.run("endpoints", "get", "--tenant", "acme", epID[1]); strings.Contains(got, "whsec_") || !strings.Contains(got, rcv.URL) {
		t.Errorf("endpoints get shows the secret, or not the URL:\n%s", got)
	}

	out = c.run("events", "send", "--tenant", "acme", "--type", "order.paid", "--data", `{"order":7,"total":12345678901234567890}`, "--id", "order-7-paid")
	if out != "Accepted event order-7-paid (order.paid): 1 delivery.\n" {
		t.Errorf("events send printed %q", out)
	}
	if out := c.run("events", "send", "--tenant", "acme", "--type", "order.paid", "--data", `{"order":7,"total":12345678901234567890}`, "--id", "order-7-paid"); !strings.Contains(out, "already stored") {
		t.Errorf("the same event again printed %q, want it said to be already stored", out)
	}
	var ev struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	c.runJSON(&ev, "events", "get", "--tenant", "acme", "order-7-paid")
	if compact(t, ev.Data) != `{"order":7,"total":12345678901234567890}` {
		t.Errorf("events get --json: data %s, want it exactly as sent", ev.Data)
	}
	if got := c.run("events", "get", "--tenant", "acme", "order-7-paid"); !strings.Contains(got, "\"total\": 12345678901234567890") {
		t.Errorf("events get:\n%s", got)
	}
	if table := c.run("events", "list", "--tenant", "acme", "--type", "order.paid"); !strings.Contains(table, "order-7-paid") || !strings.Contains(table, "40 B") {
		t.Errorf("events list:\n%s", table)
	}

	var failed struct {
		Data []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	if !waitFor(30*time.Second, func() bool {
		c.runJSON(&failed, "deliveries", "list", "--tenant", "acme", "--status", "failed")
		return len(failed.Data) == 1
	}) {
		t.Fatalf("no failed delivery after 30s: %+v", failed)
	}
	dlv := failed.Data[0].ID
	table := c.run("deliveries", "list", "--tenant", "acme", "--status", "failed")
	if !strings.Contains(table, dlv) || !strings.Contains(table, "order-7-paid") || !regexp.MustCompile(`failed\s+1\s+500\s+-`).MatchString(table) {
		t.Errorf("deliveries list --status failed:\n%s", table)
	}
	checkAligned(t, table)
	got := c.run("deliveries", "get", "--tenant", "acme", dlv)
	if !regexp.MustCompile(`(?m)^Status:\s+failed$`).MatchString(got) || !regexp.MustCompile(`(?m)^1\s+20\S+\s+\d+ ms\s+500\s+not today$`).MatchString(got) {
		t.Errorf("deliveries get:\n%s", got)
	}

	status.Store(204)
	if out := c.run("deliveries", "retry", "--tenant", "acme", dlv); !strings.HasPrefix(out, "Retrying delivery "+dlv+": pending") {
		t.Errorf("deliveries retry printed %q", out)
	}
	if !waitFor(30*time.Second, func() bool {
		return strings.Contains(c.run("deliveries", "get", "--tenant", "acme", dlv), "delivered")
	}) {
		t.Error("the retried delivery was not delivered within 30s")
	}
	if got := c.run("endpoints", "get", "--tenant", "acme", epID[1]); !regexp.MustCompile(`(?m)^Health:\s+last attempt 20\S+ \(204\); last 24h: 1 succeeded, 1 failed$`).MatchString(got) {
		t.Errorf("the endpoint's health after a failure and a success:\n%s", got)
	}
	if _, _, err := c.try("deliveries", "retry", "--tenant", "acme", "dlv_01M8RQVXRYTZJ44BDNS48F94W7"); err == nil || !strings.HasPrefix(err.Error(), "404 Not Found") {
		t.Errorf("retry of a delivery that does not exist: %v", err)
	}

	if out := c.run("endpoints", "test", "--tenant", "acme", epID[1]); !regexp.MustCompile(`(?m)^Status:\s+delivered$`).MatchString(out) {
		t.Errorf("endpoints test:\n%s", out)
	}
	status.Store(418)
	if out, _, err := c.try("endpoints", "test", "--tenant", "acme", epID[1]); err == nil || !strings.Contains(err.Error(), "418") || !strings.Contains(out, "failed") {
		t.Errorf("a failing endpoints test: %v\n%s; want it shown and an error", err, out)
	}
	out = c.run("endpoints", "rotate-secret", "--tenant", "acme", epID[1], "--grace", "2h")
	if newSecret := regexp.MustCompile(`(?m)^whsec_\S+$`).FindString(out); newSecret == "" || newSecret == secret ||
		!regexp.MustCompile(`(?m)^Old secrets:\s+one replaced 20\S+ signs until 20\S+$`).MatchString(out) {
		t.Errorf("endpoints rotate-secret:\n%s", out)
	}
	if out := c.run("endpoints", "delete", "--tenant", "acme", epID[1]); out != "Deleted endpoint "+epID[1]+".\n" {
		t.Errorf("endpoints delete printed %q", out)
	}
	// Its deliveries stay, marked.
	if table := c.run("deliveries", "list", "--tenant", "acme"); !strings.Contains(table, epID[1]+" (deleted)") {
		t.Errorf("deliveries of a deleted endpoint:\n%s", table)
	}
}

// oneShot defines a format of one attempt, so that a delivery the
// receiver refuses fails at once.
func oneShot(t *testing.T, c adminCLI) {
	t.Helper()
	req, _ := http.NewRequest("PUT", c.server+"/api/v1/formats/one-shot", strings.NewReader(`{"retry": {"schedule": []}}`))
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT the one-shot format: %d", resp.StatusCode)
	}
}

// An error the server answers is its problem details, every invalid field
// on a line of its own, and the command exits 1; what never reaches the
// server says what to fix.
func TestAdmin_Errors(t *testing.T) {
	t.Parallel()
	server := startHerald(t)
	c := adminCLI{t, server, testAdminKey}
	c.run("tenants", "create", "acme")

	var out, errOut syncBuffer
	code := Main(t.Context(), []string{"endpoints", "create", "--tenant", "acme", "--url", "ftp://example.com", "--events", "user.*,bad type!",
		"--server", server, "--key", testAdminKey}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "herald: 422 Unprocessable Entity: ") ||
		!strings.HasPrefix(lines[1], "  body.events[1]: ") || !strings.HasPrefix(lines[2], "  body.url: must be") {
		t.Errorf("stderr:\n%s\nwant the problem's detail, then each field at fault", errOut.String())
	}
	if out.String() != "" {
		t.Errorf("stdout %q, want nothing", out.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "send", "--type", "a.b"}, "no tenant: pass --tenant or set HERALD_TENANT"},
		{[]string{"events", "send", "--tenant", "acme"}, "--type is required"},
		{[]string{"events", "send", "--tenant", "acme", "--type", "a.b", "--data", "{nope"}, "--data is not valid JSON"},
		{[]string{"events", "send", "--tenant", "acme", "--type", "a.b", "--data", "@/nonexistent/file.json"}, "no such file"},
		{[]string{"endpoints", "create", "--tenant", "acme"}, "--url is required"},
		{[]string{"endpoints", "create", "--tenant", "acme", "--url", "https://example.com", "--header", "nocolon"}, "want NAME: VALUE"},
		{[]string{"tenants", "frobnicate"}, `unknown command "frobnicate" for "herald tenants"`},
	} {
		if _, _, err := c.try(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("herald %s: %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if _, _, err := herald(t, nil, "tenants", "get", "acme", "--server", "127.0.0.1:1", "--key", testAdminKey); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("a server without a scheme: %v", err)
	}
	if _, _, err := herald(t, nil, "tenants", "list", "--server", server); err == nil || !strings.Contains(err.Error(), "no API key") {
		t.Errorf("no key: %v", err)
	}
	if _, _, err := herald(t, nil, "tenants", "list", "--server", "http://127.0.0.1:1", "--key", testAdminKey); err == nil ||
		!strings.Contains(err.Error(), "cannot reach Herald at http://127.0.0.1:1") {
		t.Errorf("no server there: %v", err)
	}
}

// Keys: a tenant key is printed once and works for its tenant's routes
// only; data comes from a file or standard input too.
func TestAdmin_KeysAndDataSources(t *testing.T) {
	t.Parallel()
	server := startHerald(t)
	c := adminCLI{t, server, testAdminKey}
	c.run("tenants", "create", "acme")
	out := c.run("keys", "create", "--tenant", "acme", "--name", "ci")
	key := regexp.MustCompile(`(?m)^hk_\S+$`).FindString(out)
	if key == "" || !strings.Contains(out, "key of tenant acme") {
		t.Fatalf("keys create printed:\n%s", out)
	}
	tc := adminCLI{t, server, key}
	file := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(file, []byte(`{"from": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tc.run("events", "send", "--tenant", "acme", "--type", "a.file", "--data", "@"+file)
	stdout, errOut, err := herald(t, strings.NewReader(`{"from": "stdin"}`), "events", "send", "--tenant", "acme", "--type", "a.stdin", "--data", "-", "--server", server, "--key", key)
	if err != nil {
		t.Fatalf("--data -: %v %s", err, errOut)
	}
	if !strings.HasPrefix(stdout, "Accepted event evt_") {
		t.Errorf("--data - printed %q", stdout)
	}
	var page struct {
		Data []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"data"`
	}
	tc.runJSON(&page, "events", "list", "--tenant", "acme")
	if len(page.Data) != 2 || compact(t, page.Data[0].Data) != `{"from":"stdin"}` || compact(t, page.Data[1].Data) != `{"from":"file"}` {
		t.Errorf("events list --json with the tenant key: %+v", page)
	}
	if _, _, err := tc.try("tenants", "list"); err == nil || !strings.HasPrefix(err.Error(), "403 Forbidden") {
		t.Errorf("the tenant key listing tenants: %v, want the server's 403", err)
	}
}

// --server, --key and --tenant have the environment twins HERALD_SERVER,
// HERALD_KEY and HERALD_TENANT; a flag wins over its twin.
func TestAdmin_EnvironmentTwins(t *testing.T) {
	// Not parallel: it sets environment variables.
	server := startHerald(t)
	t.Setenv("HERALD_SERVER", server)
	t.Setenv("HERALD_KEY", testAdminKey)
	if _, _, err := herald(t, nil, "tenants", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HERALD_TENANT", "acme")
	out, _, err := herald(t, nil, "events", "send", "--type", "user.created")
	if err != nil || !strings.HasPrefix(out, "Accepted event") {
		t.Fatalf("events send with HERALD_TENANT: %q, %v", out, err)
	}
	if _, _, err := herald(t, nil, "events", "list", "--tenant", "nobody"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("--tenant over HERALD_TENANT: %v, want the 404 of tenant nobody", err)
	}
	if _, _, err := herald(t, nil, "tenants", "list", "--key", "hk_wrong_key_0000000000000000000000000000"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("--key over HERALD_KEY: %v, want a 401", err)
	}
}

// A retrying backlog brought to now, lists by type and time, a test send
// of a chosen event, and an admin key.
func TestAdmin_RetryNowFiltersTestEventsAndAdminKeys(t *testing.T) {
	t.Parallel()
	c := adminCLI{t, startHerald(t), testAdminKey}
	var status atomic.Int32
	status.Store(503)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer rcv.Close()
	c.run("tenants", "create", "acme")
	out := c.run("endpoints", "create", "--tenant", "acme", "--url", rcv.URL)
	ep := regexp.MustCompile(`(?m)^ID:\s+(ep_\S+)$`).FindStringSubmatch(out)[1]
	c.run("events", "send", "--tenant", "acme", "--type", "order.paid", "--id", "o1")
	if !waitFor(30*time.Second, func() bool {
		return strings.Contains(c.run("deliveries", "list", "--tenant", "acme", "--status", "retrying"), "o1")
	}) {
		t.Fatal("no retrying delivery after 30s")
	}
	status.Store(200)
	if out := c.run("endpoints", "retry-now", "--tenant", "acme", ep); out != "Made 1 retrying delivery to endpoint "+ep+" due now.\n" {
		t.Errorf("endpoints retry-now printed %q", out)
	}
	if !waitFor(30*time.Second, func() bool {
		return strings.Contains(c.run("deliveries", "list", "--tenant", "acme", "--status", "delivered"), "o1")
	}) {
		t.Error("the retrying delivery was not delivered within 30s of retry-now")
	}

	if got := c.run("deliveries", "list", "--tenant", "acme", "--event-type", "order.paid", "--since", "1h"); !strings.Contains(got, "o1") {
		t.Errorf("deliveries of order.paid in the last hour:\n%s", got)
	}
	if got := c.run("events", "list", "--tenant", "acme", "--until", "2020-01-01T00:00:00Z"); got != "No events.\n" {
		t.Errorf("events until 2020:\n%s", got)
	}
	if _, _, err := c.try("events", "list", "--tenant", "acme", "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Errorf("--since yesterday: %v, want a refusal naming the flag", err)
	}

	req, _ := http.NewRequest("PUT", c.server+"/api/v1/event-types/user.created", strings.NewReader(`{"schema": {"type": "object", "required": ["id"]}}`))
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("PUT the event type: %v %v", resp, err)
	}
	if out := c.run("endpoints", "test", "--tenant", "acme", ep, "--type", "user.created", "--data", `{"id": "usr_1"}`); !strings.Contains(out, "delivered") {
		t.Errorf("endpoints test --type --data:\n%s", out)
	}
	var ev struct {
		Data []struct {
			Data   json.RawMessage `json:"data"`
			Source string          `json:"source"`
		} `json:"data"`
	}
	c.runJSON(&ev, "events", "list", "--tenant", "acme", "--type", "user.created")
	if len(ev.Data) != 1 || compact(t, ev.Data[0].Data) != `{"id":"usr_1"}` || ev.Data[0].Source != "test" {
		t.Errorf("the test event: %+v", ev)
	}
	if _, _, err := c.try("endpoints", "test", "--tenant", "acme", ep, "--type", "user.created", "--data", `{}`); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("a test event failing its type's schema: %v, want the server's 422", err)
	}

	out = c.run("keys", "create", "--name", "deploy")
	key := regexp.MustCompile(`(?m)^hk_\S+$`).FindString(out)
	if key == "" || !strings.Contains(out, "admin key") {
		t.Fatalf("keys create (admin):\n%s", out)
	}
	deploy := adminCLI{t, c.server, key}
	if got := deploy.run("tenants", "list"); !strings.Contains(got, "acme") {
		t.Errorf("the new admin key lists tenants:\n%s", got)
	}
	id := regexp.MustCompile(`(?m)^ID:\s+(key_\S+)$`).FindStringSubmatch(out)[1]
	table := c.run("keys", "list")
	if !strings.Contains(table, id) || !strings.Contains(table, "deploy") || !strings.HasPrefix(table, "ID ") || strings.Contains(table, "hk_") {
		t.Errorf("keys list:\n%s", table)
	}
	if out := c.run("keys", "delete", id); !strings.Contains(out, "Deleted key "+id) {
		t.Errorf("keys delete printed %q", out)
	}
	if _, _, err := deploy.try("tenants", "list"); err == nil || !strings.HasPrefix(err.Error(), "401") {
		t.Errorf("a deleted key: %v, want the server's 401", err)
	}
	c.run("keys", "create", "--tenant", "acme", "--name", "ci")
	var keys struct {
		Data []struct {
			Name     string `json:"name"`
			TenantID string `json:"tenant_id"`
		} `json:"data"`
	}
	c.runJSON(&keys, "keys", "list", "--tenant", "acme")
	if len(keys.Data) != 1 || keys.Data[0].Name != "ci" || keys.Data[0].TenantID != "acme" {
		t.Errorf("keys list --tenant acme --json: %+v", keys)
	}
}

// A tenant's portal origins and a portal link; a disabled endpoint shows
// why, and so does the delivery it could not take.
func TestAdmin_PortalAndDisabledEndpoints(t *testing.T) {
	t.Parallel()
	c := adminCLI{t, startHerald(t), testAdminKey}
	if out := c.run("tenants", "create", "acme", "--portal-origin", "https://app.acme.example"); !regexp.MustCompile(`(?m)^Portal origins:\s+https://app.acme.example$`).MatchString(out) {
		t.Errorf("tenants create --portal-origin:\n%s", out)
	}
	out := c.run("tenants", "portal-link", "acme", "--expires-in", "10m")
	if !strings.HasPrefix(out, "http") || !strings.Contains(out, "works until") {
		t.Errorf("tenants portal-link:\n%s", out)
	}
	out = c.run("endpoints", "create", "--tenant", "acme", "--url", "https://example.com/hooks", "--disabled")
	ep := regexp.MustCompile(`(?m)^ID:\s+(ep_\S+)$`).FindStringSubmatch(out)[1]
	if !regexp.MustCompile(`(?m)^Status:\s+disabled \(manual\)$`).MatchString(out) || !strings.Contains(out, "Disabled at:") ||
		!regexp.MustCompile(`(?m)^Health:\s+no attempt yet$`).MatchString(out) {
		t.Errorf("a disabled endpoint:\n%s", out)
	}
	if table := c.run("endpoints", "list", "--tenant", "acme"); !strings.Contains(table, "disabled (manual)") {
		t.Errorf("endpoints list:\n%s", table)
	}
	c.run("events", "send", "--tenant", "acme", "--type", "user.created")
	if table := c.run("deliveries", "list", "--tenant", "acme", "--endpoint", ep); !strings.Contains(table, "endpoint_disabled") {
		t.Errorf("the delivery to the disabled endpoint:\n%s", table)
	}
}
