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

// forget drops the compiled schema of a deleted type.
func (c *schemaCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
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

// checkSchema is what a new schema must pass: it compiles, and it has no
// reference cycle that validation would follow in place. A schema stored
// before that rule is only compiled (compileSchema); its events meet the
// validator's own check of the cycle, as they did.
func checkSchema(raw []byte) error {
	sch, err := compileSchema(raw)
	if err != nil {
		return err
	}
	if loc := inPlaceCycle(sch); loc != "" {
		return fmt.Errorf("it refers to itself at %s without going into the value (as {\"$ref\": \"#\"} does), so no value could ever be checked against it", loc)
	}
	return nil
}

// inPlaceCycle finds a reference cycle that validation would follow
// without going into the value: {"$ref": "#"}, or {"allOf": [{"$ref":
// "#/$defs/a"}]} with a referring back to the root. Such a schema compiles,
// but the validator stops at the cycle with an error, so every event of
// the type would be refused. It returns the location of a schema on the
// cycle, "" when there is none. Cycles through a property, an item or any
// other keyword that goes into the value are fine: they end with the data.
//
// A $dynamicRef is followed to its static target; where the dynamic scope
// would take it elsewhere, the validator's own check still applies.
func inPlaceCycle(root *jsonschema.Schema) string {
	// Every schema reachable from the root, by any keyword.
	var all []*jsonschema.Schema
	seen := map[*jsonschema.Schema]bool{}
	var collect func(s *jsonschema.Schema)
	collect = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		all = append(all, s)
		for _, next := range inPlace(s) {
			collect(next)
		}
		for _, next := range intoValue(s) {
			collect(next)
		}
	}
	collect(root)

	// A cycle among the in-place edges alone.
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[*jsonschema.Schema]int, len(all))
	var visit func(s *jsonschema.Schema) string
	visit = func(s *jsonschema.Schema) string {
		switch state[s] {
		case onPath:
			// "#/$defs/a" within the schema; a meta-schema by its URL.
			return strings.TrimPrefix(s.Location, schemaURL)
		case done:
			return ""
		}
		state[s] = onPath
		for _, next := range inPlace(s) {
			if next == nil {
				continue
			}
			if loc := visit(next); loc != "" {
				return loc
			}
		}
		state[s] = done
		return ""
	}
	for _, s := range all {
		if loc := visit(s); loc != "" {
			return loc
		}
	}
	return ""
}

// inPlace lists the subschemas that validate the same value as s.
func inPlace(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, d := range s.DependentSchemas {
		out = append(out, d)
	}
	for _, d := range s.Dependencies {
		if d, ok := d.(*jsonschema.Schema); ok {
			out = append(out, d)
		}
	}
	return out
}

// intoValue lists the subschemas that validate a part of the value s
// validates: its members, names, items, content.
func intoValue(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	for _, p := range s.Properties {
		out = append(out, p)
	}
	for _, p := range s.PatternProperties {
		out = append(out, p)
	}
	out = append(out, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch v := v.(type) {
		case *jsonschema.Schema:
			out = append(out, v)
		case []*jsonschema.Schema:
			out = append(out, v...)
		}
	}
	return out
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
