package format_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/format"
)

// TestDocsFormatsParse: every format definition shown in docs/formats.md
// (the ready-to-paste contracts included) is one Herald accepts.
func TestDocsFormatsParse(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/formats.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	n := 0
	for _, b := range blocks {
		if !strings.Contains(b[1], `"name"`) {
			continue
		}
		n++
		if _, err := format.Parse([]byte(b[1])); err != nil {
			t.Errorf("docs/formats.md definition does not parse: %v\n%s", err, b[1])
		}
	}
	if n < 5 {
		t.Errorf("found %d format definitions in docs/formats.md, want the example and contracts A-D", n)
	}
}
