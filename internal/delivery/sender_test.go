package delivery_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// A 2xx whose body keeps coming ends the attempt soon after the status
// line: the status is the answer and the body what came, at most the kept
// 4 KiB. The receiver never finishes its body (it holds the connection
// until the test ends), and the format's timeout is two minutes, so before
// the body was read under a short deadline of its own the attempt waited
// out the whole timeout and failed it.
func TestEngine_DrippingAnswerEndsAtTheStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, first, want string
	}{
		{"short", "accepted, still writing...", "accepted, still writing..."},
		{"longer than kept", strings.Repeat("x", 10<<10), strings.Repeat("x", 4<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, dbtest.SQLite(t))
			b.putFormat(t, `{"name":"patient","timeout":"2m"}`)
			release := make(chan struct{})
			rc := newReceiver(t)
			rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, tc.first)
				w.(http.Flusher).Flush()
				select { // and the rest never comes
				case <-release:
				case <-r.Context().Done():
				}
			})
			defer close(release) // before rc closes: Close waits for the handler
			ep := b.endpoint(t, rc.URL, []string{"*"}, func(e *store.Endpoint) { e.Format = "patient" })
			b.run(t) // a test send takes its place among the engine's attempts

			res, err := b.engine.Test(context.Background(), b.tenant, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != store.StatusDelivered || res.ResponseCode != 200 || res.ResponseBody != tc.want || res.Error != "" {
				t.Errorf("test send = %s %d, error %q, body of %d bytes starting %.30q; want delivered 200, no error, body %.30q (%d bytes)",
					res.Status, res.ResponseCode, res.Error, len(res.ResponseBody), res.ResponseBody, tc.want, len(tc.want))
			}
			// Generous: the body's deadline is a second, the timeout 2m.
			if res.DurationMS >= 60_000 {
				t.Errorf("attempt took %d ms, want it to end long before the 2m timeout", res.DurationMS)
			}
		})
	}
}

// rawReceiver is delivery.RawServer at the URL a delivery posts to.
func rawReceiver(t *testing.T, serve func(c *net.TCPConn, r *http.Request)) string {
	t.Helper()
	return "http://" + delivery.RawServer(t, serve) + "/hook"
}

// An attempt's error says what the receiver did in the words of
// classify, naming no address: last_error used to read "read tcp
// 127.0.0.1:44736->127.0.0.1:9000: read: connection reset by peer",
// Herald's own address first, and a tenant was shown it. The error's own
// text is in the attempt's log line, for the operator.
func TestEngine_ConnectionErrorsNameNoAddress(t *testing.T) {
	t.Parallel()
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()                                   // with a certificate no one trusts
	t.Cleanup(tlsSrv.Close)

	for _, tc := range []struct {
		name string
		// url starts a receiver and returns its URL and the address it
		// saw the attempt come from (Herald's end), when it saw one.
		url    func(t *testing.T) (url string, from <-chan string)
		want   string // the stored error
		detail string // what the log line's error_detail holds: the error's own text
	}{
		{"reset after the request", func(t *testing.T) (string, <-chan string) {
			from := make(chan string, 1)
			return rawReceiver(t, func(c *net.TCPConn, _ *http.Request) {
				from <- c.RemoteAddr().String()
				_ = c.SetLinger(0) // close with a RST
			}), from
		}, "connection reset", "%s: read: connection reset by peer"},
		{"closed without an answer", func(t *testing.T) (string, <-chan string) {
			from := make(chan string, 1)
			return rawReceiver(t, func(c *net.TCPConn, _ *http.Request) {
				from <- c.RemoteAddr().String()
			}), from
		}, "connection closed without an answer", `Post "http://%s/hook": EOF`},
		{"answer cut short", func(t *testing.T) (string, <-chan string) {
			from := make(chan string, 1)
			return rawReceiver(t, func(c *net.TCPConn, _ *http.Request) {
				from <- c.RemoteAddr().String()
				_, _ = io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\nonly this")
			}), from
		}, "reading response: connection closed before the answer was complete", "unexpected EOF"},
		{"connection refused", func(*testing.T) (string, <-chan string) {
			return "http://" + closedPort + "/hook", nil
		}, "connection refused", "dial tcp %s: connect: connection refused"},
		{"untrusted certificate", func(*testing.T) (string, <-chan string) {
			return tlsSrv.URL, nil
		}, "tls: certificate signed by unknown authority", `Post "https://%s": tls: failed to verify certificate: x509: certificate signed by unknown authority`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			b := setup(t, dbtest.SQLite(t), func(cfg *delivery.Config) {
				cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			b.putFormat(t, `{"name":"once","retry":{"schedule":[]}}`)
			url, from := tc.url(t)
			ep := b.endpoint(t, url, []string{"*"}, func(e *store.Endpoint) { e.Format = "once" })
			b.run(t) // a test send takes its place among the engine's attempts

			res, err := b.engine.Test(context.Background(), b.tenant, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != tc.want {
				t.Errorf("error = %q, want %q", res.Error, tc.want)
			}
			receiver := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"), "/hook")
			if strings.Contains(res.Error, "127.0.0.1") || strings.Contains(res.Error, receiver) {
				t.Errorf("error %q names an address", res.Error)
			}
			var local string
			if from != nil {
				local = <-from
				_, port, _ := net.SplitHostPort(local)
				if strings.Contains(res.Error, ":"+port) {
					t.Errorf("error %q names Herald's own socket %s", res.Error, local)
				}
			}
			if d := b.get(t, res.DeliveryID); d.LastError != res.Error {
				t.Errorf("last_error = %q, want the attempt's %q", d.LastError, res.Error)
			}
			lines := logs.lines(t, "attempt")
			if len(lines) != 1 {
				t.Fatalf("%d attempt lines, want 1:\n%s", len(lines), logs.String())
			}
			detail, _ := lines[0]["error_detail"].(string)
			if want := strings.ReplaceAll(tc.detail, "%s", receiver); lines[0]["error"] != tc.want || !strings.Contains(detail, want) {
				t.Errorf("attempt line: error %q, error_detail %q; want %q and the error's own text, with %q",
					lines[0]["error"], detail, tc.want, want)
			}
		})
	}
}

// The client keeps as many idle connections per host as the engine has
// workers, so that a burst to one host does not end with connections
// closed that the next burst must dial again.
func TestNewHTTPClient_PoolPerHostFitsTheWorkers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ workers, want int }{{0, delivery.DefaultWorkers}, {8, 8}, {512, 512}} {
		tr := delivery.NewHTTPClient(delivery.ClientConfig{Workers: tc.workers}).Transport.(*http.Transport)
		if tr.MaxIdleConnsPerHost != tc.want || tr.MaxIdleConns < tc.want || tr.MaxConnsPerHost != 0 {
			t.Errorf("Workers %d: %d idle per host, %d idle in all, %d per host at most; want %d, at least as many, no cap",
				tc.workers, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.MaxConnsPerHost, tc.want)
		}
	}
}
