package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until cond holds or the time is up, and reports which.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// herald runs the herald command in process and returns what it printed and
// its error (an error is exit status 1).
func herald(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(args)
	if stdin != nil {
		root.SetIn(stdin)
	}
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// testSecret is a fresh standard-webhooks secret.
func testSecret(t *testing.T) string {
	t.Helper()
	return signature.GenerateSecret()
}

// signedDelivery renders and signs one delivery in f's format, as the server
// would.
func signedDelivery(t *testing.T, f *format.Format, secrets []string, typ, data string, at time.Time) *outgoing {
	t.Helper()
	var d []byte
	if data != "" {
		d = []byte(data)
	}
	out, err := buildDelivery(f, secrets, typ, d, at)
	if err != nil {
		t.Fatalf("build delivery: %v", err)
	}
	return out
}

// resign signs an existing delivery's body again at another time, as a retry
// of the same event is signed.
func resign(t *testing.T, f *format.Format, secrets []string, d *outgoing, at time.Time) *outgoing {
	t.Helper()
	h, err := signature.Sign(f.Signature(), secrets, d.EventID, at, d.Body)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out := *d
	out.Header = d.Header.Clone()
	for k, vs := range h {
		out.Header[k] = vs
	}
	return &out
}

// post sends a delivery to url and returns the status and body of the
// answer.
func post(t *testing.T, url string, d *outgoing) (int, string) {
	t.Helper()
	return postRaw(t, url, d.Header, d.Body)
}

func postRaw(t *testing.T, url string, h http.Header, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tamper returns body with one byte of its data changed.
func tamper(t *testing.T, body []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(body, []byte(`"data":`))
	if i < 0 {
		i = len(body) / 2
	}
	out := bytes.Clone(body)
	for j := i + 8; j < len(out); j++ {
		if c := out[j]; c >= 'a' && c <= 'y' {
			out[j] = c + 1
			return out
		}
	}
	t.Fatalf("nothing to tamper with in %s", body)
	return nil
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a program a test runs, with its output.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// start runs a program in dir with extra environment variables, stops it
// when the test ends, and waits until it accepts connections on port.
func start(t *testing.T, dir string, env []string, port int, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit after kill", name)
		}
	})
	host := "127.0.0.1"
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "HOST="); ok && h != "" {
			host = h
		}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ready := waitFor(30*time.Second, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
	select {
	case <-p.done:
		t.Fatalf("%s exited before accepting connections (%v); output:\n%s", name, p.err, p.out)
	default:
	}
	if !ready {
		t.Fatalf("%s does not accept connections on %s after 30s; output:\n%s", name, addr, p.out)
	}
	return p
}

// runtimeBinary returns the path of a runtime's binary, or skips the test when the
// runtime is not installed: the only reason a starter or snippet test skips.
func runtimeBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrNotFound) {
		// CI has every runtime the starters need: there a missing one is a
		// failure; on a newcomer's machine `go test ./...` must pass.
		if os.Getenv("CI") == "" {
			t.Skipf("%s is not installed", name)
		}
		t.Fatalf("%s is not installed, and CI must run its starter's test", name)
	}
	if err != nil {
		t.Fatalf("look for %s: %v", name, err)
	}
	return p
}

// nodeModules returns the node_modules directory .ci/setup installs the
// starters' npm packages into. When they are missing it fails the test in CI
// (CI=true) and skips it elsewhere.
func nodeModules(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for the npm packages: %v", err)
	}
	dir := filepath.Join(cache, "herald-ci", "node", "node_modules")
	for _, pkg := range []string{"standardwebhooks", "express"} {
		if _, err := os.Stat(filepath.Join(dir, pkg, "package.json")); err != nil {
			msg := fmt.Sprintf("node is installed but the npm package %s is not in %s: run .ci/setup", pkg, dir)
			// CI runs .ci/setup first, so there a missing package is a
			// failure; on a newcomer's machine `go test ./...` must pass.
			if os.Getenv("CI") == "" {
				t.Skip(msg)
			}
			t.Fatal(msg)
		}
	}
	return dir
}

// waitOutput waits until the output contains want.
func (p *process) waitOutput(t *testing.T, want string) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return strings.Contains(p.out.String(), want) }) {
		t.Fatalf("output does not contain %q after 10s; output:\n%s", want, p.out)
	}
}

// listeners are the local addresses of the TCP sockets listening on port,
// from Linux's /proc/net/tcp and tcp6 ("127.0.0.1", "0.0.0.0", "::"...).
// Elsewhere it skips, and fails in CI, which runs on Linux.
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && file == "/proc/net/tcp6" {
			continue // IPv6 off
		}
		if err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("which address a starter listens on is read from %s: %v", file, err)
			}
			t.Fatalf("read %s: %v", file, err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexIP, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
				continue
			}
			raw, err := hex.DecodeString(hexIP)
			if err != nil {
				t.Fatalf("%s: address %q", file, f[1])
			}
			// The kernel writes each 32-bit word in host order (little
			// endian on every machine CI runs on).
			for i := 0; i+4 <= len(raw); i += 4 {
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			ip, _ := netip.AddrFromSlice(raw)
			out = append(out, ip.Unmap().String())
		}
	}
	return out
}

// checkListensOn checks that whatever listens on port listens on host
// only: with host 127.0.0.1, no other machine can reach it.
func checkListensOn(t *testing.T, port int, host string) {
	t.Helper()
	got := listeners(t, port)
	if len(got) == 0 {
		t.Fatalf("nothing listens on port %d", port)
	}
	for _, a := range got {
		if a != host {
			t.Errorf("port %d: a socket listens on %s, want %s only (all: %v)", port, a, host, got)
		}
	}
	if host != "127.0.0.1" {
		return
	}
	// And from outside loopback: this machine's own other addresses are
	// refused.
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("port %d answers on %s, want 127.0.0.1 only", port, ipn.IP)
		}
	}
}
