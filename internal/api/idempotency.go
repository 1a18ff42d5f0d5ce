package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotency is the huma middleware behind the Idempotency-Key header on
// POST: the first successful answer for (caller's key, Idempotency-Key) is
// stored and replayed, without running the operation again, to a repeat
// with the same method, path and body. A repeat with another request is
// refused with 422 (as the IETF Idempotency-Key draft says), since the
// client has mixed up two requests.
//
// Only 2xx answers are kept: after an error the client is expected to fix
// the request and try again under the same key. Two identical requests that
// arrive at the same moment may both run; the store's own uniqueness (event
// ids, tenant ids) still keeps them from doubling the effect where it
// matters.
func (s *Server) idempotency(ctx huma.Context, next func(huma.Context)) {
	key := ctx.Header("Idempotency-Key")
	if ctx.Method() != http.MethodPost || key == "" {
		next(ctx)
		return
	}
	p := principalFrom(ctx.Context())
	if p == nil { // a public route: nobody to scope the key to
		next(ctx)
		return
	}
	if len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		s.writeError(ctx, herald.Invalid("header.Idempotency-Key", "must be 1 to %d printable ASCII characters", maxIdempotencyKeyLen))
		return
	}
	u := ctx.URL()
	sum := sha256.New()
	io.WriteString(sum, ctx.Method()+"\n"+u.EscapedPath()+"\n")
	sum.Write(requestBody(ctx.Context()))
	hash := hex.EncodeToString(sum.Sum(nil))

	rec, err := s.st.IdempotencyGet(ctx.Context(), p.KeyID, key)
	switch {
	case err == nil && rec.RequestHash != hash:
		s.writeError(ctx, herald.Invalid("header.Idempotency-Key",
			"this key was already used for a different request (method, path or body); use a new key for a new request"))
		return
	case err == nil:
		ctx.SetHeader("Content-Type", "application/json")
		ctx.SetHeader("Idempotent-Replayed", "true")
		ctx.SetStatus(rec.Status)
		ctx.BodyWriter().Write(rec.Body)
		return
	case !errors.Is(err, herald.ErrNotFound):
		s.writeError(ctx, err)
		return
	}

	rc := &recordingContext{innerContext: ctx}
	next(rc)
	if rc.status < 200 || rc.status > 299 {
		return
	}
	err = s.st.IdempotencyPut(ctx.Context(), &store.IdempotencyRecord{
		Scope: p.KeyID, Key: key, RequestHash: hash, Status: rc.status, Body: rc.body.Bytes(), CreatedAt: s.now(),
	})
	if err != nil && !errors.Is(err, herald.ErrConflict) {
		// The operation succeeded and its answer is on its way; a repeat
		// will run it again, which is what a client without the header gets.
		s.log.Error("store idempotency record", "request_id", requestID(ctx.Context()), "error", err.Error())
	}
}

// innerContext lets recordingContext embed a huma.Context: embedded as
// huma.Context the field would be named Context and hide the method.
type innerContext huma.Context

// recordingContext keeps a copy of the status and body written through it.
type recordingContext struct {
	innerContext
	status int
	body   bytes.Buffer
}

func (c *recordingContext) SetStatus(code int) {
	c.status = code
	c.innerContext.SetStatus(code)
}

func (c *recordingContext) Status() int { return c.status }

func (c *recordingContext) BodyWriter() io.Writer {
	return io.MultiWriter(c.innerContext.BodyWriter(), &c.body)
}

// Unwrap lets humago.Unwrap reach the request beneath.
func (c *recordingContext) Unwrap() huma.Context { return c.innerContext }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
