package verify_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/heraldhq/herald/verify"
)

// The clock is fixed in these examples so that their signatures, the test
// vectors of docs/formats.md, stay within the tolerance. A receiver leaves it
// out.

// A receiver of Herald's default format, Standard Webhooks.
func ExampleNewStandard() {
	v, err := verify.NewStandard([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		verify.WithClock(func() time.Time { return time.Unix(1614265330, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	fmt.Println(v.Verify([]byte(`{"test": 2432232314}`), h))

	err = v.Verify([]byte(`{"test": 2432232315}`), h)
	fmt.Println(errors.Is(err, verify.ErrBadSignature))
	// Output:
	// <nil>
	// true
}

// A receiver of a GitHub-like format: one header with sha256= and the hex
// signature of the body, no timestamp.
func ExampleNew() {
	v, err := verify.New(verify.Config{Scheme: verify.Body, Header: "X-Webhook-Signature"},
		[]string{"your_webhook_secret"})
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	h := http.Header{}
	h.Set("X-Webhook-Signature", "sha256=5da44edd81a294661165692a1ce08c11728607e04812c60b1e9390748e8bc1c9")

	fmt.Println(v.Verify(body, h))
	fmt.Println("replays refused by timestamp:", v.HasTimestamp())
	// Output:
	// <nil>
	// replays refused by timestamp: false
}

// During a secret rotation, pass both secrets: the request verifies with
// whichever one signed it.
func ExampleNew_rotation() {
	v, err := verify.New(verify.Config{Scheme: verify.Timestamped, Header: "X-Clearway-Signature"},
		[]string{"whsec_new_secret", "whsec_test_secret"},
		verify.WithClock(func() time.Time { return time.Unix(1767323045+60, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	h := http.Header{}
	h.Set("X-Clearway-Signature", "t=1767323045,v1=3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60")
	fmt.Println(v.Verify(body, h))
	// Output: <nil>
}

// The verifier refuses an authentic request whose timestamp is too old.
func ExampleWithTolerance() {
	v, err := verify.New(verify.Config{Scheme: verify.Timestamped, Header: "X-Clearway-Signature"},
		[]string{"whsec_test_secret"},
		verify.WithTolerance(time.Minute),
		verify.WithClock(func() time.Time { return time.Unix(1767323045+90, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	h := http.Header{}
	h.Set("X-Clearway-Signature", "t=1767323045,v1=3a1427b21e60369b25ea17452321800f7a53dcfe93a91f582ee897f5ad464d60")
	err = v.Verify(body, h)
	fmt.Println(errors.Is(err, verify.ErrTimestampTooOld))
	fmt.Println(err)
	// Output:
	// true
	// verify: timestamp too old: signed at 1767323045, 1m30s ago, tolerance 1m0s
}

func ExampleVerifier_Event() {
	v, err := verify.New(verify.Config{Scheme: verify.Body, Header: "X-Webhook-Signature"},
		[]string{"your_webhook_secret"})
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_01","type":"user.created","timestamp":"2026-01-02T03:04:05.000000Z","data":{"id":"usr_789","name":"Zoë"}}`)
	h := http.Header{}
	h.Set("X-Webhook-Signature", "sha256=5da44edd81a294661165692a1ce08c11728607e04812c60b1e9390748e8bc1c9")

	e, err := v.Event(body, h)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.ID, e.Type, e.Timestamp)
	fmt.Println(string(e.Data))
	// Output:
	// evt_01 user.created 2026-01-02T03:04:05.000000Z
	// {"id":"usr_789","name":"Zoë"}
}

func ExampleVerifier_Middleware() {
	v, err := verify.New(verify.Config{
		Scheme:          verify.BodyThenTimestamp,
		Header:          "Clasp-Event-Signature",
		TimestampHeader: "Clasp-Event-Timestamp",
	}, []string{"clasp_secret"}, verify.WithClock(func() time.Time { return time.Unix(1767323045, 0) }))
	if err != nil {
		log.Fatal(err)
	}
	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // the exact bytes that were verified
		fmt.Printf("handler got %d bytes\n", len(body))
	}))

	body := `{"id": "evt_01", "type": "user.created", "timestamp": "2026-01-02T03:04:05.000000Z", "data": {"id": "usr_789", "name": "Zo\u00eb"}}`
	signed := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
	signed.Header.Set("Clasp-Event-Timestamp", "1767323045")
	signed.Header.Set("Clasp-Event-Signature", "e48fdd17055a2f066398bc911d42d53a0b3408ab4a6a0d06c8d4028b3ce6f7b6")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, signed)
	fmt.Println(rec.Code)

	forged := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
	forged.Header.Set("Clasp-Event-Timestamp", "1767323045")
	forged.Header.Set("Clasp-Event-Signature", strings.Repeat("0", 64))
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, forged)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// handler got 131 bytes
	// 200
	// 401 webhook verification failed: bad signature
}
