package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/verify"
)

// maxPayload bounds what verify reads; Herald's bodies are far smaller.
const maxPayload = verify.DefaultMaxBodySize

func verifyCmd(stdout io.Writer) *cobra.Command {
	var (
		sf        sigFlags
		payload   string
		headers   []string
		sig       string
		timestamp string
		msgID     string
		secrets   []string
		tolerance time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify --payload FILE|- --secret SECRET (--header 'Name: value'... | --signature VALUE ...)",
		Short: "Check a webhook's signature as a receiver would",
		Long: `Check a captured webhook request: its raw body and its headers, against one or
more secrets, with the verify package that receivers use. Prints what was
checked and exits 0 when the signature is valid, 1 with the reason when not.

The headers come from --header 'Name: value' (repeat it), or from the
shorthands --signature (the scheme's signature header), --timestamp (its
timestamp header, where it has one) and --id (webhook-id, standard-webhooks
only). The scheme is standard-webhooks unless --format or --scheme says
otherwise. Without --secret the secret is read from $` + SecretEnv + `.`,
		Example: `  herald verify --payload body.json --secret whsec_... \
    --id evt_01JH... --timestamp 1767323045 --signature 'v1,KoTW1Jnf...'
  herald verify --payload - --secret my_secret --scheme timestamped \
    --signature-header X-Acme-Signature --header 'X-Acme-Signature: t=1767323045,v1=3a14...' < body.json
  herald verify --payload body.json --format acme-v1 --server http://127.0.0.1:8080 --key $KEY \
    --header 'X-Acme-Signature: t=1767323045,v1=3a14...' --secret my_secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sf.load(cmd.Flags())
			if payload == "" {
				return errors.New("--payload FILE (or - for standard input) is required")
			}
			body, err := readPayload(cmd.InOrStdin(), payload)
			if err != nil {
				return err
			}
			cfg, src, err := sf.signatureConfig(cmd.Context())
			if err != nil {
				return err
			}
			h, err := parseHeaderFlags(headers)
			if err != nil {
				return err
			}
			if err := applyShorthands(h, cfg, sig, timestamp, msgID); err != nil {
				return err
			}
			secrets := secretsOrEnv(secrets)
			if len(secrets) == 0 {
				return fmt.Errorf("no secret: give --secret (repeat it for several) or set $%s", SecretEnv)
			}
			var opts []verify.Option
			if cfg.Scheme != verify.Body {
				opts = append(opts, verify.WithTolerance(tolerance))
			} else if cmd.Flags().Changed("tolerance") {
				return errors.New("--tolerance: the body scheme carries no timestamp to check")
			}
			v, err := verify.New(cfg, secrets, opts...)
			if err != nil {
				return err
			}
			return runVerify(stdout, v, cfg, src, body, h, len(secrets), tolerance, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&payload, "payload", "", "file holding the raw request body, exactly as received; - for standard input")
	f.StringArrayVar(&headers, "header", nil, "a request header, 'Name: value' (repeatable)")
	f.StringVar(&sig, "signature", "", "shorthand: the value of the scheme's signature header")
	f.StringVar(&timestamp, "timestamp", "", "shorthand: the value of the scheme's timestamp header (standard-webhooks, body-then-timestamp)")
	f.StringVar(&msgID, "id", "", "shorthand: the value of webhook-id (standard-webhooks)")
	f.StringArrayVar(&secrets, "secret", nil, "the endpoint's secret (repeatable: any one may match; default $"+SecretEnv+")")
	f.DurationVar(&tolerance, "tolerance", verify.DefaultTolerance, "how far the signed timestamp may be from now, either way")
	sf.register(f)
	return cmd
}

// readPayload reads the body exactly: a trailing newline is part of it.
func readPayload(stdin io.Reader, name string) ([]byte, error) {
	var (
		r    io.Reader
		what = name
	)
	if name == "-" {
		r, what = stdin, "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--payload: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("--payload: read %s: %w", what, err)
	}
	if len(b) > maxPayload {
		return nil, fmt.Errorf("--payload: %s is larger than %d bytes", what, maxPayload)
	}
	return b, nil
}

// applyShorthands sets the headers --signature, --timestamp and --id stand
// for under the scheme; a header also given with --header is an error, since
// the two could disagree.
func applyShorthands(h http.Header, cfg verify.Config, sig, ts, id string) error {
	set := func(flag, name, value string) error {
		if value == "" {
			return nil
		}
		if name == "" {
			return fmt.Errorf("%s: the %s scheme has no such header", flag, cfg.Scheme)
		}
		if h.Get(name) != "" {
			return fmt.Errorf("%s and --header both give %s; give one", flag, name)
		}
		h.Set(name, value)
		return nil
	}
	var sigName, tsName, idName string
	switch cfg.Scheme {
	case verify.StandardWebhooks:
		sigName, tsName, idName = verify.HeaderWebhookSignature, verify.HeaderWebhookTimestamp, verify.HeaderWebhookID
	case verify.BodyThenTimestamp:
		sigName, tsName = cfg.Header, cfg.TimestampHeader
	default:
		sigName = cfg.Header
	}
	if ts != "" && tsName == "" && cfg.Scheme == verify.Timestamped {
		return errors.New("--timestamp: the timestamped scheme carries its timestamp inside the signature header (t=...); give the whole value with --signature")
	}
	if err := set("--signature", sigName, sig); err != nil {
		return err
	}
	if err := set("--timestamp", tsName, ts); err != nil {
		return err
	}
	return set("--id", idName, id)
}

// runVerify checks the request and prints what it checked.
func runVerify(w io.Writer, v *verify.Verifier, cfg verify.Config, src string, body []byte, h http.Header, nSecrets int, tolerance time.Duration, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scheme:          %s (%s)\n", cfg.Scheme, src)
	fmt.Fprintf(&b, "headers used:\n")
	for _, name := range headerNames(cfg) {
		value := headerValue(h, name)
		switch {
		case value == "":
			fmt.Fprintf(&b, "  %s: (missing)\n", name)
		case isTimestampHeader(cfg, name):
			fmt.Fprintf(&b, "  %s: %s%s\n", name, value, describeUnix(value, now))
		default:
			fmt.Fprintf(&b, "  %s: %s\n", name, value)
		}
	}
	if cfg.Scheme == verify.Timestamped {
		if ts := timestampedT(headerValue(h, cfg.Header)); ts != "" {
			fmt.Fprintf(&b, "  (t=%s%s)\n", ts, describeUnix(ts, now))
		}
	}
	fmt.Fprintf(&b, "body:            %d bytes\n", len(body))
	fmt.Fprintf(&b, "signed content:  %s\n", signedContent(cfg, h, body))
	fmt.Fprintf(&b, "secrets:         %d\n", nSecrets)
	if v.HasTimestamp() {
		fmt.Fprintf(&b, "tolerance:       %v\n", tolerance)
	}
	err := v.Verify(body, h)
	if err == nil {
		if v.HasTimestamp() {
			fmt.Fprintf(&b, "result:          OK: the signature matches and the timestamp is within %v\n", tolerance)
		} else {
			fmt.Fprintf(&b, "result:          OK: the signature matches (this scheme has no timestamp: de-duplicate by event id to refuse replays)\n")
		}
		_, werr := io.WriteString(w, b.String())
		return werr
	}
	fmt.Fprintf(&b, "result:          FAILED: %v\n", strings.TrimPrefix(err.Error(), "verify: "))
	for _, hint := range verifyHints(err, cfg, body, h) {
		fmt.Fprintf(&b, "hint:            %s\n", hint)
	}
	if _, werr := io.WriteString(w, b.String()); werr != nil {
		return werr
	}
	return fmt.Errorf("verification failed: %w", err)
}

// verifyHints says what most often causes err.
func verifyHints(err error, cfg verify.Config, body []byte, h http.Header) []string {
	var hints []string
	switch {
	case errors.Is(err, verify.ErrBadSignature):
		if bytes.HasSuffix(body, []byte("\n")) {
			hints = append(hints, "the payload ends with a newline, and Herald's bodies do not: was one added when it was saved? Sign the exact bytes received")
		}
		if cfg.Scheme == verify.StandardWebhooks {
			hints = append(hints, "for standard-webhooks the key is the base64 after whsec_, decoded; check that this is the endpoint's current secret")
		} else {
			hints = append(hints, "for the "+cfg.Scheme+" scheme the key is the secret's own bytes, whsec_ prefix included; check that this is the endpoint's current secret")
		}
		hints = append(hints, "the body must be the raw bytes received: a body parsed and serialized again differs")
	case errors.Is(err, verify.ErrTimestampTooOld):
		hints = append(hints, "the signature matches: the request is authentic but older than the tolerance (a replay, or a captured request: give a larger --tolerance to check an old capture)")
	case errors.Is(err, verify.ErrTimestampTooNew):
		hints = append(hints, "the signature matches, but the timestamp is ahead of this clock by more than the tolerance: check the clocks")
	case errors.Is(err, verify.ErrMissingHeader):
		names := headerNames(cfg)
		hints = append(hints, "the "+cfg.Scheme+" scheme needs "+strings.Join(names, ", ")+": give them with --header 'Name: value' or the shorthands")
		if cfg.Scheme == verify.StandardWebhooks && headerValue(h, verify.HeaderWebhookSignature) == "" && anyCustomSignature(h) {
			hints = append(hints, "the request looks signed with another scheme: give the format with --format or --scheme")
		}
	}
	return hints
}

// anyCustomSignature reports whether some header's name mentions a
// signature.
func anyCustomSignature(h http.Header) bool {
	for k := range h {
		if strings.Contains(strings.ToLower(k), "signature") {
			return true
		}
	}
	return false
}

func isTimestampHeader(cfg verify.Config, name string) bool {
	return cfg.Scheme == verify.StandardWebhooks && name == verify.HeaderWebhookTimestamp ||
		cfg.Scheme == verify.BodyThenTimestamp && name == cfg.TimestampHeader
}

// headerValue is a header's first value, its name matched without regard to
// case, trimmed as verify trims it.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return strings.TrimSpace(v)
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
	}
	return ""
}

// describeUnix writes a Unix timestamp as a time and an age.
func describeUnix(s string, now time.Time) string {
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 {
		return " (not Unix seconds)"
	}
	t := time.Unix(sec, 0)
	d := now.Sub(t).Truncate(time.Second)
	if d >= 0 {
		return fmt.Sprintf(" (%s, %v ago)", t.UTC().Format(time.RFC3339), d)
	}
	return fmt.Sprintf(" (%s, %v ahead)", t.UTC().Format(time.RFC3339), -d)
}

// timestampedT is the t= of a timestamped signature header.
func timestampedT(value string) string {
	for _, item := range strings.Split(value, ",") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(item), "t="); ok {
			return t
		}
	}
	return ""
}

// signedContent describes what the scheme signs for this request and its
// length.
func signedContent(cfg verify.Config, h http.Header, body []byte) string {
	n := len(body)
	switch cfg.Scheme {
	case verify.StandardWebhooks:
		id, ts := headerValue(h, verify.HeaderWebhookID), headerValue(h, verify.HeaderWebhookTimestamp)
		return fmt.Sprintf("%d bytes: webhook-id (%d) \".\" webhook-timestamp (%d) \".\" body (%d)", len(id)+1+len(ts)+1+n, len(id), len(ts), n)
	case verify.Timestamped:
		ts := timestampedT(headerValue(h, cfg.Header))
		return fmt.Sprintf("%d bytes: t (%d) \".\" body (%d)", len(ts)+1+n, len(ts), n)
	case verify.BodyThenTimestamp:
		ts := headerValue(h, cfg.TimestampHeader)
		return fmt.Sprintf("%d bytes: body (%d) \".\" %s (%d)", n+1+len(ts), n, cfg.TimestampHeader, len(ts))
	}
	return fmt.Sprintf("%d bytes: the body alone", n)
}
