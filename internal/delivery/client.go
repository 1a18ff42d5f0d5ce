package delivery

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
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
var guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// ClientConfig configures the outbound HTTP client.
type ClientConfig struct {
	// AllowPrivate lets deliveries reach internal addresses (development).
	AllowPrivate bool
	// Workers is the most attempts the engine sending with this client has
	// in flight at once (Config.Workers); default DefaultWorkers. Each host
	// keeps that many idle connections, since that many may be to the one
	// host.
	Workers int
}

// NewHTTPClient returns the client deliveries are sent with: keep-alive pools
// per host, no redirects (a 3xx is the receiver's answer, and following it
// could lead anywhere), and unless AllowPrivate a dialer that checks the
// resolved address at connect time, so DNS cannot be used to reach an
// internal address that passed the check at endpoint creation.
//
// Each host's pool keeps as many idle connections as the engine has
// workers. Many endpoints may share a host (a SaaS receiving for all its
// customers), so up to every worker may be sending to it at once; with a
// smaller pool, each burst ends with the surplus connections closed and the
// next one dials and handshakes them again (BenchmarkAttempt/burst-64-tls).
// The number of connections to a host is not capped here: the dispatcher
// already holds attempts to Workers, and each endpoint to its in-flight
// cap, so a second cap could only make a test send queue behind the
// workers.
func NewHTTPClient(cfg ClientConfig) *http.Client {
	workers := cmp.Or(cfg.Workers, DefaultWorkers)
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = guardian.Safe
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would connect on our behalf, past the dialer's check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(1024, 4*workers),
		MaxIdleConnsPerHost:   workers,
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

// CheckURL validates an endpoint URL: absolute http or https, a host, a
// valid port, no user info, fragment or white space, at most 2048 bytes; and
// unless allowPrivate, a host that neither is nor resolves to an internal
// address (loopback, private, link-local with 169.254.169.254, CGNAT,
// multicast, unspecified, reserved, IPv6 outside global unicast), written in
// any form a resolver accepts ("127.1", "0x7f000001", "2130706433",
// "localhost."). Errors are *herald.ValidationError with one field at
// location "", the URL itself, for the caller to place where its input has
// the URL (herald.Fields.AddErr, ValidationError.Prefix); a refused
// internal address is also errors.Is ErrPrivateDestination. The dialer
// checks the address again at connect time.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) error {
	if len(raw) > 2048 {
		return invalidURL("must be at most 2048 characters")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return invalidURL("must not contain white space")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalidURL("is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return invalidURL("must be an absolute http:// or https:// URL")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return invalidURL("must have a host, as in https://example.com/webhooks")
	case u.User != nil:
		return invalidURL("must not contain a user name or password; put credentials in the endpoint's headers")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalidURL("must not have a #fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalidURL("has an invalid port %q", p)
		}
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return privateDestination(invalidURL("%s is this machine; Herald refuses internal destinations unless private destinations are allowed", host))
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(name); err == nil {
		addrs = []netip.Addr{ip}
	} else if ip, ok := parseLooseIPv4(name); ok {
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
		a = a.Unmap().WithZone("")
		if err := guardian.SafeAddr(a); err != nil {
			if a.String() == name {
				return privateDestination(invalidURL("%s is an internal address; Herald refuses internal destinations unless private destinations are allowed", a))
			}
			// Not which address: that would tell a tenant what the name
			// is on the operator's network.
			return privateDestination(invalidURL("%s resolves to an internal address; Herald refuses internal destinations unless private destinations are allowed", host))
		}
	}
	return nil
}

// parseLooseIPv4 reads the IPv4 forms resolvers accept besides the dotted
// quad (inet_aton: "127.1", "0x7f.0.0.1", "017700000001", "2130706433"), so
// they cannot be used to slip an internal address past the check.
func parseLooseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(vals)
	var ip uint64
	for i, v := range vals[:n-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		ip |= v << (8 * (3 - i))
	}
	last := vals[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	ip |= last
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// invalidURL is a refusal of the URL, located at the URL itself.
func invalidURL(format string, args ...any) *herald.ValidationError {
	return herald.Invalid("", format, args...)
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

// refusedDestination reports whether a request failed because the dialer
// refused the endpoint's address as internal.
func refusedDestination(err error) bool { return errors.Is(err, ssrf.ErrProhibitedIP) }
