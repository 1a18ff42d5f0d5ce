package header_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/header"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"X-Acme-Signature", "x", "a!#$%&'*+-.^_`|~z", "0"} {
		if !header.ValidName(s) {
			t.Errorf("ValidName(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "X Acme", "X:Acme", "Zoë", "X\x00", "(x)", `"x"`, "a/b", "a@b"} {
		if header.ValidName(s) {
			t.Errorf("ValidName(%q) = true, want false", s)
		}
	}
}

func TestValidValue(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "Acme-Webhooks/1.0", "a\tb", "Zoë", "t=1, v1=ab"} {
		if !header.ValidValue(v) {
			t.Errorf("ValidValue(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"a\r\nX-Injected: 1", "a\nb", "\x00", "a\x7f", "\x1f"} {
		if header.ValidValue(v) {
			t.Errorf("ValidValue(%q) = true, want false", v)
		}
	}
}

func TestReserved_OneListForEveryCaller(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"Host", "content-length", "Content-Type", "transfer-encoding", "Connection", "Keep-Alive",
		"Proxy-Connection", "TE", "Trailer", "upgrade",
		"webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE",
	} {
		if !header.Reserved(name, nil) {
			t.Errorf("Reserved(%q, nil) = false, want true", name)
		}
	}
	for _, name := range []string{"User-Agent", "X-Acme-Event", "Authorization", "Webhook-Other"} {
		if header.Reserved(name, nil) {
			t.Errorf("Reserved(%q, nil) = true, want false: a format or endpoint may set it", name)
		}
	}
	sig := []string{"X-Acme-Signature", "X-Acme-Timestamp"}
	if !header.Reserved("x-acme-signature", sig) || !header.Reserved("X-ACME-TIMESTAMP", sig) {
		t.Error("the signature scheme's headers are not reserved")
	}
	if header.Reserved("X-Acme-Event", sig) {
		t.Error("X-Acme-Event is reserved, want only the signature's own headers")
	}
}

func TestTransport_IsTheTransportOnly(t *testing.T) {
	t.Parallel()
	if !header.Transport("upgrade") || !header.Transport("Content-Length") {
		t.Error("Upgrade or Content-Length is not a transport header")
	}
	// A signature may be carried in a header called webhook-signature by a
	// scheme other than Standard Webhooks' own.
	if header.Transport("Webhook-Signature") || header.Transport("X-Acme-Signature") {
		t.Error("a signature header counts as transport")
	}
	for _, name := range []string{"Host", "Te"} {
		if !header.Reserved(name, nil) {
			t.Errorf("transport header %s is not reserved", name)
		}
	}
}

func TestHop_TheConnectionsHeadersNotTheBodys(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Accept-Encoding", "Content-Length", "Host"} {
		if !header.Hop(name) {
			t.Errorf("%s is not a hop header", name)
		}
	}
	for _, name := range []string{"Content-Type", "Webhook-Signature", "X-Acme-Event", "User-Agent"} {
		if header.Hop(name) {
			t.Errorf("%s is a hop header; a relay would drop it", name)
		}
	}
	// A proxy's credentials are one hop's, yet an endpoint may send them:
	// they are not the transport's.
	if header.Transport("Proxy-Authorization") || header.Transport("Accept-Encoding") {
		t.Error("Proxy-Authorization or Accept-Encoding counts as transport")
	}
}
