package herald_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/heraldhq/herald"

// The package table of docs/design.md is the rule for what may import
// what: every import of a Herald package by a package's non-test code must
// be named in its "may import" column, and every package must have a row.
func TestPackageTableIsTheImportRule(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string]bool{} // package path -> importable paths
	cell := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(raw), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != 5 || !strings.Contains(cols[1], "`") {
			continue
		}
		may := map[string]bool{}
		for _, m := range cell.FindAllStringSubmatch(cols[3], -1) {
			may[pkgPath(m[1])] = true
		}
		if strings.Contains(cols[3], "the drivers") || strings.Contains(cols[3], "its drivers") {
			may[pkgPath("store/sqlite")], may[pkgPath("store/postgres")] = true, true
		}
		for _, m := range cell.FindAllStringSubmatch(cols[1], -1) {
			allowed[pkgPath(strings.TrimPrefix(m[1], "internal/"))] = may
		}
	}
	if len(allowed) < 10 {
		t.Fatalf("read %d package rows from docs/design.md, want the whole table", len(allowed))
	}

	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != "." && strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "docs" || d.Name() == "starters" {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, path, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ImportsOnly)
		if err != nil || len(pkgs) == 0 {
			return err
		}
		self := module
		if path != "." {
			self += "/" + filepath.ToSlash(path)
		}
		may, ok := allowed[self]
		if !ok {
			t.Errorf("package %s has no row in the package table of docs/design.md", self)
			return nil
		}
		for _, p := range pkgs {
			for name, f := range p.Files {
				for _, imp := range f.Imports {
					ip, _ := strconv.Unquote(imp.Path.Value)
					if (ip == module || strings.HasPrefix(ip, module+"/")) && !may[ip] {
						t.Errorf("%s imports %s, which its row in docs/design.md does not allow", name, ip)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The public packages, which other modules import, use the standard
// library only: importing one brings in nothing else.
func TestPublicPackagesUseTheStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"verify", "client"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ImportsOnly)
		if err != nil || len(pkgs) == 0 {
			t.Fatalf("%s: %v (%d packages)", dir, err, len(pkgs))
		}
		for _, p := range pkgs {
			for name, f := range p.Files {
				for _, imp := range f.Imports {
					ip, _ := strconv.Unquote(imp.Path.Value)
					if first, _, _ := strings.Cut(ip, "/"); strings.Contains(first, ".") {
						t.Errorf("%s imports %s, outside the standard library", name, ip)
					}
				}
			}
		}
	}
}

// pkgPath is the import path of a package as the table names it: herald,
// verify, cmd/herald, or a name under internal/.
func pkgPath(name string) string {
	switch name = strings.TrimPrefix(name, "internal/"); {
	case name == "herald" || name == "root `herald`":
		return module
	case name == "verify" || name == "client" || strings.HasPrefix(name, "cmd/"):
		return module + "/" + name
	case name == "sqlstore" || name == "sqlite" || name == "postgres" || name == "dbtest" || name == "storetest":
		return module + "/internal/store/" + name
	}
	return module + "/internal/" + name
}
