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
// accepted. ok is false, and the decoder must judge, when a member name
// has an escape or a byte past ASCII (the decoder reads it unescaped, and
// invalid UTF-8 as U+FFFD), and when the body is not an object.
func checkParsedEventBody(body []byte) (err error, ok bool) {
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, false // rare, and the decoder's to word
	}
	var fe herald.Fields
	var seenType, seenData, seenID bool
	var others map[string]bool // unexpected members, by name
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		// A member: "name", a colon, a value, then a comma or the end.
		end := i + 1
		for body[end] != '"' {
			if body[end] == '\\' || body[end] >= 0x80 {
				return nil, false
			}
			end++
		}
		name := body[i+1 : end]
		i = skipSpace(body, end+1) // at the colon
		i = skipSpace(body, i+1)
		first := body[i]
		i = skipSpace(body, skipValue(body, i))
		var seen *bool
		switch string(name) {
		case "type":
			seen = &seenType
		case "data":
			seen = &seenData
		case "id":
			seen = &seenID
		}
		loc := "body." + string(name)
		switch {
		case seen == nil && others[string(name)]:
			fe.Add(loc, "is given twice; give it once")
		case seen == nil:
			if others == nil {
				others = map[string]bool{}
			}
			others[string(name)] = true
			fe.Add(loc, "unexpected property")
		case *seen:
			fe.Add(loc, "is given twice; give it once")
		case seen == &seenData && first != '{':
			fe.Add(loc, "expected object")
		case seen != &seenData && first != '"':
			fe.Add(loc, "expected string")
		}
		if seen != nil {
			*seen = true
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	if !seenData {
		fe.Add("body.data", "is required")
	}
	if !seenType {
		fe.Add("body.type", "is required")
	}
	return fe.Err(), true
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
	var fe herald.Fields
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		name, _ := tok.(string)
		loc := "body." + name
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return bad(err)
		}
		switch {
		case seen[name]:
			fe.Add(loc, "is given twice; give it once")
		case name == "type" || name == "id":
			if v[0] != '"' {
				fe.Add(loc, "expected string")
			}
		case name == "data":
			if v[0] != '{' {
				fe.Add(loc, "expected object")
			}
		default:
			fe.Add(loc, "unexpected property")
		}
		seen[name] = true
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad(errors.New("invalid JSON: data after the top-level value"))
	}
	for _, name := range []string{"data", "type"} {
		if !seen[name] {
			fe.Add("body."+name, "is required")
		}
	}
	return fe.Err()
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
// over its members: encoding/json scanned all of it twice more, to check
// it and to find the end of data (docs/design.md). It trusts that check
// for the JSON's syntax, and only stays within body for any other input.
// It reports false, and b is to be read by encoding/json, for a body it
// does not read plainly: one that is not an object, a member name or a
// string with an escape or a byte past ASCII.
func (b *eventCreateBody) readChecked(body []byte) bool {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	var out eventCreateBody
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
		switch name {
		case "type", "id":
			if plainString(body, i) != end {
				return false
			}
			v := string(body[i+1 : end-1])
			if name == "type" {
				out.Type = v
			} else {
				out.ID = v
			}
		case "data":
			out.Data = append(jsonObject(nil), body[i:end]...)
		}
		if i = skipSpace(body, end); i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	if i == len(body) {
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
