package header

import (
	"net/http"
	"strings"
)

// connection are the headers of one HTTP connection: the request's framing
// and the hop-by-hop headers. Go's client sets or drops them, so a value put
// there would be lost or would break the request, and a relay does not pass
// them on.
var connection = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Upgrade": true,
}

// hopOnly are the other headers of one hop that a relay drops but that a
// delivery may carry: a proxy's credentials, and Accept-Encoding, which
// the relay's own transport negotiates.
var hopOnly = map[string]bool{
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Accept-Encoding": true,
}

// standardWebhooks are the Standard Webhooks headers. They are Herald's
// whatever a format's scheme, so that a webhook-id or webhook-signature on a
// Herald delivery always means what that standard says.
var standardWebhooks = map[string]bool{
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
}

// ValidName reports whether s is an RFC 9110 token, the grammar of a header
// name.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidValue reports whether v can be sent as a header value as it is: no
// control characters but tab, which would end the header or be refused by
// the client.
func ValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Transport reports whether name is a header of the HTTP transport (the
// connection's, and the body's media type, which Herald sets), which cannot
// carry anything of a user's (a signature, say).
func Transport(name string) bool {
	canon := http.CanonicalHeaderKey(name)
	return connection[canon] || canon == "Content-Type"
}

// Hop reports whether name belongs to one HTTP hop (or to the transport's
// compression), so a relay such as herald listen's --forward-to neither
// passes it on nor shows it as the sender's. Content-Type is the body's and
// passes.
func Hop(name string) bool {
	canon := http.CanonicalHeaderKey(name)
	return connection[canon] || hopOnly[canon]
}

// Reserved reports whether Herald sets the header on a delivery itself, so
// that neither a format's nor an endpoint's headers may: the transport
// headers, the Standard Webhooks headers, and signature, the headers the
// format's signature scheme sets (signature.Config.HeaderNames). Names
// compare without regard to case, as HTTP's do.
func Reserved(name string, signature []string) bool {
	if Transport(name) || standardWebhooks[http.CanonicalHeaderKey(name)] {
		return true
	}
	for _, s := range signature {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}
