package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"code.dny.dev/ssrf"
)

// The errors a request can end in that the network-edge tests cannot make
// on demand (DNS, routes, timeouts of the dial and the handshake), as the
// net and net/http packages build them: each is described without the
// local end of the socket, and of a kind the attempt's span can name.
func TestDescribeError(t *testing.T) {
	t.Parallel()
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 44736}
	remote := &net.TCPAddr{IP: net.IPv4(93, 184, 216, 34), Port: 443}
	post := func(err error) error { return &url.Error{Op: "Post", URL: "https://hooks.example.com/in", Err: err} }
	sock := func(op string, err error) error {
		return post(&net.OpError{Op: op, Net: "tcp", Source: local, Addr: remote, Err: err})
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	live := context.Background()

	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
		kind string // error.type on the attempt's span
	}{
		{"the format's timeout", expired, post(context.DeadlineExceeded), "timeout after 30s", "timeout"},
		{"the format's timeout mid-read", expired, sock("read", os.ErrDeadlineExceeded), "timeout after 30s", "timeout"},
		{"internal address", live, post(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: fmt.Errorf("x: %w", ssrf.ErrProhibitedIP)}), "refused: destination is an internal address", "private_destination"},
		{"no such host", live, post(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example.com", Server: "127.0.0.53:53", IsNotFound: true}}), "DNS lookup of hooks.example.com failed: no such host", "connection"},
		{"DNS timeout", live, post(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "hooks.example.com", Server: "127.0.0.53:53", IsTimeout: true}}), "DNS lookup of hooks.example.com timed out", "connection"},
		{"DNS failure", live, post(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "hooks.example.com", Server: "127.0.0.53:53"}}), "DNS lookup of hooks.example.com failed: server misbehaving", "connection"},
		{"refused", live, post(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "connection refused by 93.184.216.34:443", "connection"},
		{"reset", live, sock("read", os.NewSyscallError("read", syscall.ECONNRESET)), "connection reset by 93.184.216.34:443", "connection"},
		{"reset, as net/http wraps it", live, post(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", &net.OpError{Op: "read", Net: "tcp", Source: local, Addr: remote, Err: os.NewSyscallError("read", syscall.ECONNRESET)})), "connection reset by 93.184.216.34:443", "connection"},
		{"broken pipe", live, sock("write", os.NewSyscallError("write", syscall.EPIPE)), "connection closed by 93.184.216.34:443 while the request was sent", "connection"},
		{"no route", live, post(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}), "no route to 93.184.216.34:443", "connection"},
		{"TCP timeout", live, sock("read", os.NewSyscallError("read", syscall.ETIMEDOUT)), "connection to 93.184.216.34:443 timed out", "connection"},
		{"dial timeout", live, post(&net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: os.ErrDeadlineExceeded}), "timed out connecting to 93.184.216.34:443", "connection"},
		{"TLS handshake timeout", live, post(handshakeTimeout{}), "TLS: the handshake timed out", "tls"},
		{"anything else on the socket", live, sock("read", os.NewSyscallError("read", syscall.EIO)), "read 93.184.216.34:443: input/output error", "_OTHER"},
		{"an HTTP error", live, post(errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "hello"`)), `HTTP/1.x transport connection broken: malformed HTTP response "hello"`, "connection"},
	} {
		got := describeError(tc.ctx, tc.err, 30*time.Second)
		if got != tc.want {
			t.Errorf("%s: describeError(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
		if kind := errorType(&outcome{err: got}); kind != tc.kind {
			t.Errorf("%s: error.type of %q = %q, want %q", tc.name, got, kind, tc.kind)
		}
		if strings.Contains(got, local.String()) || strings.Contains(got, "44736") || strings.Contains(got, "127.0.0.53") {
			t.Errorf("%s: %q names this node's own address or resolver", tc.name, got)
		}
	}
}

// handshakeTimeout is net/http's error for a TLS handshake past
// Transport.TLSHandshakeTimeout.
type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "net/http: TLS handshake timeout" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }
