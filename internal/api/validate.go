package api

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/danielgtaylor/huma/v2"
)

// jsonObject is a JSON object kept as the client wrote it (numbers are not
// rounded through float64), documented and validated as an object.
type jsonObject json.RawMessage

// Schema makes huma document and check the value as an object.
func (jsonObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// UnmarshalJSON keeps the bytes.
func (o *jsonObject) UnmarshalJSON(b []byte) error {
	*o = append((*o)[:0], b...)
	return nil
}

// MarshalJSON writes the bytes, or {} for none.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	if len(bytes.TrimSpace(o)) == 0 || string(o) == "null" {
		return []byte("{}"), nil
	}
	return o, nil
}

// compact returns o in compact form for storing, nil for none or null.
func (o jsonObject) compact() (json.RawMessage, error) {
	if len(o) == 0 || string(bytes.TrimSpace(o)) == "null" {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, o); err != nil {
		return nil, err
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	return buf.Bytes(), nil
}

// metadata returns stored metadata for output: {} when there is none.
func metadata(m json.RawMessage) jsonObject {
	if len(m) == 0 {
		return jsonObject("{}")
	}
	return jsonObject(m)
}
