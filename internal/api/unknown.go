package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/heraldhq/herald"
)

// maxUnknownFields bounds the field errors one refusal lists: a body of a
// thousand made-up members needs naming only so far.
const maxUnknownFields = 20

// refuseUnknown is the huma middleware that refuses, on every operation,
// input the operation does not define, before anything acts on it: a
// query parameter it does not declare, a declared one given more than once
// (huma would read the first and drop the rest), and any member of a body
// sent to an operation that takes none. Each is a 422 naming it
// ("query.since", "body.force"). Silently ignored input was the first
// thing a new user tripped on (issue 10): a filter that did not exist
// answered the unfiltered list, a retry with {"force": true} looked
// obeyed. Members of a body an operation does take are refused by its
// schema, which huma checks (every body struct is additionalProperties
// false), with the same 422.
func (s *Server) refuseUnknown(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	r, _ := humago.Unwrap(ctx)
	var fe herald.Fields
	declared := map[string]*huma.Param{}
	var names []string
	for _, p := range op.Parameters {
		if p != nil && p.In == "query" {
			declared[p.Name] = p
			names = append(names, p.Name)
		}
	}
	// serveHTTP has refused a query string that does not parse.
	query := r.URL.Query()
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, ok := declared[k]
		switch {
		case !ok && len(names) == 0:
			fe.Add("query."+k, "is not a parameter of this operation, which takes none")
		case !ok:
			fe.Add("query."+k, "is not a parameter of this operation; it takes %s", strings.Join(names, ", "))
		case len(query[k]) > 1 && (p.Schema == nil || p.Schema.Type != huma.TypeArray):
			fe.Add("query."+k, "is given %d times; give it once", len(query[k]))
		}
	}
	if op.RequestBody == nil {
		if err := noBody(&fe, requestBody(ctx.Context())); err != nil {
			s.writeError(ctx, err)
			return
		}
	}
	if len(fe) > maxUnknownFields {
		fe = fe[:maxUnknownFields]
	}
	if err := fe.Err(); err != nil {
		s.writeError(ctx, err)
		return
	}
	next(ctx)
}

// noBody checks the body of an operation that takes none. Nothing, white
// space, null and {} are fine (clients that always send a JSON object
// send that); an object's members are each a field error, anything else
// is one at "body". JSON that does not parse is a 400, as it is on any
// operation.
func noBody(fe *herald.Fields, body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	if !json.Valid(body) {
		return newProblem(http.StatusBadRequest, "the request body is not valid JSON")
	}
	if body[0] != '{' {
		fe.Add("body", "this operation takes no body; send none, or {}")
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token() // the {
	for len(*fe) <= maxUnknownFields {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		name, ok := tok.(string)
		if err != nil || !ok { // the closing }
			return nil
		}
		fe.Add("body."+name, "is not a field of this operation, which takes no body")
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}
