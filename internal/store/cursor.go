package store

import (
	"encoding/base64"
	"encoding/binary"
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

// Page trims the answer of a list method to limit rows (see PageLimit for
// limit 0) and returns the cursor of the next page, "" when this is the last.
// List methods return up to limit+1 rows; the extra row only says that
// another page exists.
func Page[T Cursored](rows []T, limit int) (page []T, next string) {
	limit = (&ListParams{Limit: limit}).PageLimit()
	if len(rows) <= limit {
		return rows, ""
	}
	page = rows[:limit]
	return page, page[limit-1].Cursor()
}

// Cursor is the list cursor pointing after t.
func (t *Tenant) Cursor() string { return EncodeCursor(t.CreatedAt, t.ID) }

// Cursor is the list cursor pointing after et.
func (et *EventType) Cursor() string { return EncodeCursor(et.CreatedAt, et.Name) }

// Cursor is the list cursor pointing after e.
func (e *Endpoint) Cursor() string { return EncodeCursor(e.CreatedAt, e.ID) }

// Cursor is the list cursor pointing after e.
func (e *Event) Cursor() string { return EncodeCursor(e.CreatedAt, e.ID) }

// Cursor is the list cursor pointing after d.
func (d *Delivery) Cursor() string { return EncodeCursor(d.CreatedAt, d.ID) }
