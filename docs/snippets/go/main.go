// Command receiver is the Go example of docs/receiving.md: a receiver of
// Herald's default format that verifies each delivery with the verify
// package, handles each event once and answers fast.
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/heraldhq/herald/verify"
)

func main() {
	// The endpoint's secret. During a rotation pass both: {newSecret, oldSecret}.
	v, err := verify.NewStandard([]string{os.Getenv("HERALD_WEBHOOK_SECRET")})
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{} // in production: a table with a unique key on the id
	)
	http.HandleFunc("POST /webhooks", func(w http.ResponseWriter, r *http.Request) {
		// Verifies the raw body and the headers, then parses the event.
		ev, err := v.EventFromRequest(r)
		if errors.Is(err, verify.ErrBodyTooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if errors.Is(err, verify.ErrMalformedBody) {
			// Signed, but not an event object: a retry brings the same bytes.
			log.Printf("webhook %s ignored: %v", r.Header.Get("webhook-id"), err)
			io.WriteString(w, `{"received":true}`)
			return
		}
		if err != nil {
			log.Printf("webhook rejected: %v", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// ev.ID is the event id (webhook-id): the same on every retry.
		mu.Lock()
		dup := seen[ev.ID]
		seen[ev.ID] = true
		mu.Unlock()
		if dup {
			log.Printf("webhook %s duplicate: already handled, skipped", ev.ID)
			io.WriteString(w, `{"received":true,"duplicate":true}`)
			return
		}
		if err := handle(ev); err != nil {
			mu.Lock()
			delete(seen, ev.ID) // not handled: Herald's retry may try again
			mu.Unlock()
			log.Printf("webhook %s (%s) failed: %v", ev.ID, ev.Type, err)
			http.Error(w, "temporary failure", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"received":true}`)
	})
	// This machine only, unless ADDR says otherwise (":3000" for every interface).
	log.Fatal(http.ListenAndServe(cmp.Or(os.Getenv("ADDR"), "127.0.0.1:3000"), nil))
}

// handle acts on one event, quickly: put slow work on a queue. An error is
// a 500, which Herald retries for days: return one only for what a retry
// can mend, never for an event of an unexpected shape.
func handle(ev *verify.Event) error {
	switch ev.Type {
	case "user.created":
		var user struct{ ID, Email string }
		if err := json.Unmarshal(ev.Data, &user); err != nil || user.ID == "" {
			log.Printf("webhook %s (%s) handled: no user id in data", ev.ID, ev.Type)
			return nil
		}
		log.Printf("webhook %s (%s) handled: user %s", ev.ID, ev.Type, user.ID)
	default: // a type this receiver does not know yet is not an error
		log.Printf("webhook %s (%s) ignored: unknown event type", ev.ID, ev.Type)
	}
	return nil
}
