package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"code.dny.dev/ssrf"
)

// vocabulary is every text classify gives besides "timeout after <the
// format's timeout>": the closed list docs/api.md gives tenants.
var vocabulary = []string{
	"destination refused (private address)",
	"dns: no such host", "dns: timeout", "dns: lookup failed",
	"tls: certificate signed by unknown authority",
	"tls: certificate is not valid for the endpoint's host",
	"tls: certificate expired or not yet valid",
	"tls: certificate not trusted",
	"tls: the receiver does not speak TLS on this port (an http:// endpoint?)",
	"tls: the receiver refused the handshake",
	"tls: handshake timeout",
	"connection refused", "connection reset",
	"connection closed while the request was sent",
	"connection closed before the answer was complete",
	"connection closed without an answer",
	"no route to host", "connection timed out",
	"timeout connecting", "timeout waiting for the answer",
	"response too large (headers)", "malformed HTTP response",
	"connection error", "request failed",
}

// inVocabulary reports whether c is one classify may give with this
// timeout, and of a kind the span may name.
func inVocabulary(c cause, timeout time.Duration) bool {
	if c.kind == "" {
		return false
	}
	return slices.Contains(vocabulary, c.text) || c.text == fmt.Sprintf("timeout after %s", timeout)
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rawServer accepts connections on 127.0.0.1 and hands each, once its
// request is read and its body drained, to serve, for answers no HTTP
// server would give; it returns the address. The external tests have it
// as RawServer (export_test.go).
func rawServer(t *testing.T, serve func(c *net.TCPConn, r *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if r, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					serve(c.(*net.TCPConn), r)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// post sends one request with client under ctx and returns its error, which
// must not be nil.
func post(t *testing.T, ctx context.Context, client *http.Client, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"type":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST %s answered %d, want an error", url, resp.StatusCode)
	}
	return err
}

// Errors made for real, by the dialer, the resolver, the TLS handshake and
// net/http, as an attempt meets them: each is classified in the
// vocabulary, and none of the text that names the operator's network (the
// resolver's address, this node's socket, the address a name resolved to)
// survives. The error's own text does have it: that is what the attempt's
// log line keeps.
func TestClassify_RealErrors(t *testing.T) {
	t.Parallel()
	live := context.Background()
	private := NewHTTPClient(ClientConfig{AllowPrivate: true})
	t.Cleanup(private.CloseIdleConnections)

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	tlsSrv.StartTLS()                                   // with a certificate no one trusts
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plainSrv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())

	const timeout = 30 * time.Second
	for _, tc := range []struct {
		name string
		err  func(t *testing.T) (err error, ctx context.Context)
		want string // "" when checked by prefix (wantPrefix)
		kind string
		// raw is what the error's own text must hold (it shows the test
		// made the error it meant to) and the classified text must not.
		raw string
	}{
		{"dialer to a closed port", func(t *testing.T) (error, context.Context) {
			addr := closedPort(t)
			_, err := (&net.Dialer{}).DialContext(live, "tcp", addr)
			return err, live
		}, "connection refused", kindConnection, "127.0.0.1"},
		{"POST to a closed port", func(t *testing.T) (error, context.Context) {
			return post(t, live, private, "http://"+closedPort(t)+"/hook"), live
		}, "connection refused", kindConnection, "127.0.0.1"},
		{"a dial past its deadline", func(t *testing.T) (error, context.Context) {
			_, err := (&net.Dialer{Timeout: time.Nanosecond}).DialContext(live, "tcp", closedPort(t))
			return err, live
		}, "timeout connecting", kindTimeout, "127.0.0.1"},
		{"an internal address, refused by the dialer", func(t *testing.T) (error, context.Context) {
			guarded := NewHTTPClient(ClientConfig{})
			return post(t, live, guarded, plainSrv.URL+"/hook"), live
		}, "destination refused (private address)", kindPrivate, "127.0.0.1"},
		{"untrusted certificate", func(t *testing.T) (error, context.Context) {
			return post(t, live, private, tlsSrv.URL+"/hook"), live
		}, "tls: certificate signed by unknown authority", kindTLS, "x509"},
		{"certificate for another host", func(t *testing.T) (error, context.Context) {
			c, err := tls.Dial("tcp", tlsSrv.Listener.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "hooks.customer.test"})
			if err == nil {
				c.Close()
			}
			return err, live
		}, "tls: certificate is not valid for the endpoint's host", kindTLS, "hooks.customer.test"},
		{"https:// to a plain HTTP receiver", func(t *testing.T) (error, context.Context) {
			return post(t, live, private, strings.Replace(plainSrv.URL, "http://", "https://", 1)+"/hook"), live
		}, "tls: the receiver does not speak TLS on this port (an http:// endpoint?)", kindTLS, "127.0.0.1"},
		{"the format's timeout", func(t *testing.T) (error, context.Context) {
			release := make(chan struct{})
			addr := rawServer(t, func(*net.TCPConn, *http.Request) { <-release })
			t.Cleanup(func() { close(release) })
			ctx, cancel := context.WithTimeout(live, 50*time.Millisecond)
			t.Cleanup(cancel)
			return post(t, ctx, private, "http://"+addr+"/hook"), ctx
		}, "timeout after 30s", kindTimeout, "127.0.0.1"},
		{"reset", func(t *testing.T) (error, context.Context) {
			addr := rawServer(t, func(c *net.TCPConn, _ *http.Request) { _ = c.SetLinger(0) })
			return post(t, live, private, "http://"+addr+"/hook"), live
		}, "connection reset", kindConnection, "127.0.0.1"},
		{"closed without an answer", func(t *testing.T) (error, context.Context) {
			addr := rawServer(t, func(*net.TCPConn, *http.Request) {})
			return post(t, live, private, "http://"+addr+"/hook"), live
		}, "connection closed without an answer", kindConnection, "127.0.0.1"},
		{"not HTTP", func(t *testing.T) (error, context.Context) {
			addr := rawServer(t, func(c *net.TCPConn, _ *http.Request) { _, _ = io.WriteString(c, "HTTP/1.1 at-10.9.8.7 OK\r\n\r\n") })
			return post(t, live, private, "http://"+addr+"/hook"), live
		}, "malformed HTTP response", kindProtocol, "10.9.8.7"},
		{"headers past the client's limit", func(t *testing.T) (error, context.Context) {
			big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Big", strings.Repeat("x", 8<<10))
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(big.Close)
			small := &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: 1 << 10}}
			t.Cleanup(small.CloseIdleConnections)
			return post(t, live, small, big.URL+"/hook"), live
		}, "response too large (headers)", kindResponse, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err, ctx := tc.err(t)
			if err == nil {
				t.Fatal("no error made")
			}
			got := classify(ctx, err, timeout)
			if got.text != tc.want || got.kind != tc.kind {
				t.Errorf("classify(%q) = %q (%s), want %q (%s)", err, got.text, got.kind, tc.want, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.raw) {
				t.Errorf("the error %q does not hold %q: the test did not make the error it meant to", err, tc.raw)
			}
			if strings.Contains(got.text, tc.raw) {
				t.Errorf("classified %q still holds %q", got.text, tc.raw)
			}
		})
	}
}

// A lookup of a name under .invalid (RFC 6761: never resolves), through the
// machine's own resolver as an attempt's dial makes it: its text names the
// resolver ("lookup x.invalid on 10.255.255.53:53: no such host", as
// issue 10 met it), the classified text does not. A machine without a
// resolver answering fails the lookup otherwise; that is still a DNS cause.
func TestClassify_ResolverLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, lookupErr := net.DefaultResolver.LookupHost(ctx, "herald-classify-test.invalid")
	private := NewHTTPClient(ClientConfig{AllowPrivate: true})
	t.Cleanup(private.CloseIdleConnections)
	postErr := post(t, ctx, private, "http://herald-classify-test.invalid/hook")
	for what, err := range map[string]error{"lookup": lookupErr, "POST": postErr} {
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) {
			t.Fatalf("%s: %v (%T), want a *net.DNSError", what, err, err)
		}
		got := classify(ctx, err, time.Second)
		want := "dns: no such host"
		if !dnsErr.IsNotFound {
			want = map[bool]string{true: "dns: timeout", false: "dns: lookup failed"}[dnsErr.IsTimeout]
		}
		if got.text != want || got.kind != kindDNS {
			t.Errorf("%s: classify(%q) = %q (%s), want %q (dns)", what, err, got.text, got.kind, want)
		}
		for _, hidden := range []string{dnsErr.Server, "invalid", "lookup"} {
			if hidden != "" && strings.Contains(got.text, hidden) {
				t.Errorf("%s: classified %q holds %q", what, got.text, hidden)
			}
		}
		if dnsErr.Server != "" && !strings.Contains(err.Error(), dnsErr.Server) {
			t.Errorf("%s: the error %q does not name its resolver %s", what, err, dnsErr.Server)
		}
	}
}

// Errors no test can make on demand (a DNS timeout, a route, a remote
// alert, a broken pipe), built as the net, crypto/tls and net/http packages
// build them, with this node's address, its resolver's and the resolved
// receiver's in them.
func TestClassify_BuiltErrors(t *testing.T) {
	t.Parallel()
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 44736}
	remote := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 443}
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "https://hooks.example.com/in", Err: err} }
	sock := func(op string, err error) error {
		return wrap(&net.OpError{Op: op, Net: "tcp", Source: local, Addr: remote, Err: err})
	}
	dns := func(d *net.DNSError) error { return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: d}) }
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	live := context.Background()

	for _, tc := range []struct {
		name       string
		ctx        context.Context
		err        error
		want, kind string
	}{
		{"issue 10's lookup", live, dns(&net.DNSError{Err: "no such host", Name: "example.com", Server: "10.255.255.53:53", IsNotFound: true}), "dns: no such host", kindDNS},
		{"DNS timeout", live, dns(&net.DNSError{Err: "i/o timeout", Name: "hooks.example.com", Server: "10.255.255.53:53", IsTimeout: true}), "dns: timeout", kindDNS},
		{"DNS failure", live, dns(&net.DNSError{Err: "server misbehaving", Name: "hooks.example.com", Server: "10.255.255.53:53"}), "dns: lookup failed", kindDNS},
		{"mid-read at the format's timeout", expired, sock("read", os.ErrDeadlineExceeded), "timeout after 30s", kindTimeout},
		{"internal address", live, wrap(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: fmt.Errorf("x: %w", ssrf.ErrProhibitedIP)}), "destination refused (private address)", kindPrivate},
		{"reset, as net/http wraps it", live, wrap(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", &net.OpError{Op: "read", Net: "tcp", Source: local, Addr: remote, Err: os.NewSyscallError("read", syscall.ECONNRESET)})), "connection reset", kindConnection},
		{"broken pipe", live, sock("write", os.NewSyscallError("write", syscall.EPIPE)), "connection closed while the request was sent", kindConnection},
		{"answer cut short", live, sock("read", io.ErrUnexpectedEOF), "connection closed before the answer was complete", kindConnection},
		{"no route", live, wrap(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}), "no route to host", kindConnection},
		{"network unreachable", live, wrap(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}), "no route to host", kindConnection},
		{"TCP timeout", live, sock("read", os.NewSyscallError("read", syscall.ETIMEDOUT)), "connection timed out", kindTimeout},
		{"read deadline", live, sock("read", os.ErrDeadlineExceeded), "timeout waiting for the answer", kindTimeout},
		{"TLS handshake timeout", live, wrap(handshakeTimeout{}), "tls: handshake timeout", kindTLS},
		{"remote alert", live, wrap(&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}), "tls: the receiver refused the handshake", kindTLS},
		{"local alert", live, wrap(tls.AlertError(42)), "tls: the receiver refused the handshake", kindTLS},
		{"expired certificate", live, wrap(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Detail: "current time 2026 is after 2025"}}), "tls: certificate expired or not yet valid", kindTLS},
		{"anything else on the socket", live, sock("read", os.NewSyscallError("read", syscall.EIO)), "connection error", kindConnection},
		{"anything else", live, wrap(errors.New("http2: something about 10.0.0.5:44736")), "request failed", kindOther},
	} {
		got := classify(tc.ctx, tc.err, 30*time.Second)
		if got.text != tc.want || got.kind != tc.kind {
			t.Errorf("%s: classify(%q) = %q (%s), want %q (%s)", tc.name, tc.err, got.text, got.kind, tc.want, tc.kind)
		}
		if kind := errorType(&outcome{err: got.text, kind: got.kind}); kind != tc.kind {
			t.Errorf("%s: error.type %q, want %q", tc.name, kind, tc.kind)
		}
	}
}

// handshakeTimeout is net/http's error for a TLS handshake past
// Transport.TLSHandshakeTimeout.
type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "net/http: TLS handshake timeout" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }

// Whatever an error says, and however it is wrapped, classify answers from
// the vocabulary: no text of the error reaches a tenant.
func FuzzClassify(f *testing.F) {
	f.Add(uint8(0), "example.com", "10.255.255.53:53", "no such host", uint16(443))
	f.Add(uint8(1), "read", "10.0.0.5", "connection reset by peer", uint16(44736))
	f.Add(uint8(2), "remote error", "", "tls: bad certificate", uint16(0))
	f.Add(uint8(3), "", "", `net/http: HTTP/1.x transport connection broken: malformed HTTP response "10.0.0.5"`, uint16(0))
	f.Add(uint8(4), "dial", "192.168.1.1", "i/o timeout", uint16(53))
	f.Add(uint8(5), "", "", "server response headers exceeded 1024 bytes; aborted", uint16(0))
	f.Fuzz(func(t *testing.T, shape uint8, a, b, msg string, port uint16) {
		addr := &net.TCPAddr{IP: net.ParseIP(b), Port: int(port)}
		var err error
		switch shape % 6 {
		case 0:
			err = &net.DNSError{Err: msg, Name: a, Server: b, IsNotFound: port%2 == 0, IsTimeout: port%3 == 0}
		case 1:
			err = &net.OpError{Op: a, Net: "tcp", Source: addr, Addr: addr, Err: errors.New(msg)}
		case 2:
			err = &net.OpError{Op: a, Net: "tcp", Addr: addr, Err: os.NewSyscallError(b, syscall.Errno(port))}
		case 3:
			err = errors.New(msg)
		case 4:
			err = &net.OpError{Op: a, Net: "tcp", Addr: addr, Err: &timeoutErr{msg}}
		case 5:
			err = fmt.Errorf("%s: %w", msg, &net.DNSError{Err: msg, Name: a, Server: b})
		}
		if shape&0x80 != 0 {
			err = &url.Error{Op: "Post", URL: "http://" + a + "/" + b, Err: err}
		}
		ctx := context.Background()
		if shape&0x40 != 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, time.Unix(0, 0))
			defer cancel()
		}
		timeout := time.Duration(port) * time.Millisecond
		if got := classify(ctx, err, timeout); !inVocabulary(got, timeout) {
			t.Fatalf("classify(%q) = %q (%q), not in the vocabulary", err, got.text, got.kind)
		}
	})
}

// timeoutErr is any error that says it is a timeout.
type timeoutErr struct{ msg string }

func (e *timeoutErr) Error() string { return e.msg }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }
