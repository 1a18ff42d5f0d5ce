package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Event is a verified webhook's body, parsed leniently: the fields are found
// under the names Herald's formats commonly give them, and Raw holds every
// top-level field as sent, for everything else.
type Event struct {
	// ID is "id" or "event_id"; for standard-webhooks, the webhook-id header
	// when the body has neither.
	ID string
	// Type is "type" or "event_type".
	Type string
	// Timestamp is "timestamp", "created_at" or "created" as written: an
	// RFC 3339 string or the digits of Unix seconds.
	Timestamp string
	// Data is "data" as sent, or nil.
	Data json.RawMessage
	// Raw is every top-level field of the body.
	Raw map[string]json.RawMessage
}

// Event verifies body and its headers as Verify does and then parses the
// body, which must be a JSON object (ErrMalformedBody otherwise).
func (v *Verifier) Event(body []byte, h http.Header) (*Event, error) {
	if err := v.Verify(body, h); err != nil {
		return nil, err
	}
	return v.parseEvent(body, h)
}

// EventFromRequest is VerifyRequest followed by the parsing of Event.
func (v *Verifier) EventFromRequest(r *http.Request) (*Event, error) {
	body, err := v.VerifyRequest(r)
	if err != nil {
		return nil, err
	}
	return v.parseEvent(body, r.Header)
}

func (v *Verifier) parseEvent(body []byte, h http.Header) (*Event, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("verify: %w: not a JSON object", ErrMalformedBody)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("verify: %w: %v", ErrMalformedBody, err)
	}
	e := &Event{
		ID:        scalar(raw, "id", "event_id"),
		Type:      scalar(raw, "type", "event_type"),
		Timestamp: scalar(raw, "timestamp", "created_at", "created"),
		Raw:       raw,
	}
	if d, ok := raw["data"]; ok && string(d) != "null" {
		e.Data = d
	}
	if e.ID == "" && v.scheme == StandardWebhooks {
		e.ID, _ = header(h, HeaderWebhookID)
	}
	return e, nil
}

// scalar returns the first of the named fields that is a non-empty string
// (unquoted) or a number (as written).
func scalar(raw map[string]json.RawMessage, names ...string) string {
	for _, n := range names {
		val, ok := raw[n]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(val, &s) == nil {
			if s != "" {
				return s
			}
			continue
		}
		var num json.Number
		if json.Unmarshal(val, &num) == nil {
			return strings.TrimSpace(num.String())
		}
	}
	return ""
}
