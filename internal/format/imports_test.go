package format_test

import (
	"go/parser"
	"go/token"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Rendering is pure: format depends on nothing of Herald but these, so the
// store, the engine and the API can change without it, and whatever renders
// a delivery (the engine, herald send-test) renders the same.
var allowedImports = map[string]bool{
	"github.com/heraldhq/herald":                    true, // the error kinds
	"github.com/heraldhq/herald/internal/header":    true,
	"github.com/heraldhq/herald/internal/jsonstyle": true,
	"github.com/heraldhq/herald/internal/naming":    true,
	"github.com/heraldhq/herald/internal/signature": true,
}

func TestFormat_ImportsNothingOfHeraldButRenderingRules(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if (path == "github.com/heraldhq/herald" || strings.HasPrefix(path, "github.com/heraldhq/herald/")) && !allowedImports[path] {
				t.Errorf("%s imports %s; format may import only %v of Herald", name, path, keys(allowedImports))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go files checked")
	}
}

func keys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
