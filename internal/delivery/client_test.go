package delivery_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://93.184.216.34/hook", false, true},
		{"http://93.184.216.34:8080/hook?x=1", false, true},
		{"https://[2606:4700::1111]/", false, true},
		{"http://127.0.0.1/", false, false},
		{"http://localhost./", false, false},
		{"http://127.1/", false, false},
		{"http://0x7f000001/", false, false},
		{"http://2130706433/", false, false},
		{"http://017700000001/", false, false},
		{"http://93.184.216.34:0/", false, false},
		{"http://93.184.216.34/a b", false, false},
		{"http://127.0.0.1:9000/", true, true},
		{"http://localhost:3000/", false, false},
		{"http://app.localhost/", false, false},
		{"http://10.0.0.1/", false, false},
		{"http://172.16.5.4/", false, false},
		{"http://192.168.1.1/", false, false},
		{"http://169.254.169.254/latest/meta-data/", false, false},
		{"http://100.64.0.1/", false, false},
		{"http://224.0.0.1/", false, false},
		{"http://0.0.0.0/", false, false},
		{"http://[::1]/", false, false},
		{"http://[fc00::1]/", false, false},
		{"http://[fe80::1]/", false, false},
		{"http://[::ffff:127.0.0.1]/", false, false},
		{"ftp://93.184.216.34/", false, false},
		{"https://user:pass@93.184.216.34/", false, false},
		{"https://93.184.216.34/#frag", false, false},
		{"/relative", true, false},
		{"https://", true, false},
		{"not a url", true, false},
	}
	for _, tt := range tests {
		err := delivery.CheckURL(context.Background(), tt.url, tt.allowPrivate, nil)
		if tt.ok && err != nil {
			t.Errorf("CheckURL(%q, allowPrivate=%v) = %v, want ok", tt.url, tt.allowPrivate, err)
		}
		if !tt.ok {
			var ve *herald.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Location != "" || !errors.Is(err, herald.ErrInvalid) {
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v, want a ValidationError of one field at the URL itself", tt.url, tt.allowPrivate, err)
			}
		}
	}
}

func TestCheckURL_InternalAddressIsErrPrivateDestination(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1/", "http://localhost/"} {
		if err := delivery.CheckURL(context.Background(), u, false, nil); !errors.Is(err, delivery.ErrPrivateDestination) {
			t.Errorf("CheckURL(%q) = %v, want ErrPrivateDestination", u, err)
		}
	}
	if err := delivery.CheckURL(context.Background(), "ftp://x/", false, nil); errors.Is(err, delivery.ErrPrivateDestination) {
		t.Errorf("a bad scheme is not a private destination: %v", err)
	}
}

// A name that resolves to an internal address is refused without saying
// which address: the tenant learns nothing of the operator's network.
func TestCheckURL_NameOfAnInternalAddressIsNotRevealed(t *testing.T) {
	t.Parallel()
	dns := fakeDNS(t, netip.MustParseAddr("10.0.0.7"))
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	err := delivery.CheckURL(context.Background(), "https://hooks.internal.example/x", false, r)
	if !errors.Is(err, delivery.ErrPrivateDestination) {
		t.Fatalf("CheckURL of a name resolving to 10.0.0.7 = %v, want ErrPrivateDestination", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "hooks.internal.example resolves to an internal address") || strings.Contains(msg, "10.0.0.7") {
		t.Errorf("CheckURL's answer %q: want the name and that it is internal, never the address", msg)
	}
}

// fakeDNS answers every A question with addr and every other question with
// no records, on a UDP port of 127.0.0.1, until the test ends.
func fakeDNS(t *testing.T, addr netip.Addr) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			// The question: its name's labels, then type and class.
			end := 12
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4:])
			resp := append([]byte{}, q[:2]...)
			resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // a response, recursion available, 1 question
			resp = append(resp, q[12:end]...)
			if qtype == 1 {
				resp[7] = 1 // one answer
				a := addr.As4()
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, a[:]...)
			}
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}
