package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/client"
)

func eventsCmd(a *admin) *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "events",
		Short: "Send, list and read a tenant's events",
		Long: `Events are what your application sends: each is delivered to every endpoint
of the tenant that subscribes to its type. Every subcommand works under
--tenant (or HERALD_TENANT). See docs/cli.md.`,
		Example: `  herald events send --tenant acme --type user.created --data '{"id": "usr_1"}'
  herald events send --tenant acme --type order.paid --data @order.json --id order-7-paid
  herald events list --tenant acme --type user.created
  herald events get --tenant acme evt_...`,
	}, true)

	var (
		p    client.EventSendParams
		data string
	)
	send := &cobra.Command{
		Use:   "send --tenant T --type TYPE [--data JSON] [--id ID]",
		Short: "Send an event; it returns once the event and its deliveries are stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			if p.Type == "" {
				return fmt.Errorf("--type is required: the event's type, such as user.created")
			}
			d, err := jsonFlag(cmd, "data", data)
			if err != nil {
				return err
			}
			p.Data = d
			ev, err := a.c.Events.Send(cmd.Context(), tenant, &p)
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(ev)
			}
			if ev.Duplicate {
				fmt.Fprintf(a.stdout, "Event %s was already stored (its id was used for this same event): nothing new was sent.\n", ev.ID)
				return nil
			}
			fmt.Fprintf(a.stdout, "Accepted event %s (%s): %s.\n", ev.ID, ev.Type, deliveriesCount(ev.Deliveries))
			return nil
		},
	}
	f := send.Flags()
	f.StringVar(&p.Type, "type", "", "the event type, such as user.created (required)")
	f.StringVar(&data, "data", "{}", "the event's data, a JSON object (@FILE reads a file, - standard input)")
	f.StringVar(&p.ID, "id", "", "your own id of the event: sending it again under it sends nothing new (default a generated evt_ id)")

	var (
		l            listFlags
		typ          string
		includeData  bool
		since, until string
	)
	list := &cobra.Command{
		Use:   "list --tenant T [--type TYPE] [--since TIME] [--until TIME]",
		Short: "List a tenant's events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			from, to, err := window(since, until)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			params := func(cursor string) *client.EventListParams {
				return &client.EventListParams{ListParams: client.ListParams{Limit: l.limit, Cursor: cursor},
					Type: typ, IncludeData: includeData, Since: from, Until: to}
			}
			page, err := a.c.Events.List(ctx, tenant, params(l.cursor))
			if err != nil {
				return a.failed(err)
			}
			return printList(a, &l, "events", page, func(cursor string) (*client.Page[client.Event], error) {
				return a.c.Events.List(ctx, tenant, params(cursor))
			}, []column[client.Event]{
				{"ID", func(e *client.Event) string { return e.ID }},
				{"TYPE", func(e *client.Event) string { return e.Type }},
				{"SOURCE", func(e *client.Event) string { return e.Source }},
				{"DATA", func(e *client.Event) string { return dataSize(e) }},
				{"CREATED", func(e *client.Event) string { return when(&e.CreatedAt) }},
			})
		},
	}
	l.add(list.Flags())
	list.Flags().StringVar(&typ, "type", "", "only events of this type (an exact name)")
	list.Flags().StringVar(&since, "since", "", "only events created at or after this time: RFC 3339, or how long ago (24h)")
	list.Flags().StringVar(&until, "until", "", "only events created before this time: RFC 3339, or how long ago")
	list.Flags().BoolVar(&includeData, "include-data", false, "with --json, every event's data whole, however large (a list leaves out the data of large events)")

	get := &cobra.Command{
		Use:   "get --tenant T ID",
		Short: "Show an event with its data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			e, err := a.c.Events.Get(cmd.Context(), tenant, args[0])
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(e)
			}
			printFields(a.stdout, [][2]string{
				{"ID", e.ID}, {"Type", e.Type}, {"Source", e.Source}, {"Trace", e.TraceID}, {"Created", when(&e.CreatedAt)},
			})
			var pretty bytes.Buffer
			if json.Indent(&pretty, e.Data, "", "  ") != nil {
				pretty.Write(e.Data)
			}
			fmt.Fprintf(a.stdout, "Data:\n%s\n", pretty.String())
			return nil
		},
	}

	cmd.AddCommand(send, list, get)
	return cmd
}

// dataSize is the size of an event's data in a table.
func dataSize(e *client.Event) string {
	if e.DataTruncated {
		return byteSize(e.DataBytes) + " (not listed)"
	}
	return byteSize(len(e.Data))
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

func deliveriesCount(n int) string {
	if n == 1 {
		return "1 delivery"
	}
	return strconv.Itoa(n) + " deliveries"
}
