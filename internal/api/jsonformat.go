package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	if b, ok := v.(*eventCreateBody); ok && b.readChecked(data) {
		return nil
	}
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

func init() {
	// A member's name is matched exactly: "URL" is not "url" but an
	// unexpected property (huma, like encoding/json, ignores case unless
	// told), so no body member is taken for another silently.
	huma.ValidateStrictCasing = true
}

// duplicateMember finds the first object member of data named twice in
// its object and returns where, as "body.a.b[0].c" (false for none, and
// for JSON that does not parse): decoding keeps the last and drops the
// first without a word, so readBody refuses such a body instead.
func duplicateMember(data []byte) (string, bool) {
	type frame struct {
		object bool
		seen   map[string]bool
		key    string // the member being read, in an object
		inKey  bool   // key holds the member being read (false: a key comes next)
		index  int    // the element being read, in an array
	}
	var stack []*frame
	path := func(last string) string {
		var b strings.Builder
		b.WriteString("body")
		for _, f := range stack[:len(stack)-1] {
			if f.object {
				b.WriteString("." + f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index-1)
			}
		}
		return b.String() + "." + last
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	elem := func() { // a value begins: in an array, it is the next element
		if n := len(stack); n > 0 && !stack[n-1].object {
			stack[n-1].index++
		}
	}
	ended := func() { // a value ended: its object waits for the next key
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].inKey = false
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].object && !stack[n-1].inKey {
			top := stack[n-1]
			k, ok := tok.(string)
			if !ok { // the object's closing brace
				stack = stack[:n-1]
				ended()
				continue
			}
			if top.seen[k] {
				return path(k), true
			}
			top.seen[k] = true
			top.key, top.inKey = k, true
			continue
		}
		switch tok {
		case json.Delim('{'):
			elem()
			stack = append(stack, &frame{object: true, seen: map[string]bool{}})
		case json.Delim('['):
			elem()
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			ended()
		default:
			elem()
			ended()
		}
	}
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
