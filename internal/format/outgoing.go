package format

import (
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/signature"
)

// UserAgent is the User-Agent of every delivery whose format sets none.
const UserAgent = "Herald-Webhooks/1.0"

// Outgoing is one attempt of a delivery as Herald puts it on the wire: the
// body and every header.
type Outgoing struct {
	Body   []byte
	Header http.Header
}

// RenderParams is what an attempt adds to its Input.
type RenderParams struct {
	// Body is the delivery's body as its first attempt sent it, sent again
	// unchanged; nil renders it.
	Body []byte
	// Headers are the endpoint's own headers.
	Headers map[string]string
	// Secrets sign the attempt, newest first.
	Secrets []string
}

// Render makes one attempt of a delivery: the body, then the headers, each
// kind overriding the one before: Content-Type and the default User-Agent,
// the endpoint's headers, the format's headers, the signature headers,
// signed at in.Timestamp with the event's id. It is what the delivery engine
// sends and what herald send-test shows, so the two cannot differ. An error
// means the attempt cannot be made as the format says, the same on every
// attempt, so no retry mends it: a header rendered from the event's data is
// not a valid header value (see RenderHeaders), or the secrets cannot sign
// for the format's scheme.
func (f *Format) Render(in *Input, p *RenderParams) (*Outgoing, error) {
	body := p.Body
	if body == nil {
		body = f.RenderBody(in)
	}
	// One map for every header, the signature's included: each kind is
	// written over the one before rather than merged in from a map of
	// its own.
	h := make(http.Header, 5+len(p.Headers)+len(f.headers))
	fixed := []string{"application/json", UserAgent}
	h["Content-Type"], h["User-Agent"] = fixed[0:1:1], fixed[1:2:2]
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	if err := f.renderHeaders(h, in); err != nil {
		return nil, err
	}
	if err := signature.SignTo(h, f.Signature(), p.Secrets, in.Event.ID, in.Timestamp, body); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return &Outgoing{Body: body, Header: h}, nil
}
