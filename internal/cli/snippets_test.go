package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

// snippetDir holds the verification snippets docs/receiving.md shows.
var snippetDir = filepath.Join("..", "..", "docs", "snippets")

// snippetCase is one captured request for a snippet harness.
type snippetCase struct {
	Scheme          string            `json:"scheme"`
	Body            string            `json:"body"` // base64
	Headers         map[string]string `json:"headers"`
	Secret          string            `json:"secret"`
	Header          string            `json:"header"`
	TimestampHeader string            `json:"timestamp_header"`
	Prefix          *string           `json:"prefix"`
	Encoding        string            `json:"encoding"`
}

// snippetCases are, for every scheme, Herald-signed requests and the ways
// they go wrong, with whether each is valid. The verify package must agree
// on each, so that the snippets are held to the same standard.
func snippetCases(t *testing.T) ([]snippetCase, []bool, []string) {
	t.Helper()
	var (
		cases []snippetCase
		want  []bool
		names []string
	)
	now := time.Now()
	for _, sc := range schemeCases(t) {
		cfg := sc.f.Signature()
		v, err := verify.New(toVerifyConfig(cfg), []string{sc.secret})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range capturedRequests(t, sc, now) {
			if pkg := v.Verify(c.body, c.header); (pkg == nil) != c.wantOK {
				t.Fatalf("%s/%s: the verify package says %v, want ok=%v", sc.name, c.name, pkg, c.wantOK)
			}
			h := map[string]string{}
			for k := range c.header {
				h[strings.ToLower(k)] = c.header.Get(k)
			}
			cases = append(cases, snippetCase{
				Scheme: cfg.SchemeName(), Body: base64.StdEncoding.EncodeToString(c.body), Headers: h, Secret: sc.secret,
				Header: cfg.Header, TimestampHeader: cfg.TimestampHeader, Prefix: cfg.Prefix, Encoding: cfg.Encoding,
			})
			want = append(want, c.wantOK)
			names = append(names, sc.name+"/"+c.name)
		}
	}
	return cases, want, names
}

// runSnippets runs a harness over the cases and checks that each snippet
// accepts exactly the valid requests.
func runSnippets(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	cases, want, names := snippetCases(t)
	file := filepath.Join(t.TempDir(), "cases.json")
	b, _ := json.Marshal(cases)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, file)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	var results []struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("harness printed %s (%v), want %d results", out, err, len(cases))
	}
	for i, r := range results {
		if r.OK != want[i] {
			t.Errorf("%s: the snippet says ok=%v (%s), want ok=%v as the verify package says", names[i], r.OK, r.Error, want[i])
		}
	}
}

// The Node snippets of docs/receiving.md verify what Herald signs, and
// refuse what the verify package refuses.
func TestSnippets_Node(t *testing.T) {
	t.Parallel()
	node := runtimeBinary(t, "node")
	modules := nodeModules(t)
	dir, _ := filepath.Abs(filepath.Join(snippetDir, "node"))
	runSnippets(t, []string{"NODE_PATH=" + modules}, node, filepath.Join("testdata", "snippets", "harness.js"), dir)
}

// The Python snippets, likewise.
func TestSnippets_Python(t *testing.T) {
	t.Parallel()
	py := runtimeBinary(t, "python3")
	dir, _ := filepath.Abs(filepath.Join(snippetDir, "python"))
	runSnippets(t, []string{"PYTHONDONTWRITEBYTECODE=1"}, py, filepath.Join("testdata", "snippets", "harness.py"), dir)
}

// Every snippet appears in docs/receiving.md exactly as tested.
func TestSnippets_InDocs(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "receiving.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(snippetDir, "*", "*"))
	if err != nil || len(files) < 8 {
		t.Fatalf("snippets %v (%v), want the Node and Python ones", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), strings.TrimSpace(string(b))+"\n```") {
			t.Errorf("docs/receiving.md does not show %s as it is (the tested file)", f)
		}
	}
}

// The Go example of docs/receiving.md builds and behaves as a receiver must.
func TestSnippets_GoExample(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the Go example: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "receiver")
	build := exec.Command(goBin, "build", "-o", bin, "./"+filepath.ToSlash(filepath.Join(snippetDir, "go")))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the Go example: %v\n%s", err, out)
	}
	secret, port := testSecret(t), freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := start(t, t.TempDir(), []string{SecretEnv + "=" + secret, "ADDR=" + addr}, port, bin)
	exerciseHTTP(t, "http://"+addr+"/webhooks", p, secret)
}
