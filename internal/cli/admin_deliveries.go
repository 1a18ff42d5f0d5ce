package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/client"
)

func deliveriesCmd(a *admin) *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "deliveries",
		Short: "List, read and retry a tenant's deliveries",
		Long: `A delivery is one event at one endpoint, with every attempt and the
receiver's answer to each. Every subcommand works under --tenant (or
HERALD_TENANT). See docs/cli.md.`,
		Example: `  herald deliveries list --tenant acme --status failed
  herald deliveries get --tenant acme dlv_...
  herald deliveries retry --tenant acme dlv_...`,
	}, true)

	var (
		l            listFlags
		p            client.DeliveryListParams
		since, until string
	)
	list := &cobra.Command{
		Use:   "list --tenant T [--status S] [--endpoint ID] [--event ID] [--event-type TYPE] [--since TIME] [--until TIME]",
		Short: "List a tenant's deliveries, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			if p.Since, p.Until, err = window(since, until); err != nil {
				return err
			}
			ctx := cmd.Context()
			p.ListParams = l.params()
			page, err := a.c.Deliveries.List(ctx, tenant, &p)
			if err != nil {
				return a.failed(err)
			}
			return printList(a, &l, "deliveries", page, func(cursor string) (*client.Page[client.Delivery], error) {
				next := p
				next.Cursor = cursor
				return a.c.Deliveries.List(ctx, tenant, &next)
			}, []column[client.Delivery]{
				{"ID", func(d *client.Delivery) string { return d.ID }},
				{"EVENT", func(d *client.Delivery) string { return d.EventID }},
				{"TYPE", func(d *client.Delivery) string { return d.EventType }},
				{"ENDPOINT", func(d *client.Delivery) string { return endpointOf(d) }},
				{"STATUS", func(d *client.Delivery) string { return d.Status }},
				{"ATTEMPTS", func(d *client.Delivery) string { return strconv.Itoa(d.AttemptCount) }},
				{"LAST", func(d *client.Delivery) string { return deliveryAnswer(d) }},
				{"NEXT ATTEMPT", func(d *client.Delivery) string { return when(d.NextAttemptAt) }},
			})
		},
	}
	l.add(list.Flags())
	list.Flags().StringVar(&p.Status, "status", "", "only deliveries in this status: pending, delivering, retrying, delivered or failed")
	list.Flags().StringVar(&p.Endpoint, "endpoint", "", "only deliveries to this endpoint (ep_...)")
	list.Flags().StringVar(&p.Event, "event", "", "only deliveries of this event")
	list.Flags().StringVar(&p.EventType, "event-type", "", "only deliveries of events of this type (an exact name)")
	list.Flags().StringVar(&since, "since", "", "only deliveries created at or after this time: RFC 3339, or how long ago (24h)")
	list.Flags().StringVar(&until, "until", "", "only deliveries created before this time: RFC 3339, or how long ago")

	get := &cobra.Command{
		Use:   "get --tenant T ID",
		Short: "Show a delivery with its attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			d, err := a.c.Deliveries.Get(cmd.Context(), tenant, args[0])
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(d)
			}
			a.printDelivery(d)
			fmt.Fprintln(a.stdout)
			printTable(a.stdout, d.Attempts, "attempts", []column[client.Attempt]{
				{"#", func(at *client.Attempt) string { return strconv.Itoa(at.Number) }},
				{"STARTED", func(at *client.Attempt) string { return when(&at.StartedAt) }},
				{"DURATION", func(at *client.Attempt) string { return strconv.FormatInt(at.DurationMS, 10) + " ms" }},
				{"RESPONSE", func(at *client.Attempt) string { return lastAnswer(at.ResponseCode, at.Error) }},
				{"BODY", func(at *client.Attempt) string { return orDash(clip(at.ResponseBody, 60)) }},
			})
			return nil
		},
	}

	retry := &cobra.Command{
		Use:   "retry --tenant T ID",
		Short: "Send a delivery again now: another attempt series if it is delivered or failed, its next attempt now if retrying",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			d, err := a.c.Deliveries.Retry(cmd.Context(), tenant, args[0])
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(d)
			}
			fmt.Fprintf(a.stdout, "Retrying delivery %s: %s, next attempt %s.\n", d.ID, d.Status, when(d.NextAttemptAt))
			return nil
		},
	}

	cmd.AddCommand(list, get, retry)
	return cmd
}

func (a *admin) printDelivery(d *client.Delivery) {
	printFields(a.stdout, [][2]string{
		{"ID", d.ID}, {"Event", d.EventID + " (" + d.EventType + ")"}, {"Endpoint", endpointOf(d)},
		{"Status", d.Status}, {"Attempts", strconv.Itoa(d.AttemptCount)},
		{"Last answer", deliveryAnswer(d)}, {"Next attempt", when(d.NextAttemptAt)},
		{"Created", when(&d.CreatedAt)}, {"Updated", when(&d.UpdatedAt)},
	})
}

// endpointOf is a delivery's endpoint, marked when it was deleted.
func endpointOf(d *client.Delivery) string {
	if d.EndpointDeleted {
		return d.EndpointID + " (deleted)"
	}
	return d.EndpointID
}

// deliveryAnswer is a delivery's last outcome: its last attempt's, or
// why it has none (endpoint_disabled).
func deliveryAnswer(d *client.Delivery) string {
	errText := d.LastError
	if errText == "" && d.Error != nil {
		errText = *d.Error
	}
	return lastAnswer(d.LastResponseCode, errText)
}

// lastAnswer is an attempt's outcome in a table: the receiver's status,
// with what went wrong when something did.
func lastAnswer(code int, err string) string {
	switch {
	case code == 0 && err == "":
		return "-"
	case code == 0:
		return err
	case err == "":
		return strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + err
}

// clip shortens s to at most n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
