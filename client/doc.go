// Package client is a Go client of Herald's HTTP API (/api/v1): for
// producers that send events, and for tools that manage tenants,
// endpoints, keys and deliveries. The herald command's admin subcommands
// (herald tenants, endpoints, events, deliveries, keys) are written on it.
// It uses the standard library only.
//
// A producer writes:
//
//	c, err := client.New("https://herald.internal:8080", os.Getenv("HERALD_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	ev, err := c.Events.Send(ctx, "acme", &client.EventSendParams{
//		Type: "user.created",
//		Data: map[string]any{"id": "usr_1", "email": "ada@example.com"},
//		ID:   "user-created-usr_1", // your own id makes a repeated send harmless
//	})
//
// Send returns once the event and its deliveries are durably stored. With
// an ID of your own, sending the same event again (after a timeout, from a
// retry loop, from two writers) stores nothing new: the answer is the
// stored event, and ev.Duplicate says so.
//
// Every failed call returns an error; one the server answered is an
// *Error carrying the RFC 9457 problem details (status, title, detail, and
// each invalid field with its location), and errors.Is matches it against
// ErrNotFound, ErrConflict, ErrInvalid and the other kinds:
//
//	var herr *client.Error
//	if errors.As(err, &herr) {
//		for _, f := range herr.Errors {
//			log.Printf("%s: %s", f.Location, f.Message)
//		}
//	}
//	if errors.Is(err, client.ErrNotFound) { ... }
//
// Lists come a page at a time (List, with ListParams.Cursor), or whole
// through an iterator that follows next_cursor (All):
//
//	for d, err := range c.Deliveries.All(ctx, "acme", &client.DeliveryListParams{Status: "failed"}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(d.ID, d.LastError)
//	}
//
// See docs/client.md for the whole surface and docs/api.md for what each
// call does on the server.
package client
