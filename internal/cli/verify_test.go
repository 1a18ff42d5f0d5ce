package cli

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/format"
	"github.com/heraldhq/herald/internal/signature"
	"github.com/heraldhq/herald/verify"
)

const testData = `{"id":"usr_1","name":"Zoë","note":"</script> & \u2028"}`

// schemeCase is a format of each scheme with a secret that signs and one
// that does not.
type schemeCase struct {
	name   string
	f      *format.Format
	flags  []string // the --scheme flags that describe f's signature
	secret string
	other  string
}

func schemeCases(t *testing.T) []schemeCase {
	t.Helper()
	compile := func(def *format.Definition) *format.Format {
		f, err := format.Compile(def)
		if err != nil {
			t.Fatalf("compile %s: %v", def.Name, err)
		}
		return f
	}
	std, _ := format.Builtin(format.StandardWebhooksName)
	empty := ""
	return []schemeCase{
		{name: "standard-webhooks", f: std, secret: testSecret(t), other: testSecret(t)},
		{
			name:   "timestamped",
			f:      compile(&format.Definition{Name: "ts", Signature: signature.Config{Scheme: "timestamped", Header: "X-Acme-Signature"}}),
			flags:  []string{"--scheme", "timestamped", "--signature-header", "X-Acme-Signature"},
			secret: "whsec_test_secret", other: "whsec_other_secret",
		},
		{
			name:   "body hex",
			f:      compile(&format.Definition{Name: "gh", Signature: signature.Config{Scheme: "body", Header: "X-Webhook-Signature"}}),
			flags:  []string{"--scheme", "body", "--signature-header", "X-Webhook-Signature"},
			secret: "your_webhook_secret", other: "not_the_secret",
		},
		{
			name:   "body base64 no prefix",
			f:      compile(&format.Definition{Name: "b64", Signature: signature.Config{Scheme: "body", Header: "X-Sig", Prefix: &empty, Encoding: "base64"}}),
			flags:  []string{"--scheme", "body", "--signature-header", "X-Sig", "--prefix", "", "--encoding", "base64"},
			secret: "your_webhook_secret", other: "not_the_secret",
		},
		{
			name: "body-then-timestamp",
			f: compile(&format.Definition{Name: "clasp", JSON: "python", Signature: signature.Config{
				Scheme: "body-then-timestamp", Header: "Clasp-Event-Signature", TimestampHeader: "Clasp-Event-Timestamp"}}),
			flags:  []string{"--scheme", "body-then-timestamp", "--signature-header", "Clasp-Event-Signature", "--timestamp-header", "Clasp-Event-Timestamp"},
			secret: "clasp_secret", other: "other_secret",
		},
	}
}

// captured is a request as a receiver saw it, with what should become of it.
type captured struct {
	name   string
	body   []byte
	header http.Header
	wantOK bool
	want   string // in the output
}

// capturedRequests makes, for one scheme, a valid request and the ways one
// goes wrong.
func capturedRequests(t *testing.T, sc schemeCase, now time.Time) []captured {
	t.Helper()
	f := sc.f
	valid := signedDelivery(t, f, []string{sc.secret}, "user.created", testData, now)
	out := []captured{
		{name: "valid", body: valid.Body, header: valid.Header, wantOK: true, want: "result:          OK"},
		{name: "tampered body", body: tamper(t, valid.Body), header: valid.Header, want: "bad signature"},
		{name: "trailing newline", body: append(append([]byte(nil), valid.Body...), '\n'), header: valid.Header, want: "ends with a newline"},
	}
	wrong := signedDelivery(t, f, []string{sc.other}, "user.created", testData, now)
	out = append(out, captured{name: "other secret", body: wrong.Body, header: wrong.Header, want: "bad signature"})
	stale := signedDelivery(t, f, []string{sc.secret}, "user.created", testData, now.Add(-10*time.Minute))
	if f.Signature().HasTimestamp() {
		out = append(out, captured{name: "ten minutes old", body: stale.Body, header: stale.Header, want: "timestamp too old"})
		ahead := signedDelivery(t, f, []string{sc.secret}, "user.created", testData, now.Add(10*time.Minute))
		out = append(out, captured{name: "ten minutes ahead", body: ahead.Body, header: ahead.Header, want: "timestamp too new"})
	} else {
		out = append(out, captured{name: "old, no timestamp", body: stale.Body, header: stale.Header, wantOK: true, want: "this scheme has no timestamp"})
	}
	if f.Signature().SupportsMultipleSecrets() {
		rot := signedDelivery(t, f, []string{sc.other, sc.secret}, "user.created", testData, now)
		out = append(out, captured{name: "rotation, old secret second", body: rot.Body, header: rot.Header, wantOK: true, want: "result:          OK"})
	}
	missing := valid.Header.Clone()
	missing.Del(f.Signature().HeaderNames()[0])
	out = append(out, captured{name: "header missing", body: valid.Body, header: missing, want: "missing header"})
	return out
}

// headerArgs are --header flags for the scheme's headers of h.
func headerArgs(f *format.Format, h http.Header) []string {
	var args []string
	for _, name := range f.Signature().HeaderNames() {
		if v := h.Get(name); v != "" {
			args = append(args, "--header", name+": "+v)
		}
	}
	return args
}

// herald verify decides as the verify package does on every kind of
// captured request, for every scheme, and prints what it checked.
func TestVerify_AgreesWithPackage(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, sc := range schemeCases(t) {
		for _, c := range capturedRequests(t, sc, now) {
			t.Run(sc.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				v, err := verify.New(toVerifyConfig(sc.f.Signature()), []string{sc.secret})
				if err != nil {
					t.Fatal(err)
				}
				pkgErr := v.Verify(c.body, c.header)
				if (pkgErr == nil) != c.wantOK {
					t.Fatalf("verify package: %v, want ok=%v", pkgErr, c.wantOK)
				}

				payload := filepath.Join(t.TempDir(), "body.json")
				if err := os.WriteFile(payload, c.body, 0o600); err != nil {
					t.Fatal(err)
				}
				args := append([]string{"verify", "--payload", payload, "--secret", sc.secret}, sc.flags...)
				args = append(args, headerArgs(sc.f, c.header)...)
				out, _, err := herald(t, nil, args...)
				if (err == nil) != c.wantOK {
					t.Fatalf("herald verify: %v, want ok=%v (package: %v); output:\n%s", err, c.wantOK, pkgErr, out)
				}
				if !strings.Contains(out, c.want) {
					t.Errorf("output does not say %q:\n%s", c.want, out)
				}
				if !strings.Contains(out, "scheme:          "+sc.f.Signature().SchemeName()) {
					t.Errorf("output does not name the scheme %s:\n%s", sc.f.Signature().SchemeName(), out)
				}
				if !strings.Contains(out, "body:            "+strconv.Itoa(len(c.body))+" bytes") {
					t.Errorf("output does not give the body's length %d:\n%s", len(c.body), out)
				}
			})
		}
	}
}

// The shorthands stand for the scheme's headers, and the payload can come
// from standard input; the signed content's length is what the scheme signs.
func TestVerify_Shorthands(t *testing.T) {
	t.Parallel()
	std, _ := format.Builtin(format.StandardWebhooksName)
	secret := testSecret(t)
	d := signedDelivery(t, std, []string{secret}, "user.created", testData, time.Now())
	id, ts := d.Header.Get("webhook-id"), d.Header.Get("webhook-timestamp")
	out, _, err := herald(t, strings.NewReader(string(d.Body)), "verify", "--payload", "-", "--secret", secret,
		"--id", id, "--timestamp", ts, "--signature", d.Header.Get("webhook-signature"))
	if err != nil {
		t.Fatalf("verify with shorthands: %v\n%s", err, out)
	}
	n := len(id) + 1 + len(ts) + 1 + len(d.Body)
	if want := "signed content:  " + strconv.Itoa(n) + " bytes"; !strings.Contains(out, want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}

	// body-then-timestamp: --timestamp is the timestamp header.
	btt := schemeCases(t)[4]
	d = signedDelivery(t, btt.f, []string{btt.secret}, "user.created", testData, time.Now())
	payload := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(payload, d.Body, 0o600)
	args := append([]string{"verify", "--payload", payload, "--secret", btt.secret,
		"--timestamp", d.Header.Get("Clasp-Event-Timestamp"), "--signature", d.Header.Get("Clasp-Event-Signature")}, btt.flags...)
	if out, _, err := herald(t, nil, args...); err != nil {
		t.Fatalf("verify body-then-timestamp with shorthands: %v\n%s", err, out)
	}

	// The secret from the environment is tested in TestVerify_SecretFromEnv.
}

// Without --secret, the secret comes from $HERALD_WEBHOOK_SECRET. (Not
// parallel: it sets the environment.)
func TestVerify_SecretFromEnv(t *testing.T) {
	std, _ := format.Builtin(format.StandardWebhooksName)
	secret := testSecret(t)
	t.Setenv(SecretEnv, secret)
	d := signedDelivery(t, std, []string{secret}, "webhook.test", "", time.Now())
	out, _, err := herald(t, strings.NewReader(string(d.Body)), append([]string{"verify", "--payload", "-"}, headerArgs(std, d.Header)...)...)
	if err != nil {
		t.Fatalf("verify with the secret in $%s: %v\n%s", SecretEnv, err, out)
	}
	t.Setenv(SecretEnv, "")
	_, _, err = herald(t, strings.NewReader(string(d.Body)), append([]string{"verify", "--payload", "-"}, headerArgs(std, d.Header)...)...)
	if err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Errorf("verify without any secret: %v, want an error saying there is no secret", err)
	}
}

// --format NAME --server reads the format's signature object from Herald's
// API with the key; --format FILE#name picks one format of a file.
func TestVerify_FormatFromServerAndFile(t *testing.T) {
	t.Parallel()
	sc := schemeCases(t)[1] // timestamped
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer hk_test" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"title":"Unauthorized","status":401,"detail":"missing or unknown API key"}`))
			return
		}
		if r.URL.Path != "/api/v1/formats/ts" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"title":"Not Found","status":404,"detail":"format nope not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(sc.f.Definition())
	}))
	defer srv.Close()

	d := signedDelivery(t, sc.f, []string{sc.secret}, "user.created", testData, time.Now())
	payload := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(payload, d.Body, 0o600)
	base := []string{"verify", "--payload", payload, "--secret", sc.secret, "--header", "X-Acme-Signature: " + d.Header.Get("X-Acme-Signature")}

	out, _, err := herald(t, nil, append(base, "--format", "ts", "--server", srv.URL, "--key", "hk_test")...)
	if err != nil {
		t.Fatalf("verify with the format from the server: %v\n%s", err, out)
	}
	if !strings.Contains(out, "format ts from "+srv.URL) {
		t.Errorf("output does not say where the format came from:\n%s", out)
	}
	_, _, err = herald(t, nil, append(base, "--format", "ts", "--server", srv.URL, "--key", "wrong")...)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "unknown API key") {
		t.Errorf("verify with a wrong key: %v, want the server's 401 and its detail", err)
	}
	_, _, err = herald(t, nil, append(base, "--format", "nope", "--server", srv.URL, "--key", "hk_test")...)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("verify with an unknown format: %v, want the server's 404", err)
	}

	file := filepath.Join(t.TempDir(), "formats.yaml")
	os.WriteFile(file, []byte(`- name: gh
  signature: {scheme: body, header: X-Webhook-Signature}
- name: ts
  signature:
    scheme: timestamped
    header: X-Acme-Signature
`), 0o600)
	out, _, err = herald(t, nil, append(base, "--format", file+"#ts")...)
	if err != nil {
		t.Fatalf("verify with --format FILE#ts: %v\n%s", err, out)
	}
	// A file is a file even when a server is given.
	if out, _, err := herald(t, nil, append(base, "--format", file+"#ts", "--server", srv.URL, "--key", "wrong")...); err != nil {
		t.Fatalf("verify with --format FILE#ts and --server: %v\n%s", err, out)
	}
	_, _, err = herald(t, nil, append(base, "--format", file)...)
	if err == nil || !strings.Contains(err.Error(), "holds 2 formats (gh, ts)") {
		t.Errorf("verify with a file of two formats and no #name: %v, want an error naming them", err)
	}
	_, _, err = herald(t, nil, append(base, "--format", file+"#ts", "--scheme", "body")...)
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("verify with --format and --scheme: %v, want an error", err)
	}
}

// Mistakes in the flags are refused with a message naming the flag.
func TestVerify_FlagErrors(t *testing.T) {
	t.Parallel()
	payload := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(payload, []byte(`{}`), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no payload", []string{"verify", "--secret", "s"}, "--payload"},
		{"missing payload file", []string{"verify", "--payload", payload + ".missing", "--secret", "s"}, "--payload"},
		{"bad header flag", []string{"verify", "--payload", payload, "--secret", "whsec_AAAA", "--header", "no colon"}, "--header"},
		{"timestamp for timestamped", []string{"verify", "--payload", payload, "--secret", "s", "--scheme", "timestamped", "--signature-header", "X-S", "--timestamp", "1"}, "inside the signature header"},
		{"id for body", []string{"verify", "--payload", payload, "--secret", "s", "--scheme", "body", "--signature-header", "X-S", "--id", "evt_1"}, "--id"},
		{"shorthand and header", []string{"verify", "--payload", payload, "--secret", "whsec_AAAA", "--id", "a", "--header", "webhook-id: b"}, "give one"},
		{"scheme without header", []string{"verify", "--payload", payload, "--secret", "s", "--scheme", "timestamped"}, "--signature-header"},
		{"tolerance for body", []string{"verify", "--payload", payload, "--secret", "s", "--scheme", "body", "--signature-header", "X-S", "--tolerance", "1m"}, "no timestamp"},
		{"unknown format", []string{"verify", "--payload", payload, "--secret", "s", "--format", "acme-v1"}, "not a built-in format"},
		{"server without key", []string{"verify", "--payload", payload, "--secret", "s", "--format", "acme-v1", "--server", "http://127.0.0.1:1", "--key", ""}, "API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := herald(t, nil, tt.args...)
			if err == nil {
				t.Fatalf("herald %s: no error, want one; output:\n%s", strings.Join(tt.args, " "), out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("herald %s: %v, want it to mention %q", strings.Join(tt.args, " "), err, tt.want)
			}
		})
	}
}

// A failure is a non-nil error wrapping the verify package's kind, which
// cli.Main turns into exit status 1.
func TestVerify_ExitStatus(t *testing.T) {
	t.Parallel()
	std, _ := format.Builtin(format.StandardWebhooksName)
	secret := testSecret(t)
	d := signedDelivery(t, std, []string{secret}, "user.created", testData, time.Now())
	payload := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(payload, tamper(t, d.Body), 0o600)
	args := append([]string{"verify", "--payload", payload, "--secret", secret}, headerArgs(std, d.Header)...)
	var out, errOut syncBuffer
	if code := Main(t.Context(), args, &out, &errOut); code != 1 {
		t.Errorf("exit status %d for a tampered body, want 1", code)
	}
	if !strings.Contains(errOut.String(), "bad signature") {
		t.Errorf("stderr does not give the reason: %q", errOut.String())
	}
	os.WriteFile(payload, d.Body, 0o600)
	if code := Main(t.Context(), args, &out, &errOut); code != 0 {
		t.Errorf("exit status %d for a valid request, want 0; stderr: %s", code, errOut.String())
	}
	_, _, err := herald(t, nil, append([]string{"verify", "--payload", payload, "--secret", testSecret(t)}, headerArgs(std, d.Header)...)...)
	if !errors.Is(err, verify.ErrBadSignature) {
		t.Errorf("verify with another secret: %v, want it to wrap verify.ErrBadSignature", err)
	}
}
