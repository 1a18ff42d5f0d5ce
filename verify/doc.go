// Package verify is what a receiver of Herald's webhooks uses to check that a
// request came from Herald and has not been replayed: it verifies the
// signature of a raw body and its headers against one or more secrets for each
// of Herald's signature schemes (standard-webhooks, timestamped, body and
// body-then-timestamp), checks the timestamp against a tolerance, parses the
// event, and offers an http.Handler middleware that refuses unverified
// requests. It uses the standard library only.
//
// A receiver of the default Standard Webhooks format writes:
//
//	v, err := verify.NewStandard([]string{os.Getenv("WEBHOOK_SECRET")})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("/webhooks", v.Middleware(handler))
//
// and handler reads the body, which is the exact bytes that were verified.
// For another format, pass its "signature" object to New:
//
//	v, err := verify.New(verify.Config{Scheme: verify.Timestamped, Header: "X-Acme-Signature"},
//		[]string{secret}, verify.WithTolerance(10*time.Minute))
//
// During a secret rotation pass both secrets, []string{newSecret, oldSecret}:
// a request verifies when any one of its signatures matches any one of the
// secrets. Errors wrap the sentinel values (ErrMissingHeader,
// ErrMalformedHeader, ErrBadSignature, ErrTimestampTooOld, ErrTimestampTooNew,
// ...) so that errors.Is tells them apart. Signatures are compared in
// constant time.
package verify
