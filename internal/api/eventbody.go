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
