package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads format definitions from a JSON or YAML file (by extension:
// .yaml/.yml is YAML, anything else JSON). The file holds one format object
// or a list of them. YAML mappings keep their key order, because the order
// of a body template's keys is the order on the wire.
func LoadFile(path string) ([]*Format, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read formats file: %w", err)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("formats file %s: %w", path, err)
		}
		var buf bytes.Buffer
		if len(doc.Content) > 0 {
			if err := yamlToJSON(&buf, doc.Content[0]); err != nil {
				return nil, fmt.Errorf("formats file %s: %w", path, err)
			}
		}
		raw = buf.Bytes()
	}
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("formats file %s: %w", path, err)
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]*Format, 0, len(items))
	for i, it := range items {
		f, err := Parse(it)
		if err != nil {
			return nil, fmt.Errorf("formats file %s, format %d: %w", path, i+1, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// yamlToJSON writes a YAML node as JSON, keeping mapping order.
func yamlToJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return yamlToJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return yamlToJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			buf.Write(k)
			buf.WriteByte(':')
			if err := yamlToJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := yamlToJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if n.Tag == "!!int" || n.Tag == "!!float" {
			// Keep the number's text as written.
			if json.Valid([]byte(n.Value)) {
				buf.WriteString(n.Value)
				return nil
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}
