package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// jsonFormat is huma's JSON format with one change to how bodies are read
// for validation: a number too large for a float64 (1e400) is read as the
// largest float64 of its sign instead of failing the whole body as
// malformed. The number is grammatical JSON, so the client gets a 422 at
// the field (a range check, or event data's own strict parse) rather than a
// 400 for the body.
var jsonFormat = huma.Format{
	Marshal:   huma.DefaultJSONFormat.Marshal,
	Unmarshal: unmarshalJSON,
}

func unmarshalJSON(data []byte, v any) error {
	p, ok := v.(*any)
	if !ok {
		return json.Unmarshal(data, v)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("unexpected end of JSON input")
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the top-level value")
	}
	*p = floatNumbers(x)
	return nil
}

// floatNumbers replaces every json.Number in v with a float64, as
// json.Unmarshal would have produced, clamping overflows.
func floatNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && math.IsInf(f, 0) {
			f = math.Copysign(math.MaxFloat64, f)
		}
		if strings.HasPrefix(string(x), "-") && f == 0 {
			f = math.Copysign(0, -1)
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = floatNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = floatNumbers(e)
		}
	}
	return v
}
