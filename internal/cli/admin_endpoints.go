package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/client"
)

func endpointsCmd(a *admin) *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "endpoints",
		Short: "List, create, read, test and delete a tenant's endpoints",
		Long: `Endpoints are where a tenant's webhooks go. Every subcommand works under
--tenant (or HERALD_TENANT). See docs/cli.md.`,
		Example: `  herald endpoints create --tenant acme --url https://example.com/webhooks --events 'user.*'
  herald endpoints list --tenant acme
  herald endpoints test --tenant acme ep_...
  herald endpoints retry-now --tenant acme ep_...
  herald endpoints delete --tenant acme ep_...`,
	}, true)

	var l listFlags
	list := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's endpoints, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			p := l.params()
			page, err := a.c.Endpoints.List(ctx, tenant, &p)
			if err != nil {
				return a.failed(err)
			}
			return printList(a, &l, "endpoints", page, func(cursor string) (*client.Page[client.Endpoint], error) {
				return a.c.Endpoints.List(ctx, tenant, &client.ListParams{Limit: l.limit, Cursor: cursor})
			}, []column[client.Endpoint]{
				{"ID", func(e *client.Endpoint) string { return e.ID }},
				{"URL", func(e *client.Endpoint) string { return e.URL }},
				{"EVENTS", func(e *client.Endpoint) string { return strings.Join(e.Events, ",") }},
				{"FORMAT", func(e *client.Endpoint) string { return e.Format }},
				{"STATUS", func(e *client.Endpoint) string { return endpointStatus(e) }},
				{"CREATED", func(e *client.Endpoint) string { return when(&e.CreatedAt) }},
			})
		},
	}
	l.add(list.Flags())

	var (
		p                  client.EndpointCreateParams
		headers            []string
		metadata           string
		disabled           bool
		rateLimit, maxIfly int
	)
	create := &cobra.Command{
		Use:   "create --tenant T --url URL [--events FILTER,...] [flags]",
		Short: "Create an endpoint; its signing secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			if p.URL == "" {
				return fmt.Errorf("--url is required: where the endpoint's deliveries go")
			}
			if len(headers) > 0 {
				p.Headers = map[string]string{}
				for _, h := range headers {
					name, value, ok := cutHeader(h)
					if !ok {
						return fmt.Errorf("--header %q: want NAME: VALUE (or NAME=VALUE)", h)
					}
					p.Headers[name] = value
				}
			}
			if metadata != "" {
				if p.Metadata, err = jsonFlag(cmd, "metadata", metadata); err != nil {
					return err
				}
			}
			if disabled {
				off := false
				p.Enabled = &off
			}
			p.RateLimit, p.MaxInFlight = rateLimit, maxIfly
			e, err := a.c.Endpoints.Create(cmd.Context(), tenant, &p)
			if err != nil {
				return a.failed(err)
			}
			if err := a.printEndpoint(e); err != nil || a.asJSON {
				return err
			}
			fmt.Fprintf(a.stdout, "\nIts signing secret, shown this once (rotate it to get another):\n%s\n", e.Secret)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&p.URL, "url", "", "where deliveries go: an absolute http:// or https:// URL (required)")
	f.StringSliceVar(&p.Events, "events", nil, "event type filters, comma-separated: * (every type), a.* or exact names (default *)")
	f.StringVar(&p.Description, "description", "", "what the endpoint is, at most 1024 characters")
	f.StringVar(&p.Format, "format", "", "the wire format's name (default the server's)")
	f.StringVar(&p.Secret, "secret", "", "the signing secret to use, to keep a receiver's (default a generated one)")
	f.BoolVar(&disabled, "disabled", false, "create it disabled: it gets no deliveries until enabled")
	f.StringArrayVar(&headers, "header", nil, "an extra header sent with every delivery, NAME: VALUE; repeat for more")
	f.IntVar(&rateLimit, "rate-limit", 0, "at most this many attempts per second (default 0, no limit)")
	f.IntVar(&maxIfly, "max-in-flight", 0, "at most this many attempts in flight at once (default 0, the server's cap)")
	f.StringVar(&metadata, "metadata", "", "a JSON object of your own, at most 16 KiB (@FILE reads a file, - standard input)")

	get := &cobra.Command{
		Use:   "get --tenant T ID",
		Short: "Show an endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			e, err := a.c.Endpoints.Get(cmd.Context(), tenant, args[0])
			if err != nil {
				return a.failed(err)
			}
			return a.printEndpoint(e)
		},
	}

	var testType, testData string
	test := &cobra.Command{
		Use:   "test --tenant T ID [--type TYPE [--data JSON]]",
		Short: "Send the endpoint a test event now and show its answer",
		Long: `Send the endpoint a test event now, signed like any delivery, and show what
the receiver answered: its format's test event, or with --type an event type
of the catalog and --data its data. Exits 1 when the test failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			var p *client.TestSendParams
			if testType != "" || testData != "" {
				p = &client.TestSendParams{Type: testType}
				if testData != "" {
					d, err := jsonFlag(cmd, "data", testData)
					if err != nil {
						return err
					}
					p.Data = d
				}
			}
			r, err := a.c.Endpoints.Test(cmd.Context(), tenant, args[0], p)
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				if err := a.printJSON(r); err != nil {
					return err
				}
			} else {
				printFields(a.stdout, [][2]string{
					{"Delivery", r.DeliveryID}, {"Status", r.Status}, {"Response", strconv.Itoa(r.ResponseCode)},
					{"Duration", fmt.Sprintf("%d ms", r.DurationMS)}, {"Error", orDash(r.Error)}, {"Body", orDash(r.ResponseBody)},
				})
			}
			if r.Status != client.StatusDelivered {
				return fmt.Errorf("the test delivery failed: %s", failure(r.ResponseCode, r.Error))
			}
			return nil
		},
	}

	test.Flags().StringVar(&testType, "type", "", "the test event's type, one of the catalog's (default the format's test event type)")
	test.Flags().StringVar(&testData, "data", "", "the test event's data, a JSON object (@FILE reads a file, - standard input; default Herald's test data)")

	var grace, newSecret string
	rotate := &cobra.Command{
		Use:   "rotate-secret --tenant T ID [--grace 24h] [--secret SECRET]",
		Short: "Replace the endpoint's signing secret; the new one is printed once, the old keeps signing for --grace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			e, err := a.c.Endpoints.RotateSecret(cmd.Context(), tenant, args[0], &client.RotateSecretParams{Grace: grace, Secret: newSecret})
			if err != nil {
				return a.failed(err)
			}
			if err := a.printEndpoint(e); err != nil || a.asJSON {
				return err
			}
			fmt.Fprintf(a.stdout, "\nIts new signing secret, shown this once:\n%s\n", e.Secret)
			return nil
		},
	}
	rotate.Flags().StringVar(&grace, "grace", "", "how long the old secret keeps signing too, 0s to 168h (default the server's: 24h, or 0s for schemes with room for one signature)")
	rotate.Flags().StringVar(&newSecret, "secret", "", "the new secret (default a generated one)")

	retryNow := &cobra.Command{
		Use:   "retry-now --tenant T ID",
		Short: "Make every retrying delivery to the endpoint due now, once its receiver is fixed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			r, err := a.c.Endpoints.RetryNow(cmd.Context(), tenant, args[0])
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(r)
			}
			fmt.Fprintf(a.stdout, "Made %s to endpoint %s due now.\n", retryingCount(r.Moved), args[0])
			return nil
		},
	}

	del := &cobra.Command{
		Use:   "delete --tenant T ID",
		Short: "Delete an endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := a.needTenant()
			if err != nil {
				return err
			}
			if err := a.c.Endpoints.Delete(cmd.Context(), tenant, args[0]); err != nil {
				return a.failed(err)
			}
			return a.done("Deleted endpoint "+args[0]+".", map[string]any{"id": args[0], "deleted": true})
		},
	}

	cmd.AddCommand(list, create, get, test, rotate, retryNow, del)
	return cmd
}

// retryingCount is how many retrying deliveries, in words.
func retryingCount(n int) string {
	if n == 1 {
		return "1 retrying delivery"
	}
	return strconv.Itoa(n) + " retrying deliveries"
}

// cutHeader splits "Name: value" or "Name=value" (a header name holds
// neither ':' nor '=').
func cutHeader(h string) (name, value string, ok bool) {
	i := strings.IndexAny(h, ":=")
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+1:]), true
}

// failure says why an attempt failed: its error, or the receiver's status.
func failure(code int, err string) string {
	if err != "" {
		return err
	}
	return fmt.Sprintf("the receiver answered %d", code)
}

func (a *admin) printEndpoint(e *client.Endpoint) error {
	if a.asJSON {
		return a.printJSON(e)
	}
	headers := make([]string, 0, len(e.Headers))
	for k, v := range e.Headers {
		headers = append(headers, k+": "+v)
	}
	slices.Sort(headers)
	fields := [][2]string{
		{"ID", e.ID}, {"Tenant", e.TenantID}, {"URL", e.URL}, {"Events", strings.Join(e.Events, ", ")},
		{"Format", e.Format}, {"Status", endpointStatus(e)}, {"Description", orDash(e.Description)},
		{"Headers", orDash(strings.Join(headers, "; "))},
		{"Rate limit", perSecond(e.RateLimit)}, {"Max in flight", inFlight(e.MaxInFlight)},
		{"Metadata", string(e.Metadata)}, {"Created", when(&e.CreatedAt)}, {"Updated", when(&e.UpdatedAt)},
	}
	if e.DisabledAt != nil {
		fields = append(fields, [2]string{"Disabled at", when(e.DisabledAt)})
	}
	fields = append(fields, [2]string{"Health", health(&e.Health)})
	for i, p := range e.PreviousSecrets {
		name := ""
		if i == 0 {
			name = "Old secrets"
		}
		fields = append(fields, [2]string{name, "one replaced " + when(p.ReplacedAt) + " signs until " + when(&p.ExpiresAt)})
	}
	printFields(a.stdout, fields)
	return nil
}

// endpointStatus is active, or disabled with its reason.
func endpointStatus(e *client.Endpoint) string {
	if e.DisabledReason != nil && *e.DisabledReason != "" {
		return e.Status + " (" + *e.DisabledReason + ")"
	}
	return e.Status
}

// health says how an endpoint's attempts have gone, on one line.
func health(h *client.EndpointHealth) string {
	if h.LastAttemptAt == nil {
		return "no attempt yet"
	}
	last := "no answer"
	if h.LastResponseCode != nil && *h.LastResponseCode != 0 {
		last = strconv.Itoa(*h.LastResponseCode)
	}
	out := fmt.Sprintf("last attempt %s (%s); last 24h: %d succeeded, %d failed", when(h.LastAttemptAt), last, h.Succeeded24h, h.Failed24h)
	if h.ConsecutiveFailures > 0 {
		out += fmt.Sprintf("; %d failed in a row since %s", h.ConsecutiveFailures, when(h.FailingSince))
	}
	return out
}

func perSecond(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n) + " per second"
}

func inFlight(n int) string {
	if n == 0 {
		return "the server's cap"
	}
	return strconv.Itoa(n)
}
