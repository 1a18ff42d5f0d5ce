package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"golang.org/x/sync/semaphore"

	"github.com/heraldhq/herald"
)

// DefaultMaxBufferedBytes is the server-wide budget of request-body bytes
// held in memory at once when Config.MaxBufferedBytes is 0: 32 bodies of
// the default 1 MiB limit. Decoding a body takes several times its size
// while it runs; 400 clients posting 1 MB events at once peaked at 278 MB
// of resident memory with this budget (1.4 GB without one).
const DefaultMaxBufferedBytes = 32 << 20

// DefaultBufferedWait is how long a request waits for room in the body
// budget when Config.BufferedWait is 0, before it is answered 503.
const DefaultBufferedWait = time.Second

// errBodyBudget is the answer to a request that found no room in the body
// budget within the wait.
var errBodyBudget = herald.Errorf(herald.ErrUnavailable,
	"the server is holding as many request bodies as it may at once; retry in a moment")

// bodyBudget bounds the bytes of request bodies held in memory at once,
// across all requests, as Envoy's overload manager and nginx's buffer
// limits do: without it, a few hundred clients each sending the largest
// body allowed hold that many megabytes at once. A request reserves its
// body's size (its Content-Length, or the limit when the length is not
// declared) before reading a byte of it and keeps it until it has been
// answered, since the body, and what is decoded from it, live that long.
// Reservations are served first come, first served (a large body is not
// starved by a stream of small ones); one that finds no room within the
// wait is answered 503 with Retry-After, the body left unread.
type bodyBudget struct {
	sem  *semaphore.Weighted
	wait time.Duration
	// held and waiting say what the budget is doing (bytes reserved,
	// requests waiting for room), for tests.
	held, waiting atomic.Int64
}

func newBodyBudget(limit int64, wait time.Duration) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(limit), wait: wait}
}

// reserve waits up to the budget's wait for n bytes; false means no room
// came (or the client went away first).
func (b *bodyBudget) reserve(ctx context.Context, n int64) bool {
	if !b.sem.TryAcquire(n) {
		ctx, cancel := context.WithTimeout(ctx, b.wait)
		defer cancel()
		b.waiting.Add(1)
		err := b.sem.Acquire(ctx, n)
		b.waiting.Add(-1)
		if err != nil {
			return false
		}
	}
	b.held.Add(n)
	return true
}

func (b *bodyBudget) release(n int64) {
	if n > 0 {
		b.held.Add(-n)
		b.sem.Release(n)
	}
}

// closeUnread asks the server to close the connection after this answer
// when the request's body has not been read. Otherwise net/http would
// read up to 256 KiB of it first, so that the connection could take
// another request, and a client that sent its headers and then stalled
// would not get its answer until it sent that much or timed out.
func closeUnread(h http.Header, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		h.Set("Connection", "close")
	}
}

// readBody is the huma middleware that reads the request body, after
// authenticate has let the request through and before anything else needs
// the body: a request with a wrong key is answered without a byte of its
// body being read. It enforces the body limit (huma would report an
// over-long body read through http.MaxBytesReader as a 500), the media type
// and UTF-8, and reserves the body's bytes in the server's budget while
// the request runs.
func (s *Server) readBody(ctx huma.Context, next func(huma.Context)) {
	r, w := humago.Unwrap(ctx)
	if r.Body == nil || r.Body == http.NoBody {
		next(ctx)
		return
	}
	refuse := func(err error) {
		closeUnread(w.Header(), r)
		s.writeError(ctx, err)
	}
	if r.ContentLength > s.maxBody {
		refuse(tooLarge(s.maxBody))
		return
	}
	if r.ContentLength > 0 && hasBodyMethod(r.Method) && !isJSON(r.Header.Get("Content-Type")) {
		refuse(notJSON())
		return
	}
	reserved := r.ContentLength
	if reserved < 0 { // not declared: the most it may be
		reserved = s.maxBody
	}
	if !s.bodies.reserve(ctx.Context(), reserved) {
		refuse(errBodyBudget)
		return
	}
	defer func() { s.bodies.release(reserved) }()

	body, err := readAll(http.MaxBytesReader(w, r.Body, s.maxBody), r.ContentLength)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.writeError(ctx, tooLarge(s.maxBody))
		return
	case err != nil:
		s.writeError(ctx, newProblem(http.StatusBadRequest, "could not read the request body"))
		return
	}
	// What an undeclared body did not use goes back at once.
	s.bodies.release(reserved - int64(len(body)))
	reserved = int64(len(body))

	if len(body) > 0 && hasBodyMethod(r.Method) && !isJSON(r.Header.Get("Content-Type")) {
		s.writeError(ctx, notJSON())
		return
	}
	if loc, bad := invalidUTF8(body); bad {
		s.writeError(ctx, herald.Invalid(loc, "is not valid UTF-8; JSON text must be UTF-8 (RFC 8259)"))
		return
	}
	if check, ok := ctx.Operation().Metadata[metaBodyCheck].(func([]byte) error); ok && len(body) > 0 {
		if err := check(body); err != nil {
			s.writeError(ctx, err)
			return
		}
	} else if at, dup := duplicateMember(body); dup {
		// A member given twice: a decoder would keep the last silently.
		// (An operation with its own check sees to its own.)
		s.writeError(ctx, herald.Invalid(at, "is given twice; give it once"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	next(huma.WithValue(ctx, bodyKey, body))
}

// readAll reads r, into a buffer of exactly the declared length when there
// is one (io.ReadAll would grow to as much as twice the body).
func readAll(r io.Reader, declared int64) ([]byte, error) {
	if declared < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, declared)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func tooLarge(limit int64) *huma.ErrorModel {
	return newProblem(http.StatusRequestEntityTooLarge, "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
}

func notJSON() *huma.ErrorModel {
	return newProblem(http.StatusUnsupportedMediaType, "the request body must be JSON (Content-Type: application/json)")
}

// invalidUTF8 finds the first string of a JSON body, a member name or a
// value, that is not valid UTF-8, and returns where it is
// ("body.metadata.plan", "body.events[2]"; a member name is reported at
// its object). encoding/json would quietly turn such bytes into U+FFFD,
// and a field kept as raw JSON (metadata, event data) would keep them:
// SQLite would store them and answer invalid JSON later, PostgreSQL would
// refuse them without saying which field. Valid UTF-8, and a body the
// decoder cannot walk (huma reports that as malformed), give false.
func invalidUTF8(body []byte) (loc string, bad bool) {
	if utf8.Valid(body) {
		return "", false
	}
	type frame struct {
		obj     bool
		wantKey bool // an object expecting a member name (or its end)
		key     string
		idx     int
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		b.WriteString("body")
		for i, f := range stack {
			switch {
			case !f.obj:
				b.WriteString("[" + strconv.Itoa(f.idx) + "]")
			case f.wantKey && i == len(stack)-1:
			default:
				b.WriteString("." + f.key)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].idx++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		// Between two tokens there is only ASCII (white space, ':' and
		// ','), so bytes that are not UTF-8 belong to this token.
		invalid := !utf8.Valid(body[start:dec.InputOffset()])
		n := len(stack)
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{obj: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:n-1]
				valueDone()
			}
		case string:
			if n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				if invalid {
					return path(), true
				}
				stack[n-1].key, stack[n-1].wantKey = t, false
				continue
			}
			if invalid {
				return path(), true
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
