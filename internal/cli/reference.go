package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// ConfigReference writes every flag of `herald serve` as a Markdown table:
// the flag, its environment twin, its default and what it does, from the
// flags themselves. docs/operations.md holds its output, and a test fails
// when the two differ, so the reference cannot drift from the code.
func ConfigReference(w io.Writer) error {
	cmd := serveCmd(io.Discard, io.Discard)
	var b strings.Builder
	b.WriteString("| flag | environment | default | what it does |\n|---|---|---|---|\n")
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		def := "`" + f.DefValue + "`"
		if f.DefValue == "" || f.DefValue == "[]" {
			def = "none"
		}
		usage := strings.ReplaceAll(f.Usage, "|", `\|`)
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, envName(f.Name), def, usage)
	})
	_, err := io.WriteString(w, b.String())
	return err
}
