package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heraldhq/herald/client"
)

// DefaultServer is the server the admin commands call without --server or
// HERALD_SERVER: where `herald serve` listens by default.
const DefaultServer = "http://127.0.0.1:8080"

// adminEnv is the environment twin of each flag the admin commands share.
var adminEnv = map[string]string{"server": "HERALD_SERVER", "key": "HERALD_KEY", "tenant": "HERALD_TENANT"}

// admin is what every admin command shares: the server, the key, how to
// print, and the client made of them.
type admin struct {
	server, key, tenant string
	asJSON              bool
	stdout, stderr      io.Writer
	c                   *client.Client
}

// adminCmds are the commands over the HTTP API, written on package client.
func adminCmds(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{
		tenantsCmd(&admin{stdout: stdout, stderr: stderr}),
		endpointsCmd(&admin{stdout: stdout, stderr: stderr}),
		eventsCmd(&admin{stdout: stdout, stderr: stderr}),
		deliveriesCmd(&admin{stdout: stdout, stderr: stderr}),
		keysCmd(&admin{stdout: stdout, stderr: stderr}),
	}
}

// group is an admin command with subcommands: it holds the shared flags
// and, before any subcommand runs, takes what they leave unset from the
// environment and makes the client.
func (a *admin) group(cmd *cobra.Command, withTenant bool) *cobra.Command {
	f := cmd.PersistentFlags()
	f.StringVar(&a.server, "server", DefaultServer, "the Herald server's URL (env HERALD_SERVER)")
	f.StringVar(&a.key, "key", "", "an API key: an admin key, or a tenant key for its own tenant (env HERALD_KEY)")
	f.BoolVar(&a.asJSON, "json", false, "print the API's JSON instead of a table, for scripts")
	if withTenant {
		f.StringVar(&a.tenant, "tenant", "", "the tenant id (env HERALD_TENANT)")
	}
	// The group itself only shows its help, or refuses an unknown
	// subcommand (cobra's default for a group is to show the help for
	// anything).
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	group := cmd
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd == group {
			return nil
		}
		if err := adminFlagsFromEnv(cmd.Flags()); err != nil {
			return err
		}
		if a.key == "" {
			return errors.New("no API key: pass --key or set HERALD_KEY (an admin key; `herald serve` prints the first one)")
		}
		c, err := client.New(a.server, a.key, client.WithUserAgent("herald-cli/"+buildInfo().Version))
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		a.c = c
		return nil
	}
	return cmd
}

// adminFlagsFromEnv sets --server, --key and --tenant, when not given, from
// their HERALD_* twins.
func adminFlagsFromEnv(fs *pflag.FlagSet) error {
	for flag, env := range adminEnv {
		f := fs.Lookup(flag)
		if f == nil || f.Changed {
			continue
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			if err := fs.Set(flag, v); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return nil
}

// needTenant returns the tenant of a command that works under one.
func (a *admin) needTenant() (string, error) {
	if a.tenant == "" {
		return "", errors.New("no tenant: pass --tenant or set HERALD_TENANT")
	}
	return a.tenant, nil
}

// failed says what went wrong with a call to the server: the server's
// problem details as they are, or, when it could not be reached, where it
// was looked for.
func (a *admin) failed(err error) error {
	var herr *client.Error
	if errors.As(err, &herr) {
		return err
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cannot reach Herald at %s: %w (is `herald serve` running there? --server or HERALD_SERVER says where)", a.c.BaseURL(), uerr.Err)
	}
	return err
}

// describeError is the text of an error as the herald command prints it:
// an answer of the server with invalid fields lists each on a line of its
// own.
func describeError(err error) string {
	msg := err.Error()
	var herr *client.Error
	if errors.As(err, &herr) && len(herr.Errors) > 1 {
		for _, f := range herr.Errors {
			msg += "\n  " + f.Location + ": " + f.Message
		}
	}
	return msg
}

// printJSON prints v as indented JSON.
func (a *admin) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// column is one column of a table of T.
type column[T any] struct {
	head string
	val  func(*T) string
}

// printTable prints items as a table aligned on spaces, with a header
// line; none is a line saying so.
func printTable[T any](w io.Writer, items []T, what string, cols []column[T]) {
	if len(items) == 0 {
		fmt.Fprintf(w, "No %s.\n", what)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.head)
	}
	fmt.Fprintln(tw)
	for i := range items {
		for j, c := range cols {
			if j > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, oneLine(c.val(&items[i])))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// printFields prints name and value pairs, the values aligned.
func printFields(w io.Writer, fields [][2]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range fields {
		if f[0] == "" { // a value more of the field above
			fmt.Fprintf(tw, "\t%s\n", oneLine(f[1]))
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], oneLine(f[1]))
	}
	tw.Flush()
}

// oneLine keeps a table cell on its line: tabs and line breaks of a value
// (an error, a description) would break the alignment.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// listFlags are the paging flags of every list command.
type listFlags struct {
	limit  int
	cursor string
	all    bool
}

func (l *listFlags) add(f *pflag.FlagSet) {
	f.IntVar(&l.limit, "limit", 0, "at most this many per page, 1 to 250 (default the server's, 50)")
	f.StringVar(&l.cursor, "cursor", "", "start at this page (the next_cursor of the one before)")
	f.BoolVar(&l.all, "all", false, "follow every next page, to the end")
}

func (l *listFlags) params() client.ListParams {
	return client.ListParams{Limit: l.limit, Cursor: l.cursor}
}

// printList prints a page of a list (every page, with --all): as the
// API's page object with --json, else as a table, with the cursor of the
// next page, if any, on stderr.
func printList[T any](a *admin, l *listFlags, what string, first *client.Page[T], more func(cursor string) (*client.Page[T], error), cols []column[T]) error {
	p := first
	items := p.Data
	for l.all && p.NextCursor != "" {
		next, err := more(p.NextCursor)
		if err != nil {
			return a.failed(err)
		}
		items = append(items, next.Data...)
		p = next
	}
	if a.asJSON {
		out := struct {
			Data       []T     `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}{Data: items}
		if p.NextCursor != "" {
			out.NextCursor = &p.NextCursor
		}
		return a.printJSON(out)
	}
	printTable(a.stdout, items, what, cols)
	if p.NextCursor != "" {
		fmt.Fprintf(a.stderr, "More on the next page: --cursor %s (or --all)\n", p.NextCursor)
	}
	return nil
}

// jsonFlag reads a flag's JSON value: the text itself, @FILE for a file's
// contents, or - for standard input.
func jsonFlag(cmd *cobra.Command, name, v string) (json.RawMessage, error) {
	var b []byte
	switch {
	case v == "-":
		var err error
		if b, err = io.ReadAll(cmd.InOrStdin()); err != nil {
			return nil, fmt.Errorf("--%s -: read standard input: %w", name, err)
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	default:
		b = []byte(v)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--%s is not valid JSON: %.80q", name, strings.TrimSpace(string(b)))
	}
	return json.RawMessage(b), nil
}

// timeFlag reads a time flag: an RFC 3339 time, or a Go duration meaning
// that long ago (--since 1h).
func timeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-12-01T12:00:00Z) or how long ago (90m, 24h)", name, v)
}

// window reads --since and --until.
func window(since, until string) (s, u time.Time, err error) {
	if s, err = timeFlag("since", since); err != nil {
		return
	}
	u, err = timeFlag("until", until)
	return
}

// when is a time in a table: UTC to the second, or - for none.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash is s, or - when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
