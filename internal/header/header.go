package header

import (
	"net/http"
	"strings"
)

// transport are the headers of the HTTP transport itself (the request's
// framing, its connection, the body's media type): Go's client sets or
// drops them, so a value put there would be lost or would break the
// request.
var transport = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Upgrade": true,
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

// Transport reports whether name is a header of the HTTP transport, which
// cannot carry anything of a user's (a signature, say).
func Transport(name string) bool {
	return transport[http.CanonicalHeaderKey(name)]
}

// Reserved reports whether Herald sets the header on a delivery itself, so
// that neither a format's nor an endpoint's headers may: the transport
// headers, the Standard Webhooks headers, and signature, the headers the
// format's signature scheme sets (signature.Config.HeaderNames). Names
// compare without regard to case, as HTTP's do.
func Reserved(name string, signature []string) bool {
	canon := http.CanonicalHeaderKey(name)
	if transport[canon] || standardWebhooks[canon] {
		return true
	}
	for _, s := range signature {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}
