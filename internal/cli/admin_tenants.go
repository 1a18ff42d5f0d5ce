package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/client"
)

func tenantsCmd(a *admin) *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "tenants",
		Short: "List, create, read and delete tenants (an admin key's)",
		Long: `Tenants are the customers you send webhooks to. These commands call the
server's API (--server, default ` + DefaultServer + `) with --key; every one of
them prints a table, or with --json the API's JSON. See docs/cli.md.`,
		Example: `  herald tenants create acme --name 'Acme Inc'
  herald tenants list
  herald tenants get acme --json
  herald tenants delete acme --yes`,
	}, false)

	var l listFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p := l.params()
			page, err := a.c.Tenants.List(ctx, &p)
			if err != nil {
				return a.failed(err)
			}
			return printList(a, &l, "tenants", page, func(cursor string) (*client.Page[client.Tenant], error) {
				return a.c.Tenants.List(ctx, &client.ListParams{Limit: l.limit, Cursor: cursor})
			}, []column[client.Tenant]{
				{"ID", func(t *client.Tenant) string { return t.ID }},
				{"NAME", func(t *client.Tenant) string { return orDash(t.Name) }},
				{"CREATED", func(t *client.Tenant) string { return when(&t.CreatedAt) }},
			})
		},
	}
	l.add(list.Flags())

	var (
		name, metadata string
		origins        []string
	)
	create := &cobra.Command{
		Use:   "create ID [--name NAME] [--metadata JSON] [--portal-origin ORIGIN]...",
		Short: "Create a tenant with an id of your choice",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := &client.TenantCreateParams{ID: args[0], Name: name, PortalOrigins: origins}
			if metadata != "" {
				m, err := jsonFlag(cmd, "metadata", metadata)
				if err != nil {
					return err
				}
				p.Metadata = m
			}
			t, err := a.c.Tenants.Create(cmd.Context(), p)
			if err != nil {
				return a.failed(err)
			}
			return a.printTenant(t)
		},
	}
	create.Flags().StringVar(&name, "name", "", "the tenant's name, at most 256 characters")
	create.Flags().StringVar(&metadata, "metadata", "", "a JSON object of your own, at most 16 KiB (@FILE reads a file, - standard input)")
	create.Flags().StringArrayVar(&origins, "portal-origin", nil, "an origin (https://app.example.com) that may frame the tenant's customer portal; repeat for more")

	var expiresIn string
	portalLink := &cobra.Command{
		Use:   "portal-link ID [--expires-in 1h]",
		Short: "Make a link to the tenant's customer portal, which works without a key until it expires",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := a.c.Tenants.PortalLink(cmd.Context(), args[0], expiresIn)
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(l)
			}
			fmt.Fprintf(a.stdout, "%s\n(works until %s: anyone with it sees tenant %s's endpoints and deliveries)\n", l.URL, when(&l.ExpiresAt), args[0])
			return nil
		},
	}
	portalLink.Flags().StringVar(&expiresIn, "expires-in", "", "how long the link works, 1m to 24h (default the server's, 1h)")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.c.Tenants.Get(cmd.Context(), args[0])
			if err != nil {
				return a.failed(err)
			}
			return a.printTenant(t)
		},
	}

	var yes bool
	del := &cobra.Command{
		Use:   "delete ID --yes",
		Short: "Delete a tenant and everything it owns",
		Long:  "Delete a tenant and everything it owns: its keys, endpoints, events and deliveries. It cannot be undone, so it takes --yes.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting tenant %s deletes its keys, endpoints, events and deliveries for good; pass --yes to do it", args[0])
			}
			if err := a.c.Tenants.Delete(cmd.Context(), args[0]); err != nil {
				return a.failed(err)
			}
			return a.done(fmt.Sprintf("Deleted tenant %s and everything it owned.", args[0]), map[string]any{"id": args[0], "deleted": true})
		},
	}
	del.Flags().BoolVar(&yes, "yes", false, "really delete it")

	cmd.AddCommand(list, create, get, portalLink, del)
	return cmd
}

func (a *admin) printTenant(t *client.Tenant) error {
	if a.asJSON {
		return a.printJSON(t)
	}
	printFields(a.stdout, [][2]string{
		{"ID", t.ID}, {"Name", orDash(t.Name)}, {"Metadata", string(t.Metadata)},
		{"Portal origins", orDash(strings.Join(t.PortalOrigins, ", "))},
		{"Created", when(&t.CreatedAt)}, {"Updated", when(&t.UpdatedAt)},
	})
	return nil
}

// done reports an operation the API answers with no body: a sentence for
// people, or a small JSON object for scripts.
func (a *admin) done(sentence string, v map[string]any) error {
	if a.asJSON {
		return a.printJSON(v)
	}
	fmt.Fprintln(a.stdout, sentence)
	return nil
}

func keysCmd(a *admin) *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "keys",
		Short: "Create, list and delete API keys (an admin key's)",
		Long: `Create, list and delete API keys: with --tenant a tenant's keys, which may
use that tenant's routes only; without it the admin keys. A new key is
printed once: the server keeps only its hash.`,
		Example: `  herald keys create --tenant acme --name ci
  herald keys create --name deploy
  herald keys list
  herald keys delete key_...`,
	}, true)
	var name string
	create := &cobra.Command{
		Use:   "create [--tenant T] [--name NAME]",
		Short: "Create a tenant key (--tenant) or an admin key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := a.c.Keys.Create(cmd.Context(), &client.KeyCreateParams{Tenant: a.tenant, Name: name})
			if err != nil {
				return a.failed(err)
			}
			if a.asJSON {
				return a.printJSON(k)
			}
			kind := "admin key"
			if k.TenantID != "" {
				kind = "key of tenant " + k.TenantID
			}
			printFields(a.stdout, [][2]string{{"ID", k.ID}, {"Name", orDash(k.Name)}, {"Created", when(&k.CreatedAt)}})
			fmt.Fprintf(a.stdout, "\nThe new %s, shown this once (the server keeps only its hash):\n%s\n", kind, k.Key)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")

	var l listFlags
	list := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List a tenant's keys (--tenant) or the admin keys; never the keys themselves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p := l.params()
			page, err := a.c.Keys.List(ctx, a.tenant, &p)
			if err != nil {
				return a.failed(err)
			}
			return printList(a, &l, "keys", page, func(cursor string) (*client.Page[client.Key], error) {
				return a.c.Keys.List(ctx, a.tenant, &client.ListParams{Limit: l.limit, Cursor: cursor})
			}, []column[client.Key]{
				{"ID", func(k *client.Key) string { return k.ID }},
				{"NAME", func(k *client.Key) string { return orDash(k.Name) }},
				{"CREATED", func(k *client.Key) string { return when(&k.CreatedAt) }},
				{"LAST USED", func(k *client.Key) string { return when(k.LastUsedAt) }},
			})
		},
	}
	l.add(list.Flags())

	del := &cobra.Command{
		Use:   "delete [--tenant T] ID",
		Short: "Delete a tenant's key (--tenant) or an admin key: it is refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.c.Keys.Delete(cmd.Context(), a.tenant, args[0]); err != nil {
				return a.failed(err)
			}
			return a.done("Deleted key "+args[0]+": it is refused from now on.", map[string]any{"id": args[0], "deleted": true})
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
