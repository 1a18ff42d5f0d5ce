package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// cause is what kept a request from an answer, classified: text is what
// the attempt stores (attempts.error, deliveries.last_error) and so what
// every reader of it is shown, tenants included (the API, the portal,
// test sends, failure notices); kind is the attempt span's error.type.
type cause struct {
	kind, text string
}

// The kinds of cause, low-cardinality for the span's error.type.
const (
	kindTimeout    = "timeout"
	kindPrivate    = "private_destination"
	kindDNS        = "dns"
	kindTLS        = "tls"
	kindConnection = "connection"
	kindProtocol   = "protocol"
	kindResponse   = "response"
	kindOther      = "_OTHER"
)

// classify says what kept a request from an answer in words from a closed
// vocabulary (docs/api.md lists it): `dns: no such host`, `connection
// refused`, `timeout after 30s`, `tls: certificate signed by unknown
// authority`, `destination refused (private address)`, and so on. No text
// of the error itself reaches the result: a Go network error carries the
// operator's network in its text (the resolver's address, "lookup
// example.com on 10.255.255.53:53: no such host"; this node's own address
// and port, "read tcp 10.0.0.5:44736->..."; the address the receiver's name
// resolved to here), and a tenant reading its deliveries is shown none of
// that. The error's full text goes to the attempt's log line instead
// (error_detail), for the operator. ctx is the request's: its deadline is
// the format's timeout, which the text may name.
//
// It is the one place an attempt's network error is put into words; a test
// builds each error for real (a closed port, a .invalid name, an untrusted
// certificate, a timeout) and a fuzz test holds every result to the
// vocabulary.
func classify(ctx context.Context, err error, timeout time.Duration) cause {
	var (
		dnsErr     *net.DNSError
		authErr    x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		opErr      *net.OpError
		netErr     net.Error
	)
	errors.As(err, &opErr)
	text := errText(err) // net/http's own errors have no type to match
	switch {
	case ctx != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return cause{kindTimeout, fmt.Sprintf("timeout after %s", timeout)}
	case errors.Is(err, ssrf.ErrProhibitedIP):
		return cause{kindPrivate, "destination refused (private address)"}
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return cause{kindDNS, "dns: no such host"}
		case dnsErr.IsTimeout:
			return cause{kindDNS, "dns: timeout"}
		}
		return cause{kindDNS, "dns: lookup failed"}
	case errors.As(err, &authErr):
		return cause{kindTLS, "tls: certificate signed by unknown authority"}
	case errors.As(err, &hostErr):
		return cause{kindTLS, "tls: certificate is not valid for the endpoint's host"}
	case errors.As(err, &invalidErr) && invalidErr.Reason == x509.Expired:
		return cause{kindTLS, "tls: certificate expired or not yet valid"}
	case errors.As(err, &invalidErr), errors.As(err, &verifyErr):
		return cause{kindTLS, "tls: certificate not trusted"}
	case errors.As(err, &recordErr), strings.Contains(text, "HTTP response to HTTPS client"):
		return cause{kindTLS, "tls: the receiver does not speak TLS on this port (an http:// endpoint?)"}
	case errors.As(err, &alertErr), opErr != nil && opErr.Op == "remote error":
		return cause{kindTLS, "tls: the receiver refused the handshake"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return cause{kindConnection, "connection refused"}
	case errors.Is(err, syscall.ECONNRESET):
		return cause{kindConnection, "connection reset"}
	case errors.Is(err, syscall.EPIPE):
		return cause{kindConnection, "connection closed while the request was sent"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return cause{kindConnection, "connection closed before the answer was complete"}
	case errors.Is(err, io.EOF):
		return cause{kindConnection, "connection closed without an answer"}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return cause{kindConnection, "no route to host"}
	case errors.Is(err, syscall.ETIMEDOUT):
		return cause{kindTimeout, "connection timed out"}
	case errors.As(err, &netErr) && netErr.Timeout():
		switch {
		case opErr != nil && opErr.Op == "dial":
			return cause{kindTimeout, "timeout connecting"}
		case strings.Contains(text, "TLS handshake"):
			return cause{kindTLS, "tls: handshake timeout"}
		}
		return cause{kindTimeout, "timeout waiting for the answer"}
	case strings.Contains(text, "server response headers exceeded"):
		return cause{kindResponse, "response too large (headers)"}
	case strings.Contains(text, "malformed HTTP"):
		return cause{kindProtocol, "malformed HTTP response"}
	case opErr != nil:
		return cause{kindConnection, "connection error"}
	}
	return cause{kindOther, "request failed"}
}

// errText is an error's text, "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
