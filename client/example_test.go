package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/heraldhq/herald/client"
)

// A producer sends an event under an id of its own, so that sending it
// again (after a timeout, from a retry) stores nothing new.
func ExampleEventsService_Send() {
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ev, err := c.Events.Send(context.Background(), "acme", &client.EventSendParams{
		Type: "user.created",
		Data: map[string]any{"id": "usr_1", "email": "ada@example.com"},
		ID:   "user-created-usr_1",
	})
	var herr *client.Error
	switch {
	case errors.As(err, &herr) && errors.Is(err, client.ErrInvalid):
		for _, f := range herr.Errors {
			log.Printf("%s: %s", f.Location, f.Message)
		}
		return
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(ev.ID, ev.Deliveries, ev.Duplicate)
}

// All follows the pages of a list to its end.
func ExampleDeliveriesService_All() {
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for d, err := range c.Deliveries.All(ctx, "acme", &client.DeliveryListParams{Status: client.StatusFailed}) {
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.Deliveries.Retry(ctx, "acme", d.ID); err != nil {
			log.Printf("retry %s: %v", d.ID, err)
		}
	}
}
