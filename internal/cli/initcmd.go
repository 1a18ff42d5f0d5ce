package cli

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// starters holds one directory per framework. Files whose names end in
// ".tmpl" are written without that suffix: a main.go and a go.mod here would
// make the Go starter part of Herald's module, or a module of its own that
// could not be embedded.
//
//go:embed starters
var starters embed.FS

// frameworks are the starters: what init says it wrote (article
// included: "an Express receiver") and how to run each once written.
var frameworks = map[string]struct {
	receiver string
	summary  string
	run      []string
}{
	"go": {
		receiver: "a Go receiver",
		summary:  "standard library only",
		run:      []string{"go build -o webhook-receiver .", "HERALD_WEBHOOK_SECRET=whsec_... ./webhook-receiver   # POST http://127.0.0.1:3000/webhooks (HOST, PORT)"},
	},
	"express": {
		receiver: "an Express receiver",
		summary:  "Node with Express and the standardwebhooks library",
		run:      []string{"npm install", "HERALD_WEBHOOK_SECRET=whsec_... npm start   # POST http://127.0.0.1:3000/webhooks (HOST, PORT)"},
	},
	"next": {
		receiver: "a Next.js receiver",
		summary:  "an App Router route handler with the standardwebhooks library",
		run:      []string{"npm install", "HERALD_WEBHOOK_SECRET=whsec_... npm run dev   # POST http://127.0.0.1:3000/api/webhooks (HOST, PORT)"},
	},
	"python": {
		receiver: "a Python receiver",
		summary:  "Python 3, standard library only",
		run:      []string{"HERALD_WEBHOOK_SECRET=whsec_... python3 receiver.py   # POST http://127.0.0.1:3000/webhooks (HOST, PORT)"},
	},
}

func frameworkNames() []string {
	names := make([]string, 0, len(frameworks))
	for n := range frameworks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func initCmd(stdout io.Writer) *cobra.Command {
	var (
		framework string
		dir       string
		force     bool
	)
	cmd := &cobra.Command{
		Use:   "init --framework go|express|next|python [--dir DIR] [--force]",
		Short: "Write a starter webhook receiver for a framework",
		Long: `Write a starter receiver for Herald's default format (standard-webhooks):
it verifies the signature on the raw body, handles each event once (by its
webhook-id), answers 2xx fast, logs event types it does not know and events
of any shape instead of failing (a 500 would be retried for days). It reads
the secret from $` + SecretEnv + ` and listens on $HOST (default 127.0.0.1,
this machine only; 0.0.0.0 for every interface) and $PORT (default 3000).
Existing files are not overwritten without --force.`,
		Example: `  herald init --framework go --dir receiver
  herald init --framework python`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, ok := frameworks[framework]
			if !ok {
				return fmt.Errorf("--framework %q: want one of %s", framework, strings.Join(frameworkNames(), ", "))
			}
			if dir == "" {
				dir = "webhook-receiver"
			}
			written, err := writeStarter(framework, dir, force)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "wrote %s (%s) in %s:\n", fw.receiver, fw.summary, dir)
			for _, f := range written {
				fmt.Fprintf(&b, "  %s\n", f)
			}
			fmt.Fprintf(&b, "\nrun it:\n  cd %s\n", dir)
			for _, line := range fw.run {
				fmt.Fprintf(&b, "  %s\n", line)
			}
			b.WriteString("\nthen send it a signed test delivery with herald send-test (see its README.md)\n")
			_, err = io.WriteString(stdout, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&framework, "framework", "", "go, express, next or python")
	f.StringVar(&dir, "dir", "", "directory to write into (default ./webhook-receiver)")
	f.BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}

// writeStarter writes the framework's starter into dir and returns the files
// written, relative to dir. Without force it writes nothing when any of them
// exists already.
func writeStarter(framework, dir string, force bool) ([]string, error) {
	root := path.Join("starters", framework)
	type file struct{ src, dst string }
	var files []file
	err := fs.WalkDir(starters, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		files = append(files, file{src: p, dst: rel})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("starter %s: %w", framework, err)
	}
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.dst))); err == nil {
				exist = append(exist, f.dst)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("init: %w", err)
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("init: %s already has %s; give --force to overwrite, or another --dir", dir, strings.Join(exist, ", "))
		}
	}
	written := make([]string, 0, len(files))
	for _, f := range files {
		b, err := starters.ReadFile(f.src)
		if err != nil {
			return written, fmt.Errorf("starter %s: %w", framework, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.dst))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return written, fmt.Errorf("init: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return written, fmt.Errorf("init: %w", err)
		}
		written = append(written, f.dst)
	}
	return written, nil
}
