package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"code.dny.dev/ssrf"

	"github.com/heraldhq/herald"
)

// ErrPrivateDestination is returned (wrapped) when a URL's host is or
// resolves to an internal address and private destinations are not allowed.
var ErrPrivateDestination = errors.New("destination is an internal address")

// guardian refuses loopback, private, link-local (169.254.169.254 included),
// CGNAT, multicast, unspecified and every other special-purpose range (the
// IANA registries), on any port.
var guardian = ssrf.New(ssrf.WithAnyPort())

// ClientConfig configures the outbound HTTP client.
type ClientConfig struct {
	// AllowPrivate lets deliveries reach internal addresses (development).
	AllowPrivate bool
	// MaxIdleConnsPerHost sizes each host's keep-alive pool.
	MaxIdleConnsPerHost int
}

// NewHTTPClient returns the client deliveries are sent with: keep-alive pools
// per host, no redirects (a 3xx is the receiver's answer, and following it
// could lead anywhere), and unless AllowPrivate a dialer that checks the
// resolved address at connect time, so DNS cannot be used to reach an
// internal address that passed the check at endpoint creation.
func NewHTTPClient(cfg ClientConfig) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = guardian.Safe
	}
	perHost := cfg.MaxIdleConnsPerHost
	if perHost == 0 {
		perHost = 32
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would connect on our behalf, past the dialer's check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // the attempt's context bounds it
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// CheckURL validates an endpoint URL: absolute http or https, a host, no user
// info, no fragment, at most 2048 bytes; and unless allowPrivate, a host that
// neither is nor resolves to an internal address. Errors are
// *herald.ValidationError at location loc.
func CheckURL(ctx context.Context, raw, loc string, allowPrivate bool, resolver *net.Resolver) error {
	if len(raw) > 2048 {
		return herald.Invalid(loc, "must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return herald.Invalid(loc, "is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return herald.Invalid(loc, "must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return herald.Invalid(loc, "must have a host")
	case u.User != nil:
		return herald.Invalid(loc, "must not contain user info (put credentials in the endpoint's headers)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return herald.Invalid(loc, "must not contain a fragment")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if name := strings.TrimSuffix(strings.ToLower(host), "."); name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return privateDestination(herald.Invalid(loc, "%s is an internal address; Herald refuses internal destinations unless private destinations are allowed", host))
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if resolver == nil {
			resolver = net.DefaultResolver
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		found, err := resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			// A name that does not resolve today may tomorrow; the dialer
			// checks again at connect time, so accept it.
			return nil
		}
		addrs = found
	}
	for _, a := range addrs {
		if err := guardian.SafeAddr(a.Unmap()); err != nil {
			return privateDestination(herald.Invalid(loc, "%s resolves to %s, an internal address; Herald refuses internal destinations unless private destinations are allowed", host, a.Unmap()))
		}
	}
	return nil
}

// privateDestinationError is the ValidationError CheckURL gives for an
// internal address; errors.Is also finds ErrPrivateDestination in it.
type privateDestinationError struct{ *herald.ValidationError }

func privateDestination(ve *herald.ValidationError) error { return privateDestinationError{ve} }

// Is matches ErrPrivateDestination as well as ErrInvalid.
func (e privateDestinationError) Is(target error) bool {
	return target == ErrPrivateDestination || target == herald.ErrInvalid
}

// Unwrap gives the ValidationError, for errors.As.
func (e privateDestinationError) Unwrap() error { return e.ValidationError }

// describeError turns a transport error into a short message for the
// attempt log.
func describeError(err error, timeout time.Duration) string {
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout after %s", timeout)
	case errors.Is(err, ssrf.ErrProhibitedIP):
		return "refused: " + ErrPrivateDestination.Error()
	case errors.As(err, &opErr):
		return opErr.Error()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}
