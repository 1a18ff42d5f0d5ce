package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/dbtest"
)

// Event data with a CR/LF fed into a format's header placeholder cannot be
// sent on any attempt. The delivery fails at once, with the format's error
// naming the header, instead of retrying "invalid header field value" for
// the whole schedule (issue 12). An event whose data fits is delivered.
func TestEngine_HeaderValueFromDataThatCannotBeSentFailsAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, st store.Store) {
		b := setup(t, st)
		b.putFormat(t, `{"name":"acme","headers":{"X-Acme-User":"{{event.data.name}}"},"retry":{"schedule":["1s","1s","1s"]}}`)
		rc := newReceiver(t)
		// user.* only: the failure event this raises goes elsewhere.
		b.endpoint(t, rc.URL, []string{"user.*"}, func(e *store.Endpoint) { e.Format = "acme" })
		b.run(t)

		bad := b.send(t, "user.created", `{"name":"a\r\nInjected: yes"}`)
		d := b.waitStatus(t, bad.Deliveries[0].ID, store.StatusFailed, 10*time.Second)
		atts, err := st.DeliveryAttempts(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 1 || !strings.Contains(atts[0].Error, "header X-Acme-User") || d.NextAttemptAt != nil {
			t.Fatalf("delivery %s, attempts %+v: want one failed attempt naming header X-Acme-User and no retry", d.Status, atts)
		}
		if n := len(rc.got()); n != 0 {
			t.Fatalf("receiver got %d requests, want none", n)
		}

		good := b.send(t, "user.created", `{"name":"Zoë"}`)
		b.waitStatus(t, good.Deliveries[0].ID, store.StatusDelivered, 10*time.Second)
		if got := rc.got(); len(got) != 1 || got[0].header.Get("X-Acme-User") != "Zoë" {
			t.Fatalf("receiver got %d requests, want the one good event with X-Acme-User: Zoë", len(got))
		}
	})
}
