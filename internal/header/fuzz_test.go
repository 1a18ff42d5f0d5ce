package header_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/header"
)

// Whatever name and value the rules accept goes on the wire through Go's
// HTTP client and reads back as it was (less the white space HTTP trims
// around a value); a delivery never fails on a header a user was allowed.
func FuzzAcceptedHeaderSurvivesTheWire(f *testing.F) {
	f.Add("X-Acme-Event", "user.created")
	f.Add("x!#$%&'*+-.^_`|~", " t=1,\tv1=ab ")
	f.Add("Zoë", "a\r\nb")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, name, value string) {
		if !header.ValidName(name) || !header.ValidValue(value) || header.Reserved(name, nil) {
			return
		}
		req, err := http.NewRequest(http.MethodPost, "http://example.com/hook", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(name, value)
		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			t.Fatalf("header %q: %q accepted, but the request cannot be written: %v", name, value, err)
		}
		back, err := http.ReadRequest(bufio.NewReader(&wire))
		if err != nil {
			t.Fatalf("header %q: %q accepted, but the request does not read back: %v", name, value, err)
		}
		if got, want := back.Header.Get(name), strings.Trim(value, " \t"); got != want {
			t.Fatalf("header %q: sent %q, read back %q", name, want, got)
		}
	})
}
