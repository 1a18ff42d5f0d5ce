package delivery

import (
	"encoding/json"

	"github.com/heraldhq/herald/internal/store"
)

// Operator notices: every notice raised for a tenant's endpoints (a
// failure notice, an endpoint disabled) is also an event of the operator's
// tenant (store.OperatorTenant), stored in the same transaction, for the
// endpoints the operator registered: Svix's operational webhooks. The
// store matches and delivers it as any event, so the operator's endpoints
// have their filters, retries, attempts and health; the tenant's own
// endpoints get the tenant's notice as before, when their filter matches.
//
// The operator's event keeps the notice's id, trace and data, with
// "tenant_id" first in the data, and its type is the default name of its
// kind (format.DefaultFailureEventType, format.DefaultDisabledEventType)
// whatever the tenant's format calls it: the operator's receivers hear of
// every tenant in one vocabulary. A notice about one of the operator's own
// endpoints (one disabled) is the operator's already: it is stored once,
// in that form, with "tenant_id": null.

// withOperator returns the notices ps, each followed by the operator's
// event of it, of type typ; a notice of the operator's own tenant is
// replaced by it.
func withOperator(ps []*store.EventCreateParams, typ string) []*store.EventCreateParams {
	out := make([]*store.EventCreateParams, 0, 2*len(ps))
	for _, p := range ps {
		if p.Event.TenantID != store.OperatorTenant {
			out = append(out, p)
		}
		out = append(out, operatorNotice(p, typ))
	}
	return out
}

// operatorNotice is the operator's event of the notice p, of type typ.
func operatorNotice(p *store.EventCreateParams, typ string) *store.EventCreateParams {
	ev := *p.Event
	var tenant any // null: the notice is about an operator endpoint
	if ev.TenantID != store.OperatorTenant {
		tenant = ev.TenantID
	}
	t, err := json.Marshal(tenant)
	if err != nil {
		panic("delivery: marshal a tenant id: " + err.Error()) // a string or nil
	}
	// A notice's data is an object of Herald's own, never empty.
	data := append(append([]byte(`{"tenant_id":`), t...), ',')
	data = append(data, ev.Data[1:]...)
	ev.TenantID, ev.Type, ev.Data = store.OperatorTenant, typ, canonical(data)
	ev.Hash = store.EventHash(ev.Type, ev.Data)
	q := *p
	q.Event = &ev
	return &q
}
