package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald"
)

// metaBodyCheck is the huma.Operation.Metadata key of a function that
// checks an operation's body in place of huma's validation of it against
// the schema (the operation sets SkipValidateBody): readBody calls it.
const metaBodyCheck = "herald.bodyCheck"

// checkEventBody checks a create-event body, {"type", "data", "id"?}, in
// one pass over its members, as huma's schema validation would have: each
// error located at its member, 400 for JSON that does not parse. huma's
// way decodes the whole body, data and all, into maps first, which was a
// tenth of ingest's CPU (docs/design.md); here data is only scanned, and
// event.Service parses it strictly once. Unlike huma (and encoding/json),
// member names match exactly and once: "Type" or a second "type" is an
// error, not the same member.
func checkEventBody(body []byte) error {
	// Nearly every body parses: one validating scan, then a walk over
	// its members that may trust the syntax, which made the check a
	// third of what the decoder below costs (docs/design.md). A body that
	// does not parse, or has a member name with an escape, takes the
	// decoder, whose errors name what is wrong.
	if json.Valid(body) {
		if err, ok := checkParsedEventBody(body); ok {
			return err
		}
	}
	return checkEventBodyTokens(body)
}

// checkParsedEventBody is checkEventBody for a body that json.Valid
// accepted. ok is false, and the decoder must judge, when eachMember does
// not walk it: not an object, or a member name with an escape or a byte
// past ASCII (the decoder reads it unescaped, and invalid UTF-8 as
// U+FFFD).
func checkParsedEventBody(body []byte) (err error, ok bool) {
	m := newMemberCheck()
	if !eachMember(body, m.member) {
		return nil, false
	}
	return m.err(), true
}

// memberCheck holds the rules of a create-event body's members, for both
// ways of walking them (checkParsedEventBody, checkEventBodyTokens).
type memberCheck struct {
	fe   herald.Fields
	seen map[string]bool
}

func newMemberCheck() *memberCheck { return &memberCheck{seen: map[string]bool{}} }

// member judges one member, its name and its value's bytes.
func (m *memberCheck) member(name string, v []byte) {
	loc := "body." + name
	switch {
	case m.seen[name]:
		m.fe.Add(loc, "is given twice; give it once")
	case name == "type" || name == "id":
		if v[0] != '"' {
			m.fe.Add(loc, "expected string")
		}
	case name == "data":
		if v[0] != '{' {
			m.fe.Add(loc, "expected object")
		}
	default:
		m.fe.Add(loc, "unexpected property")
	}
	m.seen[name] = true
}

// err is what the members add up to, once the required ones are checked.
func (m *memberCheck) err() error {
	for _, name := range []string{"data", "type"} {
		if !m.seen[name] {
			m.fe.Add("body."+name, "is required")
		}
	}
	return m.fe.Err()
}

// eachMember calls fn with the name and the value's bytes of each member
// of the JSON object body, in order, and reports whether it walked the
// whole object: false when body is not an object or a member's name is
// not a plain string (plainString), fn then having seen some members or
// none. It trusts an earlier json.Valid (or checkEventBody) for the
// syntax of values, and stays within body whatever it is given.
func eachMember(body []byte, fn func(name string, value []byte)) bool {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	for i = skipSpace(body, i+1); i < len(body) && body[i] != '}'; {
		nameEnd := plainString(body, i)
		if nameEnd < 0 {
			return false
		}
		name := string(body[i+1 : nameEnd-1])
		if i = skipSpace(body, nameEnd); i == len(body) || body[i] != ':' {
			return false
		}
		i = skipSpace(body, i+1)
		end := skipValue(body, i)
		if end <= i || end > len(body) {
			return false
		}
		fn(name, body[i:end])
		if i = skipSpace(body, end); i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return i < len(body)
}

// skipSpace is the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue is the index just past the value of valid JSON b that starts
// at i; for any other b, some index up to len(b).
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return min(i+1, len(b))
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of a scalar member's object
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// checkEventBodyTokens is checkEventBody with the JSON decoder, for the
// bodies checkParsedEventBody leaves to it.
func checkEventBodyTokens(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	bad := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of JSON input")
		}
		p := newProblem(http.StatusBadRequest, "body: "+err.Error())
		p.Errors = []*huma.ErrorDetail{{Location: "body", Message: err.Error()}}
		return p
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if tok != json.Delim('{') {
		if err := skipRest(dec, tok); err != nil {
			return bad(err)
		}
		return herald.Invalid("body", "expected object")
	}
	m := newMemberCheck()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return bad(err)
		}
		m.member(name, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad(errors.New("invalid JSON: data after the top-level value"))
	}
	return m.err()
}

// skipRest reads the rest of a top-level value whose first token is tok,
// so that JSON that does not parse is a 400 whatever its shape.
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	if d, ok := tok.(json.Delim); ok && (d == '[' || d == '{') {
		depth = 1
	}
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the top-level value")
	}
	return nil
}

// readChecked reads into b a body that checkEventBody accepted, in one walk
// over its members (eachMember): encoding/json scanned all of it twice
// more, to check it and to find the end of data (docs/design.md). It
// reports false, and b is to be read by encoding/json, for a body it does
// not read plainly: one eachMember does not walk, or a type or id with an
// escape or a byte past ASCII.
func (b *eventCreateBody) readChecked(body []byte) bool {
	var out eventCreateBody
	plain := true
	walked := eachMember(body, func(name string, v []byte) {
		switch name {
		case "type", "id":
			if plainString(v, 0) != len(v) {
				plain = false
				return
			}
			if name == "type" {
				out.Type = string(v[1 : len(v)-1])
			} else {
				out.ID = string(v[1 : len(v)-1])
			}
		case "data":
			out.Data = append(jsonObject(nil), v...)
		}
	})
	if !walked || !plain {
		return false
	}
	*b = out
	return true
}

// plainString is the index just past the JSON string at b[i], or -1 if
// there is none or it has an escape or a byte past ASCII.
func plainString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\' || c >= 0x80:
			return -1
		}
	}
	return -1
}
