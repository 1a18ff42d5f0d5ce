package api

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"

	"github.com/heraldhq/herald"
)

const maxURLLen = 2048

// urlLoc is where an endpoint's URL is in create and update bodies.
const urlLoc = "body.url"

// checkURL validates an endpoint URL: absolute http or https, a host, no
// user info or fragment, at most 2048 characters, and (unless private
// destinations are allowed) no host that is or resolves to an internal
// address. Errors are at body.url.
func (s *Server) checkURL(ctx context.Context, raw string) error {
	if len(raw) > maxURLLen {
		return herald.Invalid(urlLoc, "must be at most %d characters", maxURLLen)
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return herald.Invalid(urlLoc, "must not contain white space")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return herald.Invalid(urlLoc, "is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return herald.Invalid(urlLoc, "must be an absolute http:// or https:// URL")
	case u.Opaque != "" || u.Host == "":
		return herald.Invalid(urlLoc, "must have a host, as in https://example.com/webhooks")
	case u.User != nil:
		return herald.Invalid(urlLoc, "must not contain a user name or password; put credentials in the endpoint's headers")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return herald.Invalid(urlLoc, "must not have a #fragment")
	}
	host := u.Hostname()
	if host == "" {
		return herald.Invalid(urlLoc, "must have a host, as in https://example.com/webhooks")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return herald.Invalid(urlLoc, "has an invalid port %q", p)
		}
	}
	if s.cfg.AllowPrivateDestinations {
		return nil
	}
	if msg := s.internalHost(host); msg != "" {
		return herald.Invalid(urlLoc, "%s; Herald refuses internal destinations unless private destinations are allowed", msg)
	}
	if s.cfg.CheckURL != nil {
		if err := s.cfg.CheckURL(ctx, raw); err != nil {
			// A ValidationError that already names the field stays as it is.
			var ve *herald.ValidationError
			if errors.As(err, &ve) && len(ve.Fields) > 0 && ve.Fields[0].Location == urlLoc {
				return err
			}
			var f fields
			f.addErr(urlLoc, err)
			return f.err()
		}
	}
	return nil
}

// guardian knows the internal ranges: loopback, private, link-local,
// shared (CGNAT), multicast, unspecified, reserved, and for IPv6 everything
// outside global unicast (ULA fc00::/7, link-local, ::1, ::, multicast).
var guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// internalHost says why host, as written in a URL, is an internal
// destination, or "" when it is not one by its name alone. Names that
// resolve to internal addresses are Config.CheckURL's to find.
func (s *Server) internalHost(host string) string {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Sprintf("%s is this machine", host)
	}
	addr, err := netip.ParseAddr(h)
	if err != nil {
		var ok bool
		if addr, ok = parseLooseIPv4(h); !ok {
			return ""
		}
	}
	addr = addr.Unmap().WithZone("")
	if err := guardian.SafeAddr(addr); err != nil {
		return fmt.Sprintf("%s is an internal address (loopback, private, link-local, shared, multicast or reserved)", addr)
	}
	return ""
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
