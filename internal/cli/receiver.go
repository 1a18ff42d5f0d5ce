package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/verify"
)

// SecretEnv is the environment variable the receiver tools and the starters
// read the webhook secret from when no --secret is given.
const SecretEnv = "HERALD_WEBHOOK_SECRET"

// receiverCmds are the tools for people who receive webhooks: verify,
// send-test, listen and init.
func receiverCmds(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{
		verifyCmd(stdout),
		sendTestCmd(stdout),
		listenCmd(stdout, stderr),
		initCmd(stdout),
	}
}

// sigFlags are the flags that say how deliveries are signed: a format (a
// built-in name, a file, or a name on a Herald server), or a scheme with its
// header names.
type sigFlags struct {
	format    string
	server    string
	key       string
	scheme    string
	header    string
	tsHeader  string
	prefix    string
	encoding  string
	prefixSet bool // --prefix given, even as ""
}

func (s *sigFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.format, "format", "", "format: a built-in name (standard-webhooks), a JSON or YAML format file (FILE or FILE#name when it holds several), or with --server a format name on that server")
	fs.StringVar(&s.server, "server", "", "Herald server URL to read --format NAME from (default $HERALD_SERVER)")
	fs.StringVar(&s.key, "key", "", "API key for --server (default $HERALD_KEY)")
	fs.StringVar(&s.scheme, "scheme", "", "signature scheme instead of a format: standard-webhooks, timestamped, body or body-then-timestamp")
	fs.StringVar(&s.header, "signature-header", "", "with --scheme: the signature header's name (every scheme but standard-webhooks)")
	fs.StringVar(&s.tsHeader, "timestamp-header", "", "with --scheme body-then-timestamp: the timestamp header's name")
	fs.StringVar(&s.prefix, "prefix", "", `with --scheme body: what precedes the signature (default "sha256=")`)
	fs.StringVar(&s.encoding, "encoding", "", "with --scheme body: hex (default) or base64")
}

// load reads what the flags cannot: the --prefix given or not, and the
// server and key from the environment.
func (s *sigFlags) load(fs *pflag.FlagSet) {
	s.prefixSet = fs.Changed("prefix")
	if s.server == "" {
		s.server = os.Getenv("HERALD_SERVER")
	}
	if s.key == "" {
		s.key = os.Getenv("HERALD_KEY")
	}
}

// schemeGiven reports whether any of the --scheme flags was used.
func (s *sigFlags) schemeGiven() bool {
	return s.scheme != "" || s.header != "" || s.tsHeader != "" || s.prefixSet || s.encoding != ""
}

// config is the signature config the --scheme flags describe.
func (s *sigFlags) config() signature.Config {
	c := signature.Config{Scheme: s.scheme, Header: s.header, TimestampHeader: s.tsHeader, Encoding: s.encoding}
	if c.Scheme == "" {
		c.Scheme = signature.StandardWebhooks
	}
	if s.prefixSet {
		p := s.prefix
		c.Prefix = &p
	}
	return c
}

// signatureConfig resolves the flags to the signature object receivers
// check, and says where it came from. Without any flag it is the default
// standard-webhooks.
func (s *sigFlags) signatureConfig(ctx context.Context) (verify.Config, string, error) {
	if s.format != "" && s.schemeGiven() {
		return verify.Config{}, "", errors.New("give --format or --scheme (with its header flags), not both")
	}
	if s.format != "" && s.server != "" && !isLocalFormat(s.format) {
		var obj struct {
			Signature verify.Config `json:"signature"`
		}
		if err := fetchFormat(ctx, s.server, s.key, s.format, &obj); err != nil {
			return verify.Config{}, "", err
		}
		if obj.Signature.Scheme == "" {
			obj.Signature.Scheme = verify.StandardWebhooks
		}
		return obj.Signature, fmt.Sprintf("format %s from %s", s.format, s.server), nil
	}
	f, src, err := s.localFormat()
	if err != nil {
		return verify.Config{}, "", err
	}
	return toVerifyConfig(f.Signature()), src, nil
}

// fullFormat resolves the flags to a whole format, for rendering deliveries:
// --format (built in, a file, or from --server), or the default format's
// body and headers with the signature the --scheme flags describe.
func (s *sigFlags) fullFormat(ctx context.Context) (*format.Format, string, error) {
	if s.format != "" && s.schemeGiven() {
		return nil, "", errors.New("give --format or --scheme (with its header flags), not both")
	}
	if s.format != "" && s.server != "" && !isLocalFormat(s.format) {
		var def json.RawMessage
		if err := fetchFormat(ctx, s.server, s.key, s.format, &def); err != nil {
			return nil, "", err
		}
		f, err := format.Parse(def)
		if err != nil {
			return nil, "", fmt.Errorf("format %s from %s: %w", s.format, s.server, err)
		}
		return f, fmt.Sprintf("format %s from %s", s.format, s.server), nil
	}
	return s.localFormat()
}

// localFormat is fullFormat without a server.
func (s *sigFlags) localFormat() (*format.Format, string, error) {
	switch {
	case s.schemeGiven():
		cfg := s.config()
		f, err := format.Compile(&format.Definition{Name: "cli", Signature: cfg})
		if err != nil {
			return nil, "", flagErr(err)
		}
		return f, "--scheme " + cfg.SchemeName(), nil
	case s.format == "":
		f, _ := format.Builtin(format.StandardWebhooksName)
		return f, "the default format " + f.Name, nil
	}
	if f, ok := format.Builtin(s.format); ok {
		return f, "the built-in format " + f.Name, nil
	}
	f, err := formatFile(s.format)
	if err != nil {
		return nil, "", err
	}
	return f, fmt.Sprintf("format %s from %s", f.Name, s.format), nil
}

// isLocalFormat reports whether --format names a built-in format or a file
// (FILE or FILE#name) rather than a format on a server.
func isLocalFormat(arg string) bool {
	if _, ok := format.Builtin(arg); ok {
		return true
	}
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	p, _, ok := strings.Cut(arg, "#")
	if !ok {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

// formatFile loads the one format of a file, or with "FILE#name" the named
// one of several.
func formatFile(arg string) (*format.Format, error) {
	path, name := arg, ""
	if _, err := os.Stat(path); err != nil {
		if p, n, ok := strings.Cut(arg, "#"); ok {
			path, name = p, n
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--format %s: not a built-in format (standard-webhooks) nor a readable file (give --server to read a format from a Herald server): %w", arg, err)
	}
	fs, err := format.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if name != "" {
		for _, f := range fs {
			if f.Name == name {
				return f, nil
			}
		}
		return nil, fmt.Errorf("--format %s: %s has no format named %q (it has %s)", arg, path, name, formatNames(fs))
	}
	if len(fs) != 1 {
		return nil, fmt.Errorf("--format %s: the file holds %d formats (%s); say which with %s#NAME", arg, len(fs), formatNames(fs), path)
	}
	return fs[0], nil
}

func formatNames(fs []*format.Format) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// fetchFormat GETs /api/v1/formats/{name} from a Herald server and decodes
// the answer into out.
func fetchFormat(ctx context.Context, server, key, name string, out any) error {
	base, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--server %q is not an http or https URL", server)
	}
	if key == "" {
		return errors.New("--server needs an API key: --key or $HERALD_KEY")
	}
	u := base.JoinPath("api", "v1", "formats", name)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("get format %s: %w", name, err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get format %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("get format %s: read answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		var problem struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(body, &problem)
		if problem.Detail == "" {
			problem.Detail = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("get format %s from %s: %s: %s", name, u, resp.Status, problem.Detail)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("get format %s from %s: the answer is not a format object: %w", name, u, err)
	}
	return nil
}

// toVerifyConfig converts Herald's signature object to the verify
// package's, which has the same fields.
func toVerifyConfig(c *signature.Config) verify.Config {
	return verify.Config{
		Scheme:          c.SchemeName(),
		Header:          c.Header,
		TimestampHeader: c.TimestampHeader,
		Prefix:          c.Prefix,
		Encoding:        c.Encoding,
	}
}

// flagErr rewrites a format validation error's locations from the format
// object's to the flags that set them.
func flagErr(err error) error {
	msg := err.Error()
	for loc, flag := range map[string]string{
		"signature.timestamp_header": "--timestamp-header",
		"signature.header":           "--signature-header",
		"signature.scheme":           "--scheme",
		"signature.prefix":           "--prefix",
		"signature.encoding":         "--encoding",
	} {
		if strings.HasPrefix(msg, loc+":") {
			return fmt.Errorf("%s:%s", flag, strings.TrimPrefix(msg, loc+":"))
		}
	}
	return err
}

// secretsOrEnv is the --secret values, or the secret in $HERALD_WEBHOOK_SECRET.
func secretsOrEnv(flag []string) []string {
	if len(flag) > 0 {
		return flag
	}
	if s := os.Getenv(SecretEnv); s != "" {
		return []string{s}
	}
	return nil
}

// parseHeaderFlags turns "Name: value" flags into a header.
func parseHeaderFlags(flags []string) (http.Header, error) {
	h := http.Header{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("--header %q: want 'Name: value'", f)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// headerNames lists the headers a scheme reads, as the receiver sees them.
func headerNames(c verify.Config) []string {
	switch c.Scheme {
	case "", verify.StandardWebhooks:
		return []string{verify.HeaderWebhookID, verify.HeaderWebhookTimestamp, verify.HeaderWebhookSignature}
	case verify.BodyThenTimestamp:
		return []string{c.TimestampHeader, c.Header}
	default:
		return []string{c.Header}
	}
}

// plural writes n and a noun, with an s when n is not 1.
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
