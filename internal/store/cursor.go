package store

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Page sizes for lists.
const (
	// DefaultLimit is the page size when ListParams.Limit is 0.
	DefaultLimit = 50
	// MaxLimit is the largest page size a list returns.
	MaxLimit = 250
	// DefaultPageBytes is the byte budget of a page when
	// ListParams.MaxBytes is 0: 250 events of 1 MiB would otherwise be a
	// 250 MiB answer, held in memory whole.
	DefaultPageBytes = 4 << 20
)

// PageLimit is the page size p asks for: DefaultLimit when p is nil or its
// Limit is not positive, and at most MaxLimit. The API validates the range
// and answers 422 before it gets here; the clamp only keeps the store safe.
func (p *ListParams) PageLimit() int {
	if p == nil || p.Limit <= 0 {
		return DefaultLimit
	}
	return min(p.Limit, MaxLimit)
}

// PageBytes is the byte budget p asks for: DefaultPageBytes when p is nil
// or its MaxBytes is not positive.
func (p *ListParams) PageBytes() int {
	if p == nil || p.MaxBytes <= 0 {
		return DefaultPageBytes
	}
	return p.MaxBytes
}

// cursorVersion is the first byte of every cursor, so the format can change
// without old cursors being misread.
const cursorVersion = 1

// EncodeCursor returns the opaque cursor of a list row: the position right
// after the row with this creation time and id (or name), in the newest-first
// order every list uses.
func EncodeCursor(createdAt time.Time, id string) string {
	b := make([]byte, 9, 9+len(id))
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], uint64(createdAt.UnixMicro()))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by EncodeCursor. Cursors come from
// clients, so anything else is a *herald.ValidationError at "query.cursor":
// not base64, another version, no id, an id that is not text, or a time
// outside the years 1 to 9999. It is the one check of a cursor: the API's
// lists and the store's queries all decode through it.
func DecodeCursor(s string) (createdAt time.Time, id string, err error) {
	bad := herald.Invalid("query.cursor", "is not a cursor this server returned")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 10 || b[0] != cursorVersion {
		return time.Time{}, "", bad
	}
	id = string(b[9:])
	// The id is bound as a query parameter: text a database would refuse
	// (invalid UTF-8, NUL) must stop here as the client's error, not reach
	// PostgreSQL as a 500.
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return time.Time{}, "", bad
	}
	// So is a time no row can have: PostgreSQL refuses a timestamp before
	// 4714 BC as out of range, and every time Herald stores and shows is
	// within RFC 3339's years 1 to 9999.
	micros := int64(binary.BigEndian.Uint64(b[1:9]))
	if micros < minCursorMicros || micros > maxCursorMicros {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(micros).UTC(), id, nil
}

// The first and last moments a cursor may name, in unix microseconds: the
// years 1 to 9999, which every database keeps and RFC 3339 can write.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// Cursored is a list row that can say where the next page starts.
type Cursored interface {
	Cursor() string
}

// Sized is a list row that can say where the next page starts and what it
// weighs on a page.
type Sized interface {
	Cursored
	// Size is about the bytes the row takes in a list's answer: its
	// variable-length fields as stored, and a fixed allowance for the
	// rest.
	Size() int
}

// PageFill is the one rule of what goes on a page: rows in list order
// while there are fewer than the page's limit and their sizes add up to
// no more than its byte budget, the first row always (a row larger than
// the budget still makes a page of its own, so a list always moves on).
// The first row that does not fit only says that another page exists. The
// list methods stop reading at it, and Page cuts there.
type PageFill struct {
	limit, budget int
	n, bytes      int
}

// NewPageFill starts a page of p.
func NewPageFill(p *ListParams) *PageFill {
	return &PageFill{limit: p.PageLimit(), budget: p.PageBytes()}
}

// NewBytesFill starts a run of rows bounded by maxBytes alone (0 means
// DefaultPageBytes), under the same rule.
func NewBytesFill(maxBytes int) *PageFill {
	return &PageFill{limit: math.MaxInt, budget: (&ListParams{MaxBytes: maxBytes}).PageBytes()}
}

// Fits reports whether a row of this size goes on the page, and counts it
// when it does.
func (f *PageFill) Fits(size int) bool {
	if f.n >= f.limit || (f.n > 0 && f.bytes+size > f.budget) {
		return false
	}
	f.n++
	f.bytes += size
	return true
}

// Page trims the answer of a list method to the page p asks for (see
// PageFill) and returns the cursor of the next page, "" when this is the
// last. List methods return the page and at most one row more, which only
// says that another page exists.
func Page[T Sized](rows []T, p *ListParams) (page []T, next string) {
	f := NewPageFill(p)
	for i, r := range rows {
		if !f.Fits(r.Size()) { // never the first row, which always fits
			return rows[:i], rows[i-1].Cursor()
		}
	}
	return rows, ""
}

// rowOverhead is the allowance, in a row's Size, for its fixed-size
// fields (times, numbers, statuses) and the JSON around them: a little
// more than they take, so that a page stays within its budget as the API
// writes it.
const rowOverhead = 320

// Size is about the bytes t takes in a list.
func (t *Tenant) Size() int { return rowOverhead + len(t.ID) + len(t.Name) + len(t.Metadata) }

// Size is about the bytes k takes in a list.
func (k *Key) Size() int { return rowOverhead + len(k.ID) + len(k.TenantID) + len(k.Name) }

// Size is about the bytes et takes in a list.
func (et *EventType) Size() int {
	return rowOverhead + len(et.Name) + len(et.Description) + len(et.Schema)
}

// Size is about the bytes e takes in a list, health and status included.
func (e *Endpoint) Size() int {
	n := 2*rowOverhead + len(e.ID) + len(e.URL) + len(e.Description) + len(e.Format) + len(e.Metadata)
	for _, f := range e.Events {
		n += len(f) + 3
	}
	for k, v := range e.Headers {
		n += len(k) + len(v) + 6
	}
	return n
}

// Size is about the bytes e takes in a list.
func (e *Event) Size() int {
	return rowOverhead + len(e.ID) + len(e.Type) + len(e.TraceID) + len(e.Data)
}

// Size is about the bytes d takes in a list.
func (d *Delivery) Size() int {
	return rowOverhead + len(d.ID) + len(d.EventID) + len(d.EventType) + len(d.EndpointID) + len(d.LastError)
}

// Size is about the bytes a takes in a delivery's answer.
func (a *Attempt) Size() int {
	return rowOverhead/2 + len(a.ID) + len(a.ResponseBody) + len(a.Error)
}

// Size is about the bytes r takes in a list.
func (r *Replay) Size() int {
	return rowOverhead + len(r.ID) + len(r.EndpointID) + len(r.EventType) + len(r.Error)
}

// Cursor is the list cursor pointing after r.
func (r *Replay) Cursor() string { return EncodeCursor(r.CreatedAt, r.ID) }

// Cursor is the list cursor pointing after t.
func (t *Tenant) Cursor() string { return EncodeCursor(t.CreatedAt, t.ID) }

// Cursor is the list cursor pointing after k.
func (k *Key) Cursor() string { return EncodeCursor(k.CreatedAt, k.ID) }

// Cursor is the list cursor pointing after et.
func (et *EventType) Cursor() string { return EncodeCursor(et.CreatedAt, et.Name) }

// Cursor is the list cursor pointing after e.
func (e *Endpoint) Cursor() string { return EncodeCursor(e.CreatedAt, e.ID) }

// Cursor is the list cursor pointing after e.
func (e *Event) Cursor() string { return EncodeCursor(e.CreatedAt, e.ID) }

// Cursor is the list cursor pointing after d.
func (d *Delivery) Cursor() string { return EncodeCursor(d.CreatedAt, d.ID) }
