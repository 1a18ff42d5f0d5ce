package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func FuzzParseStandardSignature(f *testing.F) {
	for _, s := range []string{
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,KoTW1JnfmXVLLXIHLET+C5YZjHWskHZ2EBj3hP1gWdc=",
		"v1,", "v1", ",", "", " ", "v1a,abc v2,def", "v1,====", "v1,YQ", "v1,YQ==", "v1,a,b",
		"  v1,YQ==   v1,Yg==  ", "\tv1,YQ==\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		sigs, err := parseStandardSignature(value)
		if err != nil {
			if sigs != nil {
				t.Fatalf("parse(%q) returned signatures with error %v", value, err)
			}
			return
		}
		if len(sigs) == 0 {
			t.Fatalf("parse(%q) returned no signature and no error", value)
		}
		// Writing the signatures back gives a header that parses the same.
		entries := make([]string, len(sigs))
		for i, s := range sigs {
			if len(s) == 0 {
				t.Fatalf("parse(%q) returned an empty signature", value)
			}
			entries[i] = "v1," + base64.StdEncoding.EncodeToString(s)
			if !strings.Contains(value, entries[i]) {
				t.Fatalf("parse(%q) returned %q, which the value does not hold", value, entries[i])
			}
		}
		again, err := parseStandardSignature(strings.Join(entries, " "))
		if err != nil || len(again) != len(sigs) {
			t.Fatalf("reparse of %q: %d signatures, %v; want %d", entries, len(again), err, len(sigs))
		}
		for i := range sigs {
			if !bytes.Equal(again[i], sigs[i]) {
				t.Fatalf("reparse signature %d = %x, want %x", i, again[i], sigs[i])
			}
		}
	})
}

func FuzzParseTimestamped(f *testing.F) {
	for _, s := range []string{
		"t=1767323045,v1=3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60",
		"t=1767323045,v1=17a2ca,v1=3a1427",
		"v1=ab,t=1", "t=1", "t=,v1=ab", "t=1,t=2,v1=ab", "t=-1,v1=ab", "t=1,v1=", "t=1,v1=zz",
		"t=1,v0=ab,v1=cd", "", ",", "=", "t=1, v1=ab ,", "t=99999999999999999999,v1=ab",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ts, sigs, err := parseTimestamped(value)
		if err != nil {
			if ts != "" || sigs != nil {
				t.Fatalf("parse(%q) returned %q, %x with error %v", value, ts, sigs, err)
			}
			return
		}
		if _, err := parseUnix(ts); err != nil {
			t.Fatalf("parse(%q) accepted t=%q: %v", value, ts, err)
		}
		if len(sigs) == 0 {
			t.Fatalf("parse(%q) returned no signature and no error", value)
		}
		var b strings.Builder
		b.WriteString("t=" + ts)
		for _, s := range sigs {
			if len(s) == 0 {
				t.Fatalf("parse(%q) returned an empty signature", value)
			}
			b.WriteString(",v1=" + hex.EncodeToString(s))
		}
		ts2, sigs2, err := parseTimestamped(b.String())
		if err != nil || ts2 != ts || len(sigs2) != len(sigs) {
			t.Fatalf("reparse of %q: %q, %d signatures, %v; want %q, %d", b.String(), ts2, len(sigs2), err, ts, len(sigs))
		}
		for i := range sigs {
			if !bytes.Equal(sigs2[i], sigs[i]) {
				t.Fatalf("reparse signature %d = %x, want %x", i, sigs2[i], sigs[i])
			}
		}
	})
}

func FuzzParseBodySignature(f *testing.F) {
	f.Add("sha256=5da44edd81a294661165692a1ce08c11728607e04812c60b1e9390748e8bc1c9", "sha256=", false)
	f.Add("XaRO3YGilGYRZWkqHOCMEXKGB+BIEsYLHpOQdI6Lwck=", "", true)
	f.Add("XaRO3YGilGYRZWkqHOCMEXKGB+BIEs\nYLHpOQdI6Lwck=", "", true)
	f.Add("sha256=", "sha256=", false)
	f.Add("", "", true)
	f.Add("sha1=abc", "sha256=", false)
	f.Fuzz(func(t *testing.T, value, prefix string, b64 bool) {
		sig, err := parseBodySignature(value, prefix, b64)
		if err != nil {
			return
		}
		if len(sig) == 0 {
			t.Fatalf("parse(%q, %q, %v) returned an empty signature", value, prefix, b64)
		}
		enc := hex.EncodeToString(sig)
		if b64 {
			enc = base64.StdEncoding.EncodeToString(sig)
		}
		if !strings.EqualFold(value, prefix+enc) {
			t.Fatalf("parse(%q, %q, %v) = %x, which encodes back to %q", value, prefix, b64, sig, prefix+enc)
		}
	})
}

// Whatever the headers, Verify neither panics nor accepts a request unless
// the header holds the correct signature.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_test_secret"
	f.Add([]byte(`{"id":"evt_01"}`), "t=1767323045,v1=00", "1767323045")
	f.Add([]byte(``), "t=1767323045,v1=", "")
	f.Add([]byte(`{}`), "v1,abc v1,def", "x")
	good := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	f.Add(good, "t=1767323045,v1=3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60", "")
	now := time.Unix(1767323045, 0)
	clock := WithClock(func() time.Time { return now })
	f.Fuzz(func(t *testing.T, body []byte, sigValue, tsValue string) {
		for _, cfg := range []Config{
			{Scheme: Timestamped, Header: "X-Sig"},
			{Scheme: Body, Header: "X-Sig"},
			{Scheme: BodyThenTimestamp, Header: "X-Sig", TimestampHeader: "X-Ts"},
		} {
			opts := []Option{}
			if cfg.Scheme != Body {
				opts = append(opts, clock)
			}
			v, err := New(cfg, []string{secret}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"X-Sig": {sigValue}, "X-Ts": {tsValue}}
			if err := v.Verify(body, h); err != nil {
				var kinds int
				for _, k := range []error{ErrMissingHeader, ErrMalformedHeader, ErrBadSignature, ErrTimestampTooOld, ErrTimestampTooNew} {
					if errors.Is(err, k) {
						kinds++
					}
				}
				if kinds != 1 {
					t.Fatalf("%s: error %v wraps %d kinds, want exactly 1", cfg.Scheme, err, kinds)
				}
				continue
			}
			// Accepted: the header must hold the signature computed here.
			var signed []byte
			switch cfg.Scheme {
			case Timestamped:
				ts, _, _ := parseTimestamped(strings.TrimSpace(sigValue))
				signed = append([]byte(ts+"."), body...)
			case Body:
				signed = body
			case BodyThenTimestamp:
				signed = append(append([]byte{}, body...), "."+strings.TrimSpace(tsValue)...)
			}
			m := hmac.New(sha256.New, []byte(secret))
			m.Write(signed)
			if want := hex.EncodeToString(m.Sum(nil)); !strings.Contains(strings.ToLower(sigValue), want) {
				t.Fatalf("%s: accepted %q for body %q, which lacks the signature %s", cfg.Scheme, sigValue, body, want)
			}
		}
	})
}
