package cli

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The release build (scripts/release.sh, as docs/cli.md tells) is a
// static binary stamped with its version, its commit and its build date,
// which herald version and herald -v print alike. A plain `go build` links
// the system's C library for DNS and users; the release build must not.
func TestReleaseBuild_IsStaticAndStamped(t *testing.T) {
	t.Parallel()
	bash := runtimeBinary(t, "bash")
	gitBin := runtimeBinary(t, "git")
	head, err := exec.Command(gitBin, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.Command(bash, "../../scripts/release.sh", bin)
	build.Env = append(os.Environ(), "VERSION=v0.0.0-test", "BUILD_DATE=2026-12-01T12:00:00Z", "GOOS=", "GOARCH=", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}

	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("the release binary has a %s program header: it is dynamically linked", p.Type)
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("the release binary needs the libraries %v (%v), want none", libs, err)
		}
	}

	want := "herald v0.0.0-test (commit " + strings.TrimSpace(string(head))[:12]
	var first string
	for _, args := range [][]string{{"version"}, {"-v"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("herald %s: %v", args[0], err)
		}
		if !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "built 2026-12-01T12:00:00Z, go") {
			t.Errorf("herald %s printed %q, want %q..., built 2026-12-01T12:00:00Z", args[0], out, want)
		}
		if first == "" {
			first = string(out)
		} else if string(out) != first {
			t.Errorf("herald %s printed %q, herald version %q", args[0], out, first)
		}
	}
}
