package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The batch record that the engine's completer writes with: each row as
// DeliveryRecordAttempt would record it, fenced on its own.

// outcome is one row of a batch: an attempt of delivery id by owner.
func outcome(id, owner, status string, now time.Time, next *time.Time, code int, body string) *store.AttemptRecordParams {
	return &store.AttemptRecordParams{
		DeliveryID: id, Owner: owner, Status: status, NextAttemptAt: next, Now: now,
		Attempt: &store.Attempt{StartedAt: now, DurationMS: 7, ResponseCode: code, ResponseBody: "answer " + id},
		Body:    []byte(body),
	}
}

func testRecordAttemptsMixed(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	var ids []string
	for i := range 5 {
		ids = append(ids, mkEvent(t, st, "acme", "user.created", t0.Add(time.Duration(i)*time.Millisecond)).Deliveries[0].ID)
	}
	// The oldest four are w's; ids[4] is another engine's.
	wantIDs(t, "w's claim", deliveryIDs(claim(t, st, "w", t0.Add(time.Second), 4, 10)), ids[:4])
	wantIDs(t, "other's claim", deliveryIDs(claim(t, st, "other", t0.Add(time.Second), 1, 10)), ids[4:])
	now := t0.Add(time.Second)
	retryAt := now.Add(time.Minute)
	batch := []*store.AttemptRecordParams{
		outcome(ids[0], "w", store.StatusDelivered, now, nil, 200, "b0"),
		outcome(ids[1], "w", store.StatusRetrying, now, &retryAt, 503, "b1"),
		outcome(ids[4], "w", store.StatusDelivered, now, nil, 200, "lost"), // the lease is other's
		outcome(ids[2], "w", store.StatusFailed, now, nil, 400, "b2"),
		outcome("dlv_missing", "w", store.StatusDelivered, now, nil, 200, "x"), // no such delivery
		outcome(ids[3], "w", store.StatusRetrying, now, nil, 500, "bad"),       // retrying without a time
		outcome(ids[0], "w", store.StatusDelivered, now, nil, 200, "again"),    // ids[0] twice in one batch
	}
	res := do(st.DeliveryRecordAttempts(ctx, batch)).must(t)
	if len(res) != len(batch) {
		t.Fatalf("%d results for a batch of %d", len(res), len(batch))
	}
	for i, want := range map[int]string{0: ids[0], 1: ids[1], 3: ids[2]} {
		a := res[i].Attempt
		if res[i].Err != nil || a == nil {
			t.Fatalf("row %d: %+v, want it recorded", i, res[i])
		}
		if a.DeliveryID != want || a.Number != 1 || !strings.HasPrefix(a.ID, "att_") || a.ResponseCode != batch[i].Attempt.ResponseCode {
			t.Errorf("row %d recorded as %+v, want attempt 1 of %s with code %d", i, a, want, batch[i].Attempt.ResponseCode)
		}
	}
	wantErr(t, res[2].Err, store.ErrLeaseLost, "a row whose lease is another's")
	wantErr(t, res[4].Err, store.ErrNotFound, "a row of a missing delivery")
	if res[5].Err == nil {
		t.Error("a row retrying with no next attempt time: no error, want one")
	}
	wantErr(t, res[6].Err, store.ErrLeaseLost, "a second row for one delivery in one batch")
	for _, i := range []int{2, 4, 5, 6} {
		if res[i].Attempt != nil {
			t.Errorf("refused row %d has an attempt %+v", i, res[i].Attempt)
		}
	}

	for _, c := range []struct {
		id, status string
		attempts   int
		code       int
		next       *time.Time
	}{
		{ids[0], store.StatusDelivered, 1, 200, nil},
		{ids[1], store.StatusRetrying, 1, 503, ptr(us(retryAt))},
		{ids[2], store.StatusFailed, 1, 400, nil},
		{ids[3], store.StatusDelivering, 0, 0, nil},
		{ids[4], store.StatusDelivering, 0, 0, nil},
	} {
		d := do(st.DeliveryGet(ctx, "acme", c.id)).must(t)
		if d.Status != c.status || d.Attempts != c.attempts || d.SeriesAttempts != c.attempts || d.LastStatusCode != c.code {
			t.Errorf("delivery %s after the batch: %+v, want %s with %d attempts, last code %d", c.id, d, c.status, c.attempts, c.code)
		}
		sameTimePtr(t, "NextAttemptAt of "+c.id, d.NextAttemptAt, c.next)
		if c.attempts > 0 {
			sameTime(t, "UpdatedAt of "+c.id, d.UpdatedAt, us(now))
		}
		atts := do(st.DeliveryAttempts(ctx, c.id)).must(t)
		if len(atts) != c.attempts {
			t.Fatalf("delivery %s has %d attempts stored, want %d", c.id, len(atts), c.attempts)
		}
		if c.attempts == 1 && (atts[0].ResponseBody != "answer "+c.id || atts[0].DurationMS != 7 || atts[0].ResponseCode != c.code) {
			t.Errorf("stored attempt of %s: %+v, want its own answer, 7 ms, code %d", c.id, atts[0], c.code)
		}
	}
	// The refused rows left the leases as they were: w still holds ids[3]
	// and records it, other still holds ids[4].
	record(t, st, "w", ids[3], store.StatusDelivered, now, nil)
	record(t, st, "other", ids[4], store.StatusDelivered, now, nil)

	if res, err := st.DeliveryRecordAttempts(ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("an empty batch: %v, %v; want no results and no error", res, err)
	}
}

func testRecordAttemptsNumbering(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	a := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	now := t0
	claim(t, st, "w", now, 1, 10)
	next := now.Add(time.Second)
	res := do(st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{
		outcome(a, "w", store.StatusRetrying, now, &next, 500, "a"),
	})).must(t)
	if res[0].Err != nil || res[0].Attempt.Number != 1 {
		t.Fatalf("first batch: %+v, want attempt 1", res[0])
	}

	// The second batch holds a's second attempt beside b's first.
	now = next
	b := mkEvent(t, st, "acme", "user.created", now.Add(-time.Millisecond)).Deliveries[0].ID
	wantIDs(t, "second claim", deliveryIDs(claim(t, st, "w", now, 2, 10)), []string{b, a})
	next = now.Add(time.Second)
	res = do(st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{
		outcome(b, "w", store.StatusRetrying, now, &next, 500, "b"),
		outcome(a, "w", store.StatusRetrying, now, &next, 500, "a"),
	})).must(t)
	if res[0].Err != nil || res[0].Attempt.Number != 1 || res[1].Err != nil || res[1].Attempt.Number != 2 {
		t.Fatalf("second batch: %+v, %+v; want b's attempt 1 and a's attempt 2", res[0], res[1])
	}

	// A new series keeps counting attempts and restarts the series count.
	now = next
	claim(t, st, "w", now, 2, 10)
	res = do(st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{
		outcome(a, "w", store.StatusFailed, now, nil, 500, "a"),
		outcome(b, "w", store.StatusDelivered, now, nil, 200, "b"),
	})).must(t)
	do(st.DeliveryRetry(ctx, "acme", a, now)).must(t)
	claim(t, st, "w", now, 1, 10)
	res = append(res, do(st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{
		outcome(a, "w", store.StatusDelivered, now, nil, 200, "a"),
	})).must(t)...)
	for i, want := range []int{3, 2, 4} {
		if res[i].Err != nil || res[i].Attempt.Number != want {
			t.Errorf("third and fourth batches, row %d: %+v, want attempt %d", i, res[i], want)
		}
	}
	d := do(st.DeliveryGet(ctx, "acme", a)).must(t)
	if d.Attempts != 4 || d.SeriesAttempts != 1 || d.Status != store.StatusDelivered {
		t.Errorf("a after its new series: %+v, want 4 attempts, 1 in the series, delivered", d)
	}
	for id, n := range map[string]int{a: 4, b: 2} {
		atts := do(st.DeliveryAttempts(ctx, id)).must(t)
		if len(atts) != n {
			t.Fatalf("%s has %d attempts, want %d", id, len(atts), n)
		}
		for i, att := range atts {
			if att.Number != i+1 {
				t.Errorf("%s's attempt %d is numbered %d", id, i+1, att.Number)
			}
		}
	}
}

// A delivered delivery keeps no body: none of its attempts will follow
// but a person's retry, which renders it again. One that failed for good
// keeps the bytes it sent, so its retry sends them again; and a body kept
// by a failed attempt stays when the retry's attempt delivers.
func testRecordAttemptsBodyKeptForLaterAttempts(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	ok := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	bad := mkEvent(t, st, "acme", "user.created", t0.Add(time.Millisecond)).Deliveries[0].ID
	now := t0.Add(time.Second)
	bodyOf := func(round int, want map[string]string) {
		t.Helper()
		got := claim(t, st, "w", now, 2, 10)
		if len(got) != len(want) {
			t.Fatalf("round %d: claimed %d, want %d", round, len(got), len(want))
		}
		for _, c := range got {
			w, kept := want[c.Delivery.ID], want[c.Delivery.ID] != ""
			if string(c.Body) != w || kept != (c.Body != nil) {
				t.Errorf("round %d: %s claimed with body %q (nil %v), want %q", round, c.Delivery.ID, c.Body, c.Body == nil, w)
			}
		}
	}
	bodyOf(0, map[string]string{ok: "", bad: ""})
	// Each round records both deliveries' attempts, retries both, and
	// claims them again.
	type sent struct {
		status string
		code   int
		body   string
	}
	for i, round := range []struct {
		ok, bad sent
		want    map[string]string
	}{
		{sent{store.StatusDelivered, 200, `{"ok":1}`}, sent{store.StatusFailed, 500, `{"bad":1}`}, map[string]string{ok: "", bad: `{"bad":1}`}},
		{sent{store.StatusFailed, 500, `{"ok":2}`}, sent{store.StatusDelivered, 200, `{"bad":2}`}, map[string]string{ok: `{"ok":2}`, bad: `{"bad":1}`}},
	} {
		do(st.DeliveryRecordAttempts(ctx, []*store.AttemptRecordParams{
			outcome(ok, "w", round.ok.status, now, nil, round.ok.code, round.ok.body),
			outcome(bad, "w", round.bad.status, now, nil, round.bad.code, round.bad.body),
		})).must(t)
		for _, id := range []string{ok, bad} {
			do(st.DeliveryRetry(ctx, "acme", id, now)).must(t)
		}
		now = now.Add(time.Second)
		bodyOf(i+1, round.want)
	}
}

func testRecordAttemptsBodyStoredOnce(t *testing.T, st store.Store) {
	ctx := ctxT(t)
	mkTenant(t, st, "acme")
	mkEndpoint(t, st, "acme")
	a := mkEvent(t, st, "acme", "user.created", t0).Deliveries[0].ID
	b := mkEvent(t, st, "acme", "user.created", t0.Add(time.Millisecond)).Deliveries[0].ID
	now := t0.Add(time.Second)
	bodies := map[string][]byte{}
	for i, sent := range []struct{ a, b string }{{`{"a":1}`, ""}, {`{"a":2}`, `{"b":2}`}, {`{"a":3}`, `{"b":3}`}} {
		got := claim(t, st, "w", now, 2, 10)
		if len(got) != 2 {
			t.Fatalf("round %d: claimed %d, want 2", i, len(got))
		}
		for _, c := range got {
			want, ok := bodies[c.Delivery.ID]
			if string(c.Body) != string(want) || ok != (c.Body != nil) {
				t.Fatalf("round %d: %s claimed with body %q (nil %v), want %q (stored %v)", i, c.Delivery.ID, c.Body, c.Body == nil, want, ok)
			}
		}
		next := now.Add(time.Second)
		rows := []*store.AttemptRecordParams{
			outcome(a, "w", store.StatusRetrying, now, &next, 500, sent.a),
			outcome(b, "w", store.StatusRetrying, now, &next, 500, sent.b),
		}
		do(st.DeliveryRecordAttempts(ctx, rows)).must(t)
		for _, r := range rows {
			if _, ok := bodies[r.DeliveryID]; !ok {
				// The first body sent is the one kept, even empty.
				bodies[r.DeliveryID] = r.Body
			}
		}
		now = next
	}
}
