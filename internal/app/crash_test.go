package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/cli"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// TestMain lets a test start the real server as a child process (the test
// binary itself, re-executed), so it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("HERALD_TEST_CHILD_ARGS"); args != "" {
		os.Exit(cli.Main(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// server is a herald serve child process.
type server struct {
	t       *testing.T
	args    []string
	url     string
	cmd     *exec.Cmd
	logPath string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, dbURL, adminKey string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{t: t, url: "http://" + addr, logPath: filepath.Join(t.TempDir(), "herald.log"),
		args: []string{"serve", "--addr", addr, "--database", dbURL, "--admin-key", adminKey, "--allow-private-destinations", "--log-level", "warn", "--lease", "4s"}}
	s.start()
	return s
}

func (s *server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(os.Args[0], "-test.run=^$")
	s.cmd.Env = append(os.Environ(), "HERALD_TEST_CHILD_ARGS="+strings.Join(s.args, "\x1f"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("server not ready after 60s; log:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

// call makes an API request and decodes the answer into out (if not nil).
func call(t *testing.T, method, url, key string, body any, out any) (int, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, nil
}

// TestServe_SIGKILLedTwiceLosesNoAcknowledgedEvent streams events into a
// real server, kills it with SIGKILL twice while they stream, restarts it,
// and checks that every event that got a 202 reached every endpoint.
func TestServe_SIGKILLedTwiceLosesNoAcknowledgedEvent(t *testing.T) {
	t.Parallel()
	dbs := map[string]func(t testing.TB) string{
		"sqlite": func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "herald.db") },
	}
	if os.Getenv("HERALD_TEST_DATABASE_URL") != "" {
		dbs["postgres"] = dbtest.PostgresURL
	} else {
		t.Log("HERALD_TEST_DATABASE_URL is unset: PostgreSQL is not tested")
	}
	for name, dbURL := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testCrashes(t, dbURL(t))
		})
	}
}

func testCrashes(t *testing.T, dbURL string) {
	const adminKey = "hk_test_admin_key_for_crash_test_0123456789"
	var mu sync.Mutex
	got := map[string]map[string]bool{} // endpoint path -> webhook-ids
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		if got[r.URL.Path] == nil {
			got[r.URL.Path] = map[string]bool{}
		}
		got[r.URL.Path][r.Header.Get("webhook-id")] = true
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(200)
	}))
	defer rc.Close()

	srv := startServer(t, dbURL, adminKey)
	if _, err := call(t, "POST", srv.url+"/api/v1/tenants", adminKey, map[string]any{"id": "acme", "name": "Acme"}, nil); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/a", "/b", "/c"}
	for _, p := range paths {
		if _, err := call(t, "POST", srv.url+"/api/v1/tenants/acme/endpoints", adminKey, map[string]any{"url": rc.URL + p, "events": []string{"*"}}, nil); err != nil {
			t.Fatal(err)
		}
	}

	var acked []string
	seq := 0
	// stream posts events one after another until want more are
	// acknowledged. With kill, it SIGKILLs the server from another
	// goroutine once want are in, while the posts go on, and returns once
	// the process is dead: the kill lands mid-load however slow the
	// machine, where a kill on a timer could find too few events posted.
	stream := func(want int, kill bool) {
		from := len(acked)
		var killed chan struct{}
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if len(acked)-from >= want {
				if !kill {
					return
				}
				if killed == nil {
					killed = make(chan struct{})
					cmd := srv.cmd
					go func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait(); close(killed) }()
				}
			}
			if killed != nil {
				select {
				case <-killed:
					return
				default:
				}
			}
			seq++
			evID := fmt.Sprintf("ord_%05d", seq)
			var out struct {
				ID string `json:"id"`
			}
			code, err := call(t, "POST", srv.url+"/api/v1/tenants/acme/events", adminKey,
				map[string]any{"id": evID, "type": "order.created", "data": map[string]any{"n": seq}}, &out)
			if err == nil && code == http.StatusAccepted {
				acked = append(acked, out.ID)
			}
		}
		if killed != nil {
			<-killed
		}
	}
	// Kill twice while events stream, restarting after each.
	for range 2 {
		stream(15, true)
		srv.start()
	}
	stream(10, false)
	if len(acked) < 40 {
		t.Fatalf("only %d events acknowledged; the test needs more to mean something", len(acked))
	}

	deadline := time.Now().Add(90 * time.Second)
	for {
		missing := 0
		mu.Lock()
		for _, p := range paths {
			for _, id := range acked {
				if !got[p][id] {
					missing++
				}
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(srv.logPath)
			t.Fatalf("%d of %d acknowledged deliveries never arrived after two SIGKILLs; server log:\n%s", missing, len(acked)*len(paths), log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d events acknowledged across two SIGKILLs, all delivered to %d endpoints", len(acked), len(paths))
}

// TestServe_SIGTERMFinishesInFlightAttempts: a graceful stop lets the
// attempt in flight finish and be recorded, then exits 0.
func TestServe_SIGTERMFinishesInFlightAttempts(t *testing.T) {
	t.Parallel()
	const adminKey = "hk_test_admin_key_for_sigterm_test_0123456789"
	inFlight := make(chan struct{}, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case inFlight <- struct{}{}:
		default:
		}
		time.Sleep(time.Second)
		w.WriteHeader(200)
	}))
	defer rc.Close()
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, dbURL, adminKey)
	if _, err := call(t, "POST", srv.url+"/api/v1/tenants", adminKey, map[string]any{"id": "acme"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, "POST", srv.url+"/api/v1/tenants/acme/endpoints", adminKey, map[string]any{"url": rc.URL}, nil); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ID string `json:"id"`
	}
	if _, err := call(t, "POST", srv.url+"/api/v1/tenants/acme/events", adminKey, map[string]any{"type": "a.b", "data": map[string]any{}}, &ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never reached the receiver")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			log, _ := os.ReadFile(srv.logPath)
			t.Fatalf("herald exited with %v after SIGTERM; log:\n%s", err, log)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("herald did not exit within 15s of SIGTERM")
	}

	srv.start()
	var list struct {
		Data []struct {
			Status   string `json:"status"`
			Attempts int    `json:"attempt_count"`
		} `json:"data"`
	}
	if _, err := call(t, "GET", srv.url+"/api/v1/tenants/acme/events/"+ev.ID+"/deliveries", adminKey, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 1 || list.Data[0].Status != "delivered" || list.Data[0].Attempts != 1 {
		t.Errorf("after SIGTERM the delivery is %+v, want delivered after its one attempt finished", list.Data)
	}
}

// TestServe_TwoNodesOnePostgres_OneKilled: two herald processes share one
// PostgreSQL; events are posted to both; one is SIGKILLed mid-stream and
// never restarted; the survivor delivers everything that was acknowledged.
func TestServe_TwoNodesOnePostgres_OneKilled(t *testing.T) {
	t.Parallel()
	if os.Getenv("HERALD_TEST_DATABASE_URL") == "" {
		t.Skip("HERALD_TEST_DATABASE_URL is unset")
	}
	const adminKey = "hk_test_admin_key_for_two_nodes_0123456789"
	dbURL := dbtest.PostgresURL(t)
	var mu sync.Mutex
	got := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		time.Sleep(3 * time.Millisecond)
		w.WriteHeader(200)
	}))
	defer rc.Close()

	a := startServer(t, dbURL, adminKey)
	b := startServer(t, dbURL, adminKey)
	if _, err := call(t, "POST", a.url+"/api/v1/tenants", adminKey, map[string]any{"id": "acme"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, "POST", b.url+"/api/v1/tenants/acme/endpoints", adminKey, map[string]any{"url": rc.URL}, nil); err != nil {
		t.Fatal(err)
	}
	// Post to both nodes in turn; once 20 are acknowledged, SIGKILL a from
	// another goroutine while the posts go on, and keep posting until 20
	// more are acknowledged (by b, the survivor).
	var acked []string
	var killed chan struct{}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; len(acked) < 40 && time.Now().Before(deadline); i++ {
		if len(acked) >= 20 && killed == nil {
			killed = make(chan struct{})
			cmd := a.cmd
			go func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait(); close(killed) }()
		}
		node := a
		if i%2 == 1 {
			node = b
		}
		evID := fmt.Sprintf("n_%05d", i)
		code, err := call(t, "POST", node.url+"/api/v1/tenants/acme/events", adminKey,
			map[string]any{"id": evID, "type": "order.created", "data": map[string]any{"n": i}}, nil)
		if err == nil && code == http.StatusAccepted {
			acked = append(acked, evID)
		}
	}
	if killed != nil {
		<-killed
	}
	if len(acked) < 40 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	wait := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		mu.Lock()
		for _, id := range acked {
			if got[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("%d of %d acknowledged events never arrived after one of two nodes was killed", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d events acknowledged by two nodes, one SIGKILLed; all delivered by the survivor", len(acked))
}
