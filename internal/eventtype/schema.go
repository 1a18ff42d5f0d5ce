package eventtype

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// schemaCache keeps compiled event type schemas: compiling costs far more
// than validating, and every ingest of a typed event needs one.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]cachedSchema
}

type cachedSchema struct {
	raw string
	sch *jsonschema.Schema
}

func newSchemaCache() *schemaCache { return &schemaCache{m: map[string]cachedSchema{}} }

// get returns the compiled schema of et, compiling it when it is new or
// changed since it was cached.
func (c *schemaCache) get(et *store.EventType) (*jsonschema.Schema, error) {
	c.mu.Lock()
	e, ok := c.m[et.Name]
	c.mu.Unlock()
	if ok && e.raw == string(et.Schema) {
		return e.sch, nil
	}
	sch, err := compileSchema(et.Schema)
	if err != nil {
		return nil, fmt.Errorf("stored schema of event type %s: %w", et.Name, err)
	}
	c.mu.Lock()
	c.m[et.Name] = cachedSchema{raw: string(et.Schema), sch: sch}
	c.mu.Unlock()
	return sch, nil
}

// schemaURL names the schema being compiled; nothing is fetched from it.
const schemaURL = "https://herald.invalid/event-type.schema.json"

// compileSchema compiles a JSON Schema that may refer only to itself and
// the standard meta-schemas: the default loader would read local files
// named by "$ref", and a remote one would make the server fetch URLs.
func compileSchema(raw []byte) (sch *jsonschema.Schema, err error) {
	defer func() {
		// A schema is untrusted input; a library panic on some corner of it
		// must be the client's 422, not a crash.
		if r := recover(); r != nil {
			sch, err = nil, fmt.Errorf("cannot be compiled (%v)", r)
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("a schema must be a JSON object or a boolean")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: only references within the schema are allowed", url)
}

// validateData checks canonical event data against sch. Each failing value
// is one field error at its place in the event ("data.amount").
func validateData(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode canonical data: %w", err)
	}
	err = sch.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	printer := message.NewPrinter(language.English) // not safe to share between requests
	var fe herald.Fields
	for _, leaf := range leaves(ve, nil) {
		fe.Add(instancePath(v, leaf.InstanceLocation), "%s", leaf.ErrorKind.LocalizedString(printer))
	}
	if len(fe) == 0 {
		fe.Add("data", "does not match the event type's schema")
	}
	sort.SliceStable(fe, func(i, j int) bool { return fe[i].Location < fe[j].Location })
	return fe.Err()
}

// leaves are the most specific causes of a validation error.
func leaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// instancePath writes a JSON pointer's tokens as a location in the event, with
// array indexes in brackets: data.items[3].price.
func instancePath(v any, tokens []string) string {
	var b strings.Builder
	b.WriteString("data")
	for _, t := range tokens {
		switch cur := v.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(cur) {
				v = cur[i]
			}
		case map[string]any:
			b.WriteString("." + t)
			v = cur[t]
		default:
			b.WriteString("." + t)
		}
	}
	return b.String()
}
