package cli

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"code.dny.dev/ssrf"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/id"
	"github.com/heraldhq/herald/internal/jsonstyle"
	"github.com/heraldhq/herald/internal/naming"
	"github.com/heraldhq/herald/internal/signature"
)

// maxShownResponse bounds the response body send-test prints, as Herald's
// attempt log keeps 4 KiB.
const maxShownResponse = 4 << 10

// sendTestFlags are send-test's flags.
type sendTestFlags struct {
	sf           sigFlags
	target       string
	secret       string
	typ          string
	dataFile     string
	allowPrivate bool
	timeout      time.Duration
}

func sendTestCmd(stdout io.Writer) *cobra.Command {
	var o sendTestFlags
	cmd := &cobra.Command{
		Use:   "send-test --url URL [--secret SECRET] [--format NAME|FILE] [--type TYPE] [--data FILE]",
		Short: "Send one signed test delivery to a receiver, exactly as Herald would",
		Long: `Send one delivery to a receiver: the event rendered with the format and
signed exactly as the Herald server does, then print the request sent and
the receiver's answer. Exits 0 when the receiver answers 2xx, 1 otherwise.

The secret is --secret, else $` + SecretEnv + `, else a new one, printed so that
the receiver can be given it. Internal addresses (loopback, private ranges)
are refused unless --allow-private-destinations, as the server refuses them.`,
		Example: `  herald send-test --url https://example.com/webhooks --secret whsec_...
  herald send-test --url http://127.0.0.1:3000/webhooks --allow-private-destinations \
    --format formats.yaml#acme-v1 --type user.created --data user.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.sf.load(cmd.Flags())
			return o.run(cmd.Context(), cmd.InOrStdin(), stdout)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

func (o *sendTestFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.target, "url", "", "the receiver's URL")
	f.StringVar(&o.secret, "secret", "", "the endpoint secret to sign with (default $"+SecretEnv+", else a new one, printed)")
	f.StringVar(&o.typ, "type", "", "event type (default the format's test event type, webhook.test)")
	f.StringVar(&o.dataFile, "data", "", "file holding the event's data, a JSON object; - for standard input (default a small test object)")
	f.BoolVar(&o.allowPrivate, "allow-private-destinations", false, "allow loopback, private and other internal addresses")
	f.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the answer (default the format's timeout)")
	o.sf.register(f)
}

// run sends the delivery the flags describe and prints the exchange.
func (o *sendTestFlags) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	if err := o.checkTarget(ctx); err != nil {
		return err
	}
	f, src, err := o.sf.fullFormat(ctx)
	if err != nil {
		return err
	}
	secret, secretNote, err := o.signingSecret(f)
	if err != nil {
		return err
	}
	typ := cmp.Or(o.typ, f.TestEventType())
	if !naming.EventType(typ) {
		return fmt.Errorf("--type %q: want an event type name such as user.created", typ)
	}
	var data []byte
	if o.dataFile != "" {
		if data, err = readPayload(stdin, o.dataFile); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	}
	out, err := buildDelivery(f, []string{secret}, typ, data, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "format:   %s (%s)\n", f.Name, src)
	if secretNote != "" {
		fmt.Fprintf(stdout, "secret:   %s (%s)\n", secret, secretNote)
	}
	fmt.Fprintf(stdout, "event:    %s %s (delivery %s, endpoint %s)\n\n", typ, out.EventID, out.DeliveryID, out.EndpointID)
	client := delivery.NewHTTPClient(delivery.ClientConfig{AllowPrivate: o.allowPrivate})
	res, err := out.send(ctx, client, o.target, cmp.Or(o.timeout, f.Timeout()))
	printRequest(stdout, o.target, out)
	if err != nil {
		return err
	}
	printResponse(stdout, res)
	if res.code < 200 || res.code > 299 {
		return fmt.Errorf("the receiver answered %s", res.status)
	}
	return nil
}

// checkTarget refuses a missing --url, and one the server would refuse.
func (o *sendTestFlags) checkTarget(ctx context.Context) error {
	if o.target == "" {
		return errors.New("--url is required")
	}
	if err := delivery.CheckURL(ctx, o.target, o.allowPrivate, nil); err != nil {
		if errors.Is(err, delivery.ErrPrivateDestination) {
			return fmt.Errorf("--url %s: %v, which the server refuses too; give --allow-private-destinations to send to it", o.target, delivery.ErrPrivateDestination)
		}
		return fmt.Errorf("--url: %w", err)
	}
	return nil
}

// signingSecret is --secret, else $SecretEnv, else a generated one, and a
// note of where it came from when that was not --secret.
func (o *sendTestFlags) signingSecret(f *format.Format) (secret, note string, err error) {
	given := o.secret
	if given == "" {
		if given = os.Getenv(SecretEnv); given != "" {
			note = "from $" + SecretEnv
		}
	}
	if secret, err = signature.SecretFor(f.Signature().SchemeName(), given); err != nil {
		return "", "", fmt.Errorf("--secret: %w", err)
	}
	if given == "" {
		note = "generated: give it to the receiver"
	}
	return secret, note, nil
}

// outgoing is one delivery ready to send: what Herald's delivery engine
// would put on the wire for its first attempt.
type outgoing struct {
	EventID    string
	DeliveryID string
	EndpointID string
	Body       []byte
	Header     http.Header
}

// buildDelivery makes an event of type typ with data (nil for the test
// event's data), renders it with f and signs it with secrets at now, as the
// delivery engine does.
func buildDelivery(f *format.Format, secrets []string, typ string, data []byte, now time.Time) (*outgoing, error) {
	out := &outgoing{
		EventID:    id.NewAt(id.Event, now),
		DeliveryID: id.NewAt(id.Delivery, now),
		EndpointID: id.NewAt(id.Endpoint, now),
	}
	if data == nil {
		data = fmt.Appendf(nil, `{"endpoint_id":%q,"message":"This is a test event from herald send-test. If you can read this, your endpoint receives webhooks."}`, out.EndpointID)
	}
	v, err := jsonstyle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if v.Kind != jsonstyle.Object {
		return nil, errors.New("--data: must be a JSON object, as an event's data is")
	}
	ev := &format.Event{
		TenantID: "herald-cli", ID: out.EventID, Type: typ, Data: jsonstyle.Marshal(v, jsonstyle.Compact),
		TraceID: id.NewTraceID(), CreatedAt: now,
	}
	in, err := format.NewInput(ev, out.DeliveryID, out.EndpointID)
	if err != nil {
		return nil, err
	}
	in.Timestamp, in.Attempt = now, 1
	msg, err := f.Render(in, &format.RenderParams{Secrets: secrets})
	if err != nil {
		return nil, err
	}
	out.Body, out.Header = msg.Body, msg.Header
	return out, nil
}

// response is what the receiver answered.
type response struct {
	code     int
	status   string
	header   http.Header
	body     []byte
	more     bool // the body was longer than what was kept
	duration time.Duration
}

// send POSTs the delivery to target and reads at most maxShownResponse
// bytes of the answer.
func (o *outgoing) send(ctx context.Context, client *http.Client, target string, timeout time.Duration) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(o.Body))
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	req.Header = o.Header.Clone()
	started := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer within %v", timeout)
		}
		if errors.Is(err, ssrf.ErrProhibitedIP) {
			return nil, fmt.Errorf("send: %s resolves to %v; give --allow-private-destinations to send to it: %w", target, delivery.ErrPrivateDestination, err)
		}
		return nil, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxShownResponse+1))
	res := &response{code: resp.StatusCode, status: resp.Status, header: resp.Header, duration: time.Since(started)}
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if len(body) > maxShownResponse {
		body, res.more = body[:maxShownResponse], true
	}
	res.body = body
	return res, nil
}

func printRequest(w io.Writer, target string, o *outgoing) {
	var b strings.Builder
	fmt.Fprintf(&b, "> POST %s\n", target)
	writeHeaders(&b, "> ", o.Header)
	fmt.Fprintf(&b, ">\n%s\n\n", o.Body)
	_, _ = io.WriteString(w, b.String())
}

func printResponse(w io.Writer, r *response) {
	var b strings.Builder
	fmt.Fprintf(&b, "< %s (%v)\n", r.status, r.duration.Round(time.Millisecond))
	writeHeaders(&b, "< ", r.header)
	fmt.Fprintf(&b, "<\n%s", r.body)
	if r.more {
		fmt.Fprintf(&b, "\n... (cut at %d bytes)", maxShownResponse)
	}
	if len(r.body) > 0 && !bytes.HasSuffix(r.body, []byte("\n")) {
		b.WriteString("\n")
	}
	_, _ = io.WriteString(w, b.String())
}

// writeHeaders writes headers sorted by name, one value a line.
func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}
