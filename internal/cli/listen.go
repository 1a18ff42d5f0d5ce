package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/header"
	"github.com/heraldhq/herald/verify"
)

// Limits of what listen prints and relays.
const (
	maxPrinted      = 64 << 10 // of a request body
	maxRelayed      = 10 << 20 // of the forward target's answer
	forwardTimeout  = 30 * time.Second
	shutdownTimeout = 5 * time.Second
)

// listenFlags are listen's flags.
type listenFlags struct {
	sf        sigFlags
	port      int
	addr      string
	secrets   []string
	path      string
	forwardTo string
	tolerance time.Duration
}

func listenCmd(stdout, stderr io.Writer) *cobra.Command {
	var o listenFlags
	cmd := &cobra.Command{
		Use:   "listen [--port 3000] [--secret SECRET] [--forward-to URL]",
		Short: "Receive webhooks locally: verify and print each delivery",
		Long: `Run a local receiver that verifies every delivery as it arrives and prints
it: the time, the method and path, whether the signature is valid (or why
not), the headers and the JSON body. A verified delivery is answered 200,
another 401. Without a secret (--secret, or $` + SecretEnv + `) deliveries are
printed as unverified and answered 200 (or relayed, with --forward-to).

With --forward-to, each verified delivery is relayed to your own handler
with its original headers and raw body, the handler's answer is printed, and
that answer goes back to the sender. Point a Herald endpoint (started with
--dev, which allows private destinations) or herald send-test at it.`,
		Example: `  herald listen --secret whsec_...
  herald listen --port 4000 --secret whsec_... --forward-to http://127.0.0.1:8000/webhooks
  herald listen --format acme.yaml --secret acme_secret --path /hooks`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.sf.load(cmd.Flags())
			l, src, err := o.listener(cmd.Context(), stdout, cmd.Flags().Changed("tolerance"))
			if err != nil {
				return err
			}
			ln, err := o.listen(stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return l.run(ctx, ln, src, o.tolerance)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

func (o *listenFlags) register(f *pflag.FlagSet) {
	f.IntVar(&o.port, "port", 3000, "port to listen on (0: any free port)")
	f.StringVar(&o.addr, "addr", "127.0.0.1", "host or IP address to listen on")
	f.StringArrayVar(&o.secrets, "secret", nil, "the endpoint's secret (repeatable; default $"+SecretEnv+")")
	f.StringVar(&o.path, "path", "/", `the path to receive on; "/" receives on any path`)
	f.StringVar(&o.forwardTo, "forward-to", "", "relay each verified delivery to this URL and answer with its answer")
	f.DurationVar(&o.tolerance, "tolerance", verify.DefaultTolerance, "how far a signed timestamp may be from now, either way")
	o.sf.register(f)
}

// listener makes the handler the flags describe: its path, its verifier
// (none without a secret) and where it relays to. toleranceGiven is whether
// --tolerance was given, which the body scheme cannot use.
func (o *listenFlags) listener(ctx context.Context, stdout io.Writer, toleranceGiven bool) (*listener, string, error) {
	if !strings.HasPrefix(o.path, "/") {
		return nil, "", fmt.Errorf("--path %q must start with /", o.path)
	}
	cfg, src, err := o.sf.signatureConfig(ctx)
	if err != nil {
		return nil, "", err
	}
	l := &listener{out: stdout, path: o.path, cfg: cfg, now: time.Now}
	if secrets := secretsOrEnv(o.secrets); len(secrets) > 0 {
		var opts []verify.Option
		if cfg.Scheme != verify.Body {
			opts = append(opts, verify.WithTolerance(o.tolerance))
		} else if toleranceGiven {
			return nil, "", errors.New("--tolerance: the body scheme carries no timestamp to check")
		}
		if l.v, err = verify.New(cfg, secrets, opts...); err != nil {
			return nil, "", err
		}
		l.nSecrets = len(secrets)
	}
	if o.forwardTo != "" {
		u, err := url.Parse(o.forwardTo)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("--forward-to %q is not an http or https URL", o.forwardTo)
		}
		l.forward = u.String()
		l.client = &http.Client{
			Timeout:       forwardTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return l, src, nil
}

// listen opens the port, warning on stderr when it is reachable from other
// machines.
func (o *listenFlags) listen(stderr io.Writer) (net.Listener, error) {
	if o.port < 0 || o.port > 65535 {
		return nil, fmt.Errorf("--port %d is not a port", o.port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.addr, strconv.Itoa(o.port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if ip := net.ParseIP(o.addr); o.addr == "" || ip != nil && !ip.IsLoopback() {
		fmt.Fprintf(stderr, "herald listen: warning: listening on %s, reachable from other machines\n", ln.Addr())
	}
	return ln, nil
}

// listener is herald listen's HTTP handler.
type listener struct {
	out      io.Writer
	mu       sync.Mutex // serializes writes to out
	path     string
	cfg      verify.Config
	v        *verify.Verifier // nil: no secret, nothing is verified
	nSecrets int
	forward  string // "" or the URL to relay verified deliveries to
	client   *http.Client
	now      func() time.Time
}

func (l *listener) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format, args...)
}

// run serves on ln until ctx is done, then lets the requests in flight
// finish (for a few seconds at most).
func (l *listener) run(ctx context.Context, ln net.Listener, src string, tolerance time.Duration) error {
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	where := "any path"
	if l.path != "/" {
		where = "path " + l.path + " only"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "herald listen: receiving webhooks on http://%s%s (%s)\n", ln.Addr(), l.path, where)
	if l.v != nil {
		fmt.Fprintf(&b, "  verifying %s signatures (%s) with %s", l.cfg.Scheme, src, plural(l.nSecrets, "secret"))
		if l.v.HasTimestamp() {
			fmt.Fprintf(&b, ", tolerance %v", tolerance)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "  NOT verifying: no --secret and no $%s; deliveries are printed as unverified and answered 200\n", SecretEnv)
	}
	if l.forward != "" {
		fmt.Fprintf(&b, "  forwarding verified deliveries to %s\n", l.forward)
	}
	b.WriteString("  Ctrl-C to stop\n\n")
	l.printf("%s", b.String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	<-errc
	l.printf("herald listen: stopped\n")
	if err != nil {
		return fmt.Errorf("listen: shut down: %w", err)
	}
	return nil
}

// ServeHTTP receives one request.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := l.now()
	head := fmt.Sprintf("── %s  %s %s", at.Format("15:04:05.000"), r.Method, r.URL.RequestURI())
	if l.path != "/" && r.URL.Path != l.path {
		l.printf("%s  ignored: not %s (404)\n\n", head, l.path)
		http.Error(w, "herald listen receives on "+l.path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		l.printf("%s  ignored: webhooks are POST (405)\n\n", head)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "herald listen receives webhooks, which are POST requests", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	switch {
	case err != nil:
		l.printf("%s  could not read the body: %v\n\n", head, err)
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	case len(body) > maxPayload:
		l.printf("%s  refused: body larger than %d bytes (413)\n\n", head, maxPayload)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}

	var b strings.Builder
	verified, verr := false, error(nil)
	switch {
	case l.v == nil:
		fmt.Fprintf(&b, "%s  UNVERIFIED (no secret given)\n", head)
	default:
		if verr = l.v.Verify(body, r.Header); verr == nil {
			verified = true
			fmt.Fprintf(&b, "%s  verified (%s)\n", head, l.cfg.Scheme)
		} else {
			fmt.Fprintf(&b, "%s  NOT VERIFIED: %s\n", head, strings.TrimPrefix(verr.Error(), "verify: "))
		}
	}
	if id, typ := eventSummary(body); id != "" || typ != "" {
		fmt.Fprintf(&b, "   event: %s %s\n", typ, id)
	}
	writeHeaders(&b, "   ", printedHeaders(r.Header))
	writeBody(&b, "   ", body)

	switch {
	case verr != nil:
		fmt.Fprintf(&b, "   → 401 Unauthorized\n\n")
		l.printf("%s", b.String())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "webhook verification failed: %s\n", reasonOf(verr))
	case l.forward != "":
		l.relay(w, r, body, &b)
	default:
		fmt.Fprintf(&b, "   → 200 OK\n\n")
		l.printf("%s", b.String())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if verified {
			io.WriteString(w, "verified by herald listen\n")
		} else {
			io.WriteString(w, "received by herald listen (not verified)\n")
		}
	}
}

// relay sends the delivery on to the forward target with its own headers and
// raw body, prints the answer, and answers the sender with it.
func (l *listener) relay(w http.ResponseWriter, r *http.Request, body []byte, b *strings.Builder) {
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forward, bytes.NewReader(body))
	if err != nil {
		l.relayFailed(w, b, err)
		return
	}
	for k, vs := range r.Header {
		if !header.Hop(k) {
			req.Header[k] = append([]string(nil), vs...)
		}
	}
	started := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		l.relayFailed(w, b, err)
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayed))
	if err != nil {
		l.relayFailed(w, b, fmt.Errorf("read the answer: %w", err))
		return
	}
	fmt.Fprintf(b, "   → forwarded to %s: %s in %v\n", l.forward, resp.Status, time.Since(started).Round(time.Millisecond))
	shown := answer
	if len(shown) > maxShownResponse {
		shown = shown[:maxShownResponse]
	}
	if len(shown) > 0 {
		for _, line := range strings.Split(strings.TrimRight(string(shown), "\n"), "\n") {
			fmt.Fprintf(b, "     %s\n", line)
		}
		if len(answer) > len(shown) {
			fmt.Fprintf(b, "     ... (%d bytes in all)\n", len(answer))
		}
	}
	b.WriteString("\n")
	l.printf("%s", b.String())
	for k, vs := range resp.Header {
		if !header.Hop(k) && k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (l *listener) relayFailed(w http.ResponseWriter, b *strings.Builder, err error) {
	fmt.Fprintf(b, "   → forward to %s failed: %v (answering 502)\n\n", l.forward, err)
	l.printf("%s", b.String())
	http.Error(w, "herald listen could not reach "+l.forward, http.StatusBadGateway)
}

// printedHeaders are the request's headers but those of the transport.
func printedHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		if !header.Hop(k) {
			out[k] = vs
		}
	}
	return out
}

// eventSummary finds the event id and type in a body, under the names
// Herald's formats commonly give them.
func eventSummary(body []byte) (id, typ string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return "", ""
	}
	str := func(names ...string) string {
		for _, n := range names {
			var s string
			if json.Unmarshal(m[n], &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	return str("id", "event_id"), str("type", "event_type")
}

// writeBody writes a body: indented when it is JSON, as text when it is
// UTF-8, and its length otherwise.
func writeBody(b *strings.Builder, prefix string, body []byte) {
	fmt.Fprintf(b, "%sbody (%d bytes):\n", prefix, len(body))
	if len(body) == 0 {
		return
	}
	shown, cut := body, false
	if len(shown) > maxPrinted {
		shown, cut = shown[:maxPrinted], true
	}
	var text string
	var pretty bytes.Buffer
	switch {
	case !cut && json.Indent(&pretty, body, prefix, "  ") == nil:
		text = prefix + pretty.String()
	case utf8.Valid(shown):
		text = prefix + strings.ReplaceAll(strings.TrimRight(string(shown), "\n"), "\n", "\n"+prefix)
	default:
		fmt.Fprintf(b, "%s(not UTF-8 text)\n", prefix)
		return
	}
	b.WriteString(text)
	b.WriteString("\n")
	if cut {
		fmt.Fprintf(b, "%s... (cut at %d bytes)\n", prefix, maxPrinted)
	}
}

// reasonOf is the kind of a verification error, without the detail, for the
// answer to the sender.
func reasonOf(err error) string {
	for _, kind := range []error{verify.ErrMissingHeader, verify.ErrMalformedHeader, verify.ErrBadSignature,
		verify.ErrTimestampTooOld, verify.ErrTimestampTooNew} {
		if errors.Is(err, kind) {
			return kind.Error()
		}
	}
	return "invalid request"
}
