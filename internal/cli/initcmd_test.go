package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
)

// init writes each framework's files, refuses to overwrite without --force,
// and refuses an unknown framework.
func TestInit_WritesStarter(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"go":      {"go.mod", "main.go", "README.md"},
		"express": {"server.js", "package.json", "README.md"},
		"next":    {"app/api/webhooks/route.js", "package.json", "README.md"},
		"python":  {"receiver.py", "README.md"},
	}
	says := map[string]string{
		"go": "wrote a Go receiver", "express": "wrote an Express receiver",
		"next": "wrote a Next.js receiver", "python": "wrote a Python receiver",
	}
	for fw, files := range want {
		t.Run(fw, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "rx")
			out, _, err := herald(t, nil, "init", "--framework", fw, "--dir", dir)
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			if !strings.HasPrefix(out, says[fw]+" (") {
				t.Errorf("init printed %q, want it to begin %q", out, says[fw])
			}
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || len(b) == 0 {
					t.Errorf("%s: %v (%d bytes), want the file written", f, err, len(b))
				}
				if !strings.Contains(out, f) {
					t.Errorf("output does not list %s:\n%s", f, out)
				}
			}
			var n int
			filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
				if !d.IsDir() {
					n++
				}
				return nil
			})
			if n != len(files) {
				t.Errorf("%d files written, want %d (%v)", n, len(files), files)
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			for _, s := range []string{SecretEnv, "PORT", "HOST", "127.0.0.1", "send-test"} {
				if !strings.Contains(string(readme), s) {
					t.Errorf("README.md does not mention %s", s)
				}
			}

			main := filepath.Join(dir, files[0])
			os.WriteFile(main, []byte("mine"), 0o644)
			_, _, err = herald(t, nil, "init", "--framework", fw, "--dir", dir)
			if err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("init over existing files: %v, want a refusal naming --force", err)
			}
			if b, _ := os.ReadFile(main); string(b) != "mine" {
				t.Errorf("init without --force overwrote %s", files[0])
			}
			if _, _, err := herald(t, nil, "init", "--framework", fw, "--dir", dir, "--force"); err != nil {
				t.Fatalf("init --force: %v", err)
			}
			if b, _ := os.ReadFile(main); string(b) == "mine" {
				t.Errorf("init --force did not overwrite %s", files[0])
			}
		})
	}
	if _, _, err := herald(t, nil, "init", "--framework", "rails", "--dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "express, go, next, python") {
		t.Errorf("init --framework rails: %v, want the frameworks listed", err)
	}
}

// starterCase is one request sent to a starter and what must come of it:
// a 2xx, or a 4xx (never a 5xx, which Herald would retry).
type starterCase struct {
	name    string
	d       *outgoing
	body    []byte // d.Body unless tampered
	want2xx bool
	dup     bool   // the answer marks a duplicate
	logs    string // what the output must hold once it is handled
}

// starterCases are Herald-signed deliveries and the ways they go wrong, in
// the order they are sent.
func starterCases(t *testing.T, secret string) (cases []starterCase, first *outgoing) {
	t.Helper()
	std, _ := format.Builtin(format.StandardWebhooksName)
	now := time.Now()
	// 100000.00 is not how JSON.stringify or json.dumps writes it: a starter
	// that verified a re-serialized body would refuse this delivery.
	first = signedDelivery(t, std, []string{secret}, "user.created", `{"id":"usr_1","email":"ada@example.com","name":"Zoë","amount":100000.00}`, now)
	tampered := signedDelivery(t, std, []string{secret}, "user.created", `{"id":"usr_2","email":"bob@example.com"}`, now)
	retry := resign(t, std, []string{secret}, first, now.Add(2*time.Second))
	unknown := signedDelivery(t, std, []string{secret}, "invoice.paid", `{"id":"inv_1"}`, now)
	other := signedDelivery(t, std, []string{testSecret(t)}, "user.created", `{"id":"usr_3"}`, now)
	stale := signedDelivery(t, std, []string{secret}, "user.created", `{"id":"usr_4"}`, now.Add(-time.Hour))
	rotation := signedDelivery(t, std, []string{testSecret(t), secret}, "webhook.test", "", now)
	// Events of shapes no starter expects, each signed with its secret: a
	// test send of a catalog type may carry any data, and issue 10 met the
	// Python starter answering 500 to user.created without data.id (so
	// Herald retried it) and the Express one logging "user undefined".
	noUserID := signedDelivery(t, std, []string{secret}, "user.created", `{}`, now)
	raw := func(body string) *outgoing {
		d := signedDelivery(t, std, []string{secret}, "x", `{}`, now)
		d.Body = []byte(body)
		return resign(t, std, []string{secret}, d, now)
	}
	odd := raw(`{"type":"x","data":{}}`)
	noType := raw(`{"data":[1,2]}`)
	numbers := raw(`{"type":"user.created","data":{"id":7}}`)
	notObject := raw(`["user.created"]`)
	return []starterCase{
		{name: "signed delivery", d: first, body: first.Body, want2xx: true},
		{name: "tampered body", d: tampered, body: tamper(t, tampered.Body)},
		{name: "same webhook-id again (a retry)", d: retry, body: retry.Body, want2xx: true, dup: true},
		{name: "unknown event type", d: unknown, body: unknown.Body, want2xx: true},
		{name: "another secret", d: other, body: other.Body},
		{name: "an hour old", d: stale, body: stale.Body},
		{name: "rotation, two signatures", d: rotation, body: rotation.Body, want2xx: true},
		{name: "user.created without data.id", d: noUserID, body: noUserID.Body, want2xx: true,
			logs: "webhook " + noUserID.EventID + " (user.created) handled"},
		{name: `{"type":"x","data":{}}`, d: odd, body: odd.Body, want2xx: true, logs: "webhook " + odd.EventID + " (x) ignored"},
		{name: "no type, data an array", d: noType, body: noType.Body, want2xx: true, logs: "webhook " + noType.EventID},
		{name: "data.id a number", d: numbers, body: numbers.Body, want2xx: true, logs: "webhook " + numbers.EventID},
		{name: "a JSON array", d: notObject, body: notObject.Body, want2xx: true, logs: "webhook " + notObject.EventID},
		{name: "an odd shape with a bad signature", d: odd, body: []byte(`{"type":"y","data":{}}`)},
	}, first
}

// checkStarter checks a starter's answers and output for starterCases.
func checkStarter(t *testing.T, cases []starterCase, first *outgoing, statuses []int, bodies []string, output func() string) {
	t.Helper()
	wantOut := []string{
		"webhook " + first.EventID + " duplicate",
		"webhook " + cases[3].d.EventID + " (invoice.paid) ignored: unknown event type",
		"webhook rejected",
	}
	for i, c := range cases {
		got2xx := statuses[i] >= 200 && statuses[i] <= 299
		if got2xx != c.want2xx || !c.want2xx && (statuses[i] < 400 || statuses[i] > 499) {
			t.Errorf("%s: answered %d %q, want 2xx=%v (else a 4xx)", c.name, statuses[i], bodies[i], c.want2xx)
		}
		if c.logs != "" {
			wantOut = append(wantOut, c.logs)
		}
		if c.want2xx && strings.Contains(bodies[i], "duplicate") != c.dup {
			t.Errorf("%s: answer %q, want a duplicate marker: %v", c.name, bodies[i], c.dup)
		}
	}
	if !waitFor(10*time.Second, func() bool {
		for _, w := range wantOut {
			if !strings.Contains(output(), w) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("output does not contain all of %q:\n%s", wantOut, output())
	}
	if n := strings.Count(output(), "webhook "+first.EventID+" (user.created) handled: user usr_1"); n != 1 {
		t.Errorf("event %s handled %d times, want once; output:\n%s", first.EventID, n, output())
	}
	for _, bad := range []string{"undefined", "None", "failed", "Traceback", "TypeError"} {
		if strings.Contains(output(), bad) {
			t.Errorf("output holds %q: an event's shape was assumed; output:\n%s", bad, output())
		}
	}
}

// exerciseHTTP sends the cases to a running starter.
func exerciseHTTP(t *testing.T, url string, p *process, secret string) {
	t.Helper()
	cases, first := starterCases(t, secret)
	var statuses []int
	var bodies []string
	for _, c := range cases {
		s, b := postRaw(t, url, c.d.Header, c.body)
		statuses, bodies = append(statuses, s), append(bodies, b)
	}
	checkStarter(t, cases, first, statuses, bodies, p.out.String)
}

func writeStarterDir(t *testing.T, fw string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fw)
	if _, _, err := herald(t, nil, "init", "--framework", fw, "--dir", dir); err != nil {
		t.Fatalf("init --framework %s: %v", fw, err)
	}
	return dir
}

// The Go starter builds with nothing but the Go toolchain, outside Herald's
// module, and behaves as a receiver must.
func TestStarter_Go(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the Go starter: %v", err)
	}
	dir := writeStarterDir(t, "go")
	build := exec.Command(goBin, "build", "-o", "receiver", ".")
	build.Dir = dir
	// Alone, as a user would build it: no workspace, no downloads.
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the Go starter: %v\n%s", err, out)
	}
	vet := exec.Command(goBin, "vet", ".")
	vet.Dir, vet.Env = dir, build.Env
	if out, err := vet.CombinedOutput(); err != nil {
		t.Errorf("go vet of the Go starter: %v\n%s", err, out)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if strings.Contains(string(mod), "require") {
		t.Errorf("the Go starter's go.mod requires modules, want the standard library only:\n%s", mod)
	}
	exerciseStarter(t, dir, nil, filepath.Join(dir, "receiver"))
}

// exerciseStarter runs a starter as its README says, with no HOST: it
// must listen on 127.0.0.1 only and answer the cases as a receiver must.
// Then again with HOST=127.0.0.2 (any 127/8 address is this machine's on
// Linux): it listens there instead.
func exerciseStarter(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	secret, port := testSecret(t), freePort(t)
	p := start(t, dir, append([]string{SecretEnv + "=" + secret, "PORT=" + strconv.Itoa(port)}, env...), port, name, args...)
	checkListensOn(t, port, "127.0.0.1")
	exerciseHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/webhooks", port), p, secret)

	other := freePort(t)
	start(t, dir, append([]string{SecretEnv + "=" + secret, "PORT=" + strconv.Itoa(other), "HOST=127.0.0.2"}, env...), other, name, args...)
	checkListensOn(t, other, "127.0.0.2")
}

// The Python starter runs on the standard library alone.
func TestStarter_Python(t *testing.T) {
	t.Parallel()
	py := runtimeBinary(t, "python3")
	dir := writeStarterDir(t, "python")
	exerciseStarter(t, dir, []string{"PYTHONDONTWRITEBYTECODE=1"}, py, "receiver.py")
}

// The Express starter, with the npm packages .ci/setup installs.
func TestStarter_Express(t *testing.T) {
	t.Parallel()
	node := runtimeBinary(t, "node")
	modules := nodeModules(t)
	dir := writeStarterDir(t, "express")
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	exerciseStarter(t, dir, nil, node, "server.js")
}

// The Next.js starter's route handler, called with web Requests by a small
// Node harness: no Next.js install is needed.
func TestStarter_Next(t *testing.T) {
	t.Parallel()
	node := runtimeBinary(t, "node")
	modules := nodeModules(t)
	dir := writeStarterDir(t, "next")
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	harness, err := filepath.Abs(filepath.Join("testdata", "next_harness.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	secret := testSecret(t)
	cases, first := starterCases(t, secret)
	type wireCase struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var wire []wireCase
	for _, c := range cases {
		h := map[string]string{}
		for k := range c.d.Header {
			h[k] = c.d.Header.Get(k)
		}
		wire = append(wire, wireCase{Headers: h, Body: base64.StdEncoding.EncodeToString(c.body)})
	}
	casesFile, resultsFile := filepath.Join(dir, "cases.json"), filepath.Join(dir, "results.json")
	b, _ := json.Marshal(wire)
	os.WriteFile(casesFile, b, 0o600)

	cmd := exec.Command(node, harness, filepath.Join(dir, "app", "api", "webhooks", "route.js"), casesFile, resultsFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), SecretEnv+"="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node harness: %v\n%s", err, out)
	}
	var results []struct {
		Status int
		Body   string
	}
	b, err = os.ReadFile(resultsFile)
	if err != nil || json.Unmarshal(b, &results) != nil || len(results) != len(cases) {
		t.Fatalf("results %s (%v), want %d results; output:\n%s", b, err, len(cases), out)
	}
	var statuses []int
	var bodies []string
	for _, r := range results {
		statuses, bodies = append(statuses, r.Status), append(bodies, r.Body)
	}
	checkStarter(t, cases, first, statuses, bodies, func() string { return string(out) })

	// Without the secret the handler answers 500 rather than accepting.
	cmd = exec.Command(node, harness, filepath.Join(dir, "app", "api", "webhooks", "route.js"), casesFile, resultsFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), SecretEnv+"=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node harness without a secret: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(resultsFile)
	if err := json.Unmarshal(b, &results); err != nil || results[0].Status != http.StatusInternalServerError {
		t.Errorf("without %s the handler answered %s, want 500", SecretEnv, b)
	}
}

// The Next.js starter's scripts bind next to 127.0.0.1 unless HOST says
// otherwise (next itself listens on every interface): npm runs a script
// with sh -c, so sh expands it here as npm would, with and without HOST.
func TestStarter_NextBindsLoopback(t *testing.T) {
	t.Parallel()
	sh := runtimeBinary(t, "sh")
	dir := writeStarterDir(t, "next")
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Scripts map[string]string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"dev", "start"} {
		for _, tc := range []struct{ env, want string }{
			{"", "--hostname 127.0.0.1 --port 3000"},
			{"HOST=0.0.0.0 PORT=8000", "--hostname 0.0.0.0 --port 8000"},
		} {
			cmd := exec.Command(sh, "-c", "echo "+pkg.Scripts[script])
			cmd.Env = append(os.Environ(), "HOST=", "PORT=")
			if tc.env != "" {
				cmd.Env = append(cmd.Env, strings.Fields(tc.env)...)
			}
			out, err := cmd.Output()
			if err != nil || !strings.HasPrefix(string(out), "next ") || !strings.HasSuffix(strings.TrimSpace(string(out)), tc.want) {
				t.Errorf("npm run %s with %q runs %q (%v), want next ... %s", script, tc.env, out, err, tc.want)
			}
		}
	}
}
