package api

import (
	"context"
	"errors"

	"github.com/heraldhq/herald"
	engine "github.com/heraldhq/herald/internal/delivery"
)

// urlLoc is where an endpoint's URL is in create and update bodies.
const urlLoc = "body.url"

// checkURL validates an endpoint URL with engine.CheckURL (the one
// definition of an acceptable destination, which the sender's dialer
// enforces again at connect time), or with Config.CheckURL when one is set.
// Errors are at body.url.
func (s *Server) checkURL(ctx context.Context, raw string) error {
	if s.cfg.CheckURL == nil {
		return engine.CheckURL(ctx, raw, urlLoc, s.cfg.AllowPrivateDestinations, nil)
	}
	err := s.cfg.CheckURL(ctx, raw)
	if err == nil {
		return nil
	}
	// A ValidationError that already names the field stays as it is.
	var ve *herald.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 && ve.Fields[0].Location == urlLoc {
		return err
	}
	var f fields
	f.addErr(urlLoc, err)
	return f.err()
}
