package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyAbandonAfter is how long a key may stay reserved by a request
// that has not answered before a repeat takes it as left behind by a crash
// and runs the request again.
const idempotencyAbandonAfter = time.Minute

// idempotencyFinishTimeout bounds storing the answer (or freeing the key)
// once the operation has run. That happens even when the client has gone:
// otherwise its retry would find the key in progress until it is abandoned.
const idempotencyFinishTimeout = 10 * time.Second

// idempotencyTTL is how long a key's record lasts, from the request that
// reserved it: a repeat within it gets the stored answer, a later one runs
// as a new request. A day covers a client's retries; keeping answers for
// ever kept every answer for ever.
const idempotencyTTL = 24 * time.Hour

// Expired records are deleted by a sweep that a reservation starts, at most
// once per idempotencySweepEvery on each node, in batches so that no
// transaction is long; the read path ignores them meanwhile. Only
// reservations add records, so while none are made nothing grows.
const (
	idempotencySweepEvery   = 10 * time.Minute
	idempotencySweepBatch   = 1000
	idempotencySweepBatches = 100
	idempotencySweepTimeout = time.Minute
)

// Operation metadata the middleware reads.
const (
	// metaSecretMember names the member of an operation's answer that
	// holds a secret shown once (a key, a signing secret). The answer is
	// stored without it, and with "<member>_omitted": true in its place:
	// a secret is never kept in an idempotency record.
	metaSecretMember = "herald.secret-member"
	// metaTenantMember names the member of an operation's answer that
	// holds the id of the tenant the operation created, so that its record
	// is that tenant's and goes with it.
	metaTenantMember = "herald.tenant-member"
)

// idempotency is the huma middleware behind the Idempotency-Key header on
// POST, as the IETF Idempotency-Key draft and Stripe have it. The first
// request with a (caller's key, Idempotency-Key) reserves it in the store
// before the operation runs; while it runs, a repeat is refused with 409 and
// may retry later. A 2xx answer is stored under the key before it is sent,
// and replayed, without running the operation again, to a repeat with the
// same method, path and body. A repeat with another request is refused with
// 422, since the client has mixed up two requests.
//
// Only 2xx answers are kept: after an error the key is freed, so the client
// can fix the request and try again under the same key. A reservation that
// is still in progress after idempotencyAbandonAfter was left by a crash (or
// by a store that failed while freeing it), and the next repeat runs the
// request again rather than let the key be blocked for ever; an operation
// that really takes longer than that can therefore run twice.
//
// A record lasts idempotencyTTL, and belongs to the tenant of the request
// (the path's, or the one it created): deleting the tenant deletes it. A
// secret in the answer is never stored (metaSecretMember), so its replay
// lacks it and says so.
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
	r := &store.IdempotencyRecord{
		Scope: p.KeyID, TenantID: ctx.Param("tenant"), Key: key,
		RequestHash: idempotencyHash(ctx.Method(), u.EscapedPath(), requestBody(ctx.Context())),
	}
	s.sweepIdempotency(ctx.Context())
	if s.reserveIdempotencyKey(ctx, r) {
		s.runReserved(ctx, r, next)
	}
}

// idempotencyHash identifies a request for its Idempotency-Key: a repeat
// must have the same method, path and body.
func idempotencyHash(method, escapedPath string, body []byte) string {
	sum := sha256.New()
	io.WriteString(sum, method+"\n"+escapedPath+"\n")
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil))
}

// errIdempotencyInProgress is the answer to a repeat that comes while the
// first request with its key still runs.
var errIdempotencyInProgress = conflict("a request with this Idempotency-Key is still in progress; retry later")

// reserveIdempotencyKey reserves r's key for this request and reports
// whether it did. When it did not, it has answered: with the stored answer,
// 409 while another request holds the key, 422 for a key used for another
// request, or the store's error.
func (s *Server) reserveIdempotencyKey(ctx huma.Context, r *store.IdempotencyRecord) bool {
	c := ctx.Context()
	// Each turn either answers, reserves, or finds that the key changed
	// hands since it looked (reserved, freed or abandoned by someone else).
	// Three such changes in a row is a key in heavy contention: busy.
	for range 3 {
		rec, err := s.st.IdempotencyGet(c, r.Scope, r.Key)
		expired := store.Timestamp(s.now().Add(-idempotencyTTL))
		switch {
		case err == nil && rec.CreatedAt.Before(expired):
			// Expired: the key is free, as if the sweep had been. Only a
			// record that old is deleted, as for an abandoned one below.
			if err := s.st.IdempotencyReleaseExpired(c, r.Scope, r.Key, expired); err != nil {
				s.writeError(ctx, err)
				return false
			}
		case err == nil:
			cutoff := store.Timestamp(s.now().Add(-idempotencyAbandonAfter))
			if !rec.InProgress() || !rec.CreatedAt.Before(cutoff) {
				s.answerIdempotent(ctx, rec, r.RequestHash)
				return false
			}
			s.log.Warn("idempotency key reservation abandoned; running the request again",
				"request_id", requestID(c), "key_id", r.Scope, "reserved_at", rec.CreatedAt)
			// Only a reservation as old as this one is deleted: another
			// request that found it too may already have made a fresh one.
			if err := s.st.IdempotencyReleaseAbandoned(c, r.Scope, r.Key, cutoff); err != nil {
				s.writeError(ctx, err)
				return false
			}
		case !errors.Is(err, herald.ErrNotFound):
			s.writeError(ctx, err)
			return false
		}
		r.Status, r.Body, r.CreatedAt = 0, nil, s.now()
		err = s.st.IdempotencyPut(c, r)
		if err == nil {
			return true
		}
		if errors.Is(err, herald.ErrNotFound) {
			// The tenant was deleted since the key was checked.
			s.writeError(ctx, notFound("tenant %s not found", r.TenantID))
			return false
		}
		if !errors.Is(err, herald.ErrConflict) {
			s.writeError(ctx, err)
			return false
		}
	}
	s.answerInProgress(ctx)
	return false
}

// answerIdempotent answers a request whose key the store already holds in
// rec, without running it.
func (s *Server) answerIdempotent(ctx huma.Context, rec *store.IdempotencyRecord, hash string) {
	switch {
	case rec.InProgress():
		s.answerInProgress(ctx)
	case rec.RequestHash != hash:
		s.writeError(ctx, herald.Invalid("header.Idempotency-Key",
			"this key was already used for a different request (method, path or body); use a new key for a new request"))
	default:
		ctx.SetHeader("Content-Type", "application/json")
		ctx.SetHeader("Idempotent-Replayed", "true")
		ctx.SetStatus(rec.Status)
		ctx.BodyWriter().Write(rec.Body)
	}
}

func (s *Server) answerInProgress(ctx huma.Context) {
	ctx.SetHeader("Retry-After", "1")
	s.writeError(ctx, errIdempotencyInProgress)
}

// runReserved runs the operation under r's reserved key and, before the
// answer is sent, stores it if it is a 2xx or frees the key if it is not, so
// that a client reading the answer never finds its key still in progress.
func (s *Server) runReserved(ctx huma.Context, r *store.IdempotencyRecord, next func(huma.Context)) {
	finish, cancel := context.WithTimeout(context.WithoutCancel(ctx.Context()), idempotencyFinishTimeout)
	defer cancel()
	ran := false
	defer func() {
		if !ran { // the operation panicked: free the key; the panic goes on up
			s.releaseIdempotencyKey(finish, ctx, r)
		}
	}()

	rc := &recordingContext{innerContext: ctx}
	next(rc)
	ran = true
	if rc.status >= 200 && rc.status <= 299 {
		meta := ctx.Operation().Metadata
		body := rc.body.Bytes()
		if member, _ := meta[metaSecretMember].(string); member != "" {
			var err error
			if body, err = withoutSecret(body, member); err != nil {
				// Never store what may hold the secret: free the key, so a
				// repeat runs again, as one without the header would.
				s.log.Error("idempotency answer not stored: cannot take the secret out", "request_id", requestID(ctx.Context()), "error", err.Error())
				s.releaseIdempotencyKey(finish, ctx, r)
				rc.send()
				return
			}
		}
		if member, _ := meta[metaTenantMember].(string); member != "" {
			r.TenantID = stringMember(body, member)
		}
		r.Status, r.Body = rc.status, body
		if err := s.st.IdempotencyComplete(finish, r); err != nil {
			// The operation succeeded and its answer goes out all the same.
			// A repeat gets 409 until the reservation is abandoned, then
			// runs the operation again, which is what a client without the
			// header gets.
			s.log.Error("store idempotency answer", "request_id", requestID(ctx.Context()), "error", err.Error())
		}
	} else {
		s.releaseIdempotencyKey(finish, ctx, r)
	}
	rc.send()
}

func (s *Server) releaseIdempotencyKey(finish context.Context, ctx huma.Context, r *store.IdempotencyRecord) {
	if err := s.st.IdempotencyRelease(finish, r.Scope, r.Key); err != nil {
		// The key stays in progress until the reservation is abandoned.
		s.log.Error("free idempotency key", "request_id", requestID(ctx.Context()), "error", err.Error())
	}
}

// innerContext lets recordingContext embed a huma.Context: embedded as
// huma.Context the field would be named Context and hide the method.
type innerContext huma.Context

// recordingContext holds back the status and body written through it until
// send, so the answer can be stored before the client sees it. Headers go
// straight through: the response has not started until send.
type recordingContext struct {
	innerContext
	status int
	body   bytes.Buffer
}

func (c *recordingContext) SetStatus(code int) { c.status = code }

func (c *recordingContext) Status() int { return c.status }

func (c *recordingContext) BodyWriter() io.Writer { return &c.body }

// send writes the answer held back.
func (c *recordingContext) send() {
	if c.status != 0 {
		c.innerContext.SetStatus(c.status)
	}
	if c.body.Len() > 0 {
		c.innerContext.BodyWriter().Write(c.body.Bytes())
	}
}

// Unwrap lets humago.Unwrap reach the request beneath. What is written to
// the ResponseWriter it returns bypasses the recording; no operation does.
func (c *recordingContext) Unwrap() huma.Context { return c.innerContext }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// withoutSecret is body, a JSON object, with its member named member taken
// out and "<member>_omitted": true in its place; the other members are kept
// as they were, in their order. Without that member, body is returned as it
// is. Anything but a JSON object is an error.
func withoutSecret(body []byte, member string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("answer is not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("read answer member %q: %w", name, err)
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(name) // a string always marshals
		if name == member {
			found = true
			k, _ = json.Marshal(member + "_omitted")
			value = json.RawMessage("true")
		}
		out.Write(k)
		out.WriteByte(':')
		out.Write(value)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("answer is not one JSON object")
	}
	if !found {
		return body, nil
	}
	out.WriteByte('}')
	if bytes.HasSuffix(body, []byte("\n")) {
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// stringMember is the string member named member of the JSON object body,
// or "".
func stringMember(body []byte, member string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var v string
	if json.Unmarshal(m[member], &v) != nil {
		return ""
	}
	return v
}

// sweepIdempotency starts the deletion of expired idempotency records, in
// the background, unless this node did so in the last
// idempotencySweepEvery. The request does not wait for it.
func (s *Server) sweepIdempotency(ctx context.Context) {
	now := s.now()
	due := s.idempotencySweepDue.Load()
	if now.UnixNano() < due || !s.idempotencySweepDue.CompareAndSwap(due, now.Add(idempotencySweepEvery).UnixNano()) {
		return
	}
	before := now.Add(-idempotencyTTL)
	s.idempotencySweeps.Add(1)
	go func() {
		defer s.idempotencySweeps.Done()
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), idempotencySweepTimeout)
		defer cancel()
		deleted := 0
		for range idempotencySweepBatches {
			n, err := s.st.IdempotencyDeleteExpired(c, before, idempotencySweepBatch)
			deleted += n
			if err != nil {
				s.log.Warn("delete expired idempotency records", "deleted", deleted, "error", err.Error())
				return
			}
			if n < idempotencySweepBatch {
				break
			}
		}
		if deleted > 0 {
			s.log.Info("expired idempotency records deleted", "deleted", deleted, "made_before", before)
		}
	}()
}
