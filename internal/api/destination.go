package api

import (
	"context"
	"errors"
	"strings"

	"github.com/heraldhq/herald"
)

// urlLoc is where an endpoint's URL is in create and update bodies.
const urlLoc = "body.url"

// urlCheck adapts Config.CheckURL to the endpoint service, which places a
// refusal at the URL's field itself. A ValidationError that already names
// body.url (as one written for the API may) is restated at the URL, so the
// location is not doubled.
func (s *Server) urlCheck() func(ctx context.Context, raw string) error {
	check := s.cfg.CheckURL
	if check == nil {
		return nil
	}
	return func(ctx context.Context, raw string) error {
		err := check(ctx, raw)
		var ve *herald.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Location != urlLoc {
			return err
		}
		out := &herald.ValidationError{Fields: make([]herald.FieldError, len(ve.Fields))}
		for i, f := range ve.Fields {
			if rest, ok := strings.CutPrefix(f.Location, urlLoc); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
				f.Location = strings.TrimPrefix(rest, ".")
			}
			out.Fields[i] = f
		}
		return out
	}
}
