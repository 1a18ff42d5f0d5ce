package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Options gives Run what some behaviours need beyond one store.
type Options struct {
	// OpenNodes opens n Stores on one fresh database, as n Herald nodes (or
	// processes) would, migrated when migrate is set. Required.
	OpenNodes func(t *testing.T, n int, migrate bool) []store.Store
	// SharedListen says that Listen on one Store hears commits made through
	// another Store on the same database (PostgreSQL NOTIFY). SQLite's
	// signal is in-process, per Store.
	SharedListen bool
}

// Run runs the whole suite, one parallel subtest per behaviour. open returns
// a fresh, migrated, empty store that is closed when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts Options) {
	if opts.OpenNodes == nil {
		t.Fatal("storetest.Run: Options.OpenNodes is required")
	}
	type test struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}
	single := []test{
		{"Ping", testPing},
		{"MigrateAgain", testMigrateAgain},
		{"Nodes", testNodes},
		{"TenantCreateGet", testTenantCreateGet},
		{"TenantPortalOrigins", testTenantPortalOrigins},
		{"SettingInit", testSettingInit},
		{"TenantUpdate", testTenantUpdate},
		{"TenantListPages", testTenantListPages},
		{"TenantDeleteCascades", testTenantDeleteCascades},
		{"Keys", testKeys},
		{"KeyList", testKeyList},
		{"KeyDelete", testKeyDelete},
		{"KeyTouch", testKeyTouch},
		{"Stats", testStats},
		{"DeliveryFinishedCounts", testDeliveryFinishedCounts},
		{"DeliveryLatencies", testDeliveryLatencies},
		{"EndpointListDisabled", testEndpointListDisabled},
		{"Formats", testFormats},
		{"FormatDeleteInUse", testFormatDeleteInUse},
		{"EventTypes", testEventTypes},
		{"EndpointCreateGet", testEndpointCreateGet},
		{"EndpointUpdate", testEndpointUpdate},
		{"EndpointListPages", testEndpointListPages},
		{"EndpointTenantIsolation", testEndpointTenantIsolation},
		{"EndpointDeleteKeepsDeliveries", testEndpointDeleteKeepsDeliveries},
		{"EndpointDeleteReleased", testEndpointDeleteReleased},
		{"EndpointCreateCapped", testEndpointCreateCapped},
		{"EventCreateSkipsFailing", testEventCreateSkipsFailing},
		{"EventCreateMatchesFilters", testEventCreateMatchesFilters},
		{"EventCreateExplicitEndpoints", testEventCreateExplicitEndpoints},
		{"EventCreateLeased", testEventCreateLeased},
		{"EventCreateIdempotent", testEventCreateIdempotent},
		{"EventCreateConcurrentDuplicates", testEventCreateConcurrentDuplicates},
		{"EventCreateKeepsDataBytes", testEventCreateKeepsDataBytes},
		{"EventCreateMissingTenant", testEventCreateMissingTenant},
		{"EventCreateManyAnswersEachEvent", testEventCreateManyAnswersEachEvent},
		{"EventCreateManyRepeatsInOneBatch", testEventCreateManyRepeatsInOneBatch},
		{"EventCreateManyHandsOff", testEventCreateManyHandsOff},
		{"EventGetList", testEventGetList},
		{"DeliveryGetList", testDeliveryGetList},
		{"DeliveryClaimDue_Basic", testClaimBasic},
		{"DeliveryClaimDue_EachItsEndpoint", testClaimEachItsEndpoint},
		{"DeliveryClaimDue_OldestFirstAndLimit", testClaimOldestFirstAndLimit},
		{"DeliveryClaimDue_CapsPerEndpoint", testClaimCapsPerEndpoint},
		{"DeliveryClaimDue_SettlingLeasesDoNotCount", testClaimSettlingLeasesDoNotCount},
		{"EventCreateMany_HandOffFullOfOwnActiveLeases", testHandOffFullOfOwnActiveLeases},
		{"DeliveryClaimDue_OwnFactor", testClaimOwnFactor},
		{"DeliveryClaimDue_OneAtATimeAfterFailures", testClaimOneAtATimeAfterFailures},
		{"DeliveryClaimDue_EndpointsOwnCap", testClaimEndpointsOwnCap},
		{"EndpointMaxInFlightRoundTrips", testEndpointMaxInFlightRoundTrips},
		{"DeliveryClaimDue_BacklogDoesNotStarve", testClaimBacklogDoesNotStarve},
		{"DeliveryClaimDue_SharesTenants", testClaimSharesTenants},
		{"DeliveryClaimDue_RateLimitTurns", testClaimRateLimitTurns},
		{"EventCreateManyHandsOffRateLimitTurns", testHandOffRateLimitTurns},
		{"EventCreateManyHandsOffTenantShare", testEventCreateManyHandsOffTenantShare},
		{"DeliveryClaimDue_SkipsDisabled", testClaimSkipsDisabled},
		{"DeliveryClaimDue_ExpiredLease", testClaimExpiredLease},
		{"DeliveryClaimDue_Concurrent", testClaimConcurrent},
		{"DeliveryClaimDue_BadParams", testClaimBadParams},
		{"DeliveryRecordAttempt", testRecordAttempt},
		{"DeliveryRecordAttempt_Fenced", testRecordAttemptFenced},
		{"DeliveryRecordAttempt_BodyStoredOnce", testRecordAttemptBodyStoredOnce},
		{"DeliveryRecordAttempts_Mixed", testRecordAttemptsMixed},
		{"DeliveryRecordAttempts_Numbering", testRecordAttemptsNumbering},
		{"DeliveryRecordAttempts_BodyStoredOnce", testRecordAttemptsBodyStoredOnce},
		{"DeliveryRecordAttempts_BodyKeptForLaterAttempts", testRecordAttemptsBodyKeptForLaterAttempts},
		{"DeliveryRelease", testRelease},
		{"DeliveryExtendLeases", testExtendLeases},
		{"DeliveryRetry", testRetry},
		{"DeliveryRetryNow", testRetryNow},
		{"DeliveryRetryNow_Many", testRetryNowMany},
		{"DeliveryList_Filters", testDeliveryListFilters},
		{"EventList_Window", testEventListWindow},
		{"EventTypeUpdate", testEventTypeUpdate},
		{"EventTypeDelete", testEventTypeDelete},
		{"ReplayWindowAndFilters", testReplayWindowAndFilters},
		{"ReplayBatchesResume", testReplayBatchesResume},
		{"ReplayNeverResendsSucceeded", testReplayNeverResendsSucceeded},
		{"ReplayDelivered", testReplayDelivered},
		{"ReplayLease", testReplayLease},
		{"ReplayEndpointDeleted", testReplayEndpointDeleted},
		{"ReplayListPages", testReplayListPages},
		{"ReplayDeleteFinished", testReplayDeleteFinished},
		{"EventDeleteFinished", testEventDeleteFinished},
		{"EventDeleteFinished_Batches", testEventDeleteFinishedBatches},
		{"EventDeleteFinished_KeepsRetried", testEventDeleteFinishedKeepsRetried},
		{"EndpointPurgeDeleted", testEndpointPurgeDeleted},
		{"OperatorTenant_HiddenFromTenantMethods", testOperatorTenantHidden},
		{"LeaseTake", testLeaseTake},
		{"DeliveryNextDue", testNextDue},
		{"Listen_WakesOnDueWork", testListenWakes},
		{"Listen_ClosesWithContext", testListenCloses},
		{"Listen_ClosesWithStore", testListenClosesWithStore},
		{"Idempotency", testIdempotency},
		{"Idempotency_ReserveComplete", testIdempotencyReserveComplete},
		{"Idempotency_CompleteMissing", testIdempotencyCompleteMissing},
		{"Idempotency_Release", testIdempotencyRelease},
		{"Idempotency_ReleaseKeepsAnswers", testIdempotencyReleaseKeepsAnswers},
		{"Idempotency_ReleaseAbandoned", testIdempotencyReleaseAbandoned},
		{"Idempotency_TakeOverAbandoned", testIdempotencyTakeOverAbandoned},
		{"Idempotency_TenantDeleteDeletesItsRecords", testIdempotencyTenantDeleteDeletesItsRecords},
		{"Idempotency_ReleaseExpired", testIdempotencyReleaseExpired},
		{"Idempotency_DeleteExpired", testIdempotencyDeleteExpired},
		{"TimesAreUTCMicroseconds", testTimesUTC},
		{"Lists_RefuseHostileCursors", testListsRefuseHostileCursors},
		{"Lists_TakeEdgeCursors", testListsTakeEdgeCursors},
		{"ListsStopAtByteBudget", testListsStopAtByteBudget},
		{"DeliveryAttemptsLatest", testDeliveryAttemptsLatest},
		{"EndpointHealth", testEndpointHealth},
		{"EndpointDisable_Gone", testEndpointDisableGone},
		{"EndpointDisable_Failing", testEndpointDisableFailing},
		{"EndpointDisabledReasons", testEndpointDisabledReasons},
		{"EventCreateForDisabled", testEventCreateForDisabled},
	}
	for _, tc := range single {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
		// Every claim test again with each claim probing first: a probe
		// must never hide what the claim would take, nor take anything
		// the claim would not.
		if strings.HasPrefix(tc.name, "DeliveryClaimDue_") {
			t.Run(tc.name+"_Probing", func(t *testing.T) {
				t.Parallel()
				tc.fn(t, probing{open(t)})
			})
		}
	}

	nodes := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T, n int, migrate bool) []store.Store)
	}{
		{"Nodes_MigrateConcurrently", testMigrateConcurrently},
		{"Nodes_MigrateUpSaysWhatItApplied", testMigrateUpSaysWhatItApplied},
		{"Nodes_ClaimConcurrently", testClaimConcurrentNodes},
		{"Nodes_CapAcrossNodes", testCapAcrossNodes},
		{"Nodes_EndpointCreateCappedConcurrently", testEndpointCreateCappedConcurrently},
		{"Nodes_EventCreateConcurrentDuplicates", testEventCreateDuplicatesAcrossNodes},
		{"Nodes_KeyDeleteLastAdminRace", testKeyDeleteLastAdminRace},
		{"Nodes_KeyDeleteSeenByEveryNode", testKeyDeleteSeenByEveryNode},
		{"Nodes_ReplayClaimConcurrently", testReplayClaimAcrossNodes},
		{"Nodes_LeaseTakeConcurrently", testLeaseTakeAcrossNodes},
	}
	for _, tc := range nodes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, opts.OpenNodes)
		})
	}
	if opts.SharedListen {
		t.Run("Nodes_ListenHearsOtherNode", func(t *testing.T) {
			t.Parallel()
			testListenAcrossNodes(t, opts.OpenNodes)
		})
	}
}

// t0 is the suite's fake "now": far from the real clock, and with
// nanoseconds that a store must truncate to microseconds.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

// us is t as a store returns it.
func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// result carries a call's two results to must, so a call reads
// do(st.TenantGet(ctx, id)).must(t).
type result[T any] struct {
	v   T
	err error
}

func do[T any](v T, err error) result[T] { return result[T]{v, err} }

// must fails the test on an error and returns the value otherwise.
func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func wantErr(t *testing.T, err, kind error, what string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want %v", what, err, kind)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v in UTC", what, got, want)
	}
}

func sameTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, got, want)
	default:
		sameTime(t, what, *got, *want)
	}
}

func ptr[T any](v T) *T { return &v }

// mkTenant creates a tenant named id.
func mkTenant(t *testing.T, st store.Store, id string) *store.Tenant {
	t.Helper()
	return do(st.TenantCreate(ctxT(t), &store.Tenant{ID: id, Name: "Tenant " + id})).must(t)
}

// mkEndpoint creates an enabled endpoint receiving every event, changed by
// mods first.
func mkEndpoint(t *testing.T, st store.Store, tenantID string, mods ...func(*store.Endpoint)) *store.Endpoint {
	t.Helper()
	e := &store.Endpoint{
		TenantID: tenantID,
		URL:      "https://example.com/hook",
		Events:   []string{"*"},
		Secret:   "whsec_test",
		Enabled:  true,
	}
	for _, m := range mods {
		m(e)
	}
	return do(st.EndpointCreate(ctxT(t), e)).must(t)
}

func filters(f ...string) func(*store.Endpoint) {
	return func(e *store.Endpoint) { e.Events = f }
}

func disabled(e *store.Endpoint) { e.Enabled = false }

// mkEvent posts an event of type typ at now and returns what was stored.
func mkEvent(t *testing.T, st store.Store, tenantID, typ string, now time.Time) *store.EventCreateResult {
	t.Helper()
	return do(st.EventCreate(ctxT(t), &store.EventCreateParams{
		Event: newEvent(tenantID, "", typ, `{"n":1}`),
		Now:   now,
	})).must(t)
}

func newEvent(tenantID, id, typ, data string) *store.Event {
	return &store.Event{
		TenantID: tenantID,
		ID:       id,
		Type:     typ,
		Data:     json.RawMessage(data),
		Hash:     "hash:" + typ + ":" + data,
		TraceID:  "0123456789abcdef0123456789abcdef",
		Source:   store.SourceAPI,
	}
}

// claim claims with the given limits and a one-minute lease.
func claim(t *testing.T, st store.Store, owner string, now time.Time, limit, perEndpoint int) []*store.Claimed {
	t.Helper()
	return do(st.DeliveryClaimDue(ctxT(t), &store.DeliveryClaimParams{
		Owner: owner, Now: now, Lease: time.Minute, Limit: limit, PerEndpoint: perEndpoint,
	})).must(t)
}

// record records one attempt of a claimed delivery.
func record(t *testing.T, st store.Store, owner, deliveryID, status string, now time.Time, next *time.Time) *store.Attempt {
	t.Helper()
	return do(st.DeliveryRecordAttempt(ctxT(t), &store.AttemptRecordParams{
		DeliveryID:    deliveryID,
		Owner:         owner,
		Attempt:       &store.Attempt{StartedAt: now, DurationMS: 12, ResponseCode: 200, ResponseBody: "ok"},
		Status:        status,
		NextAttemptAt: next,
		Body:          []byte(`{"sent":true}`),
		Now:           now,
	})).must(t)
}

func deliveryIDs(cs []*store.Claimed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Delivery.ID
	}
	return out
}

func countBy(cs []*store.Claimed, key func(*store.Claimed) string) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[key(c)]++
	}
	return m
}

func byEndpoint(c *store.Claimed) string { return c.Delivery.EndpointID }

func byTenant(c *store.Claimed) string { return c.Delivery.TenantID }

// walk reads every page of a list through store.Page and returns the rows
// in order and how many pages it took.
func walk[T store.Sized](t *testing.T, limit int, list func(cursor string) ([]T, error)) (all []T, pages int) {
	t.Helper()
	return walkPages(t, &store.ListParams{Limit: limit}, list)
}

// walkPages is walk of pages of p's limit and byte budget. Each answer
// must be the page and at most one row more.
func walkPages[T store.Sized](t *testing.T, p *store.ListParams, list func(cursor string) ([]T, error)) (all []T, pages int) {
	t.Helper()
	cursor := ""
	for {
		rows, err := list(cursor)
		if err != nil {
			t.Fatalf("list page %d: %v", pages+1, err)
		}
		page, next := store.Page(rows, p)
		if len(rows) > len(page)+1 {
			t.Fatalf("list page %d returned %d rows for a page of %d, want at most one row more than the page", pages+1, len(rows), len(page))
		}
		all = append(all, page...)
		pages++
		if next == "" {
			return all, pages
		}
		if pages > 1000 {
			t.Fatal("list never ends")
		}
		cursor = next
	}
}

// wantBadCursor checks that a list rejects a cursor it did not make.
func wantBadCursor(t *testing.T, what string, err error) {
	t.Helper()
	var ve *herald.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Location != "query.cursor" {
		t.Fatalf("%s with a bad cursor: got %v, want a ValidationError at query.cursor", what, err)
	}
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func ids[T any](rows []T, id func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}

func tenantName(i int) string { return fmt.Sprintf("tenant-%02d", i) }

// waitWake waits for a value on ch.
func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: Listen channel closed, want a wake-up", what)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no wake-up within 10s", what)
	}
}

// drain empties ch of wake-ups already sent.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// probing is a store whose every claim probes first
// (store.DeliveryClaimParams.Probe).
type probing struct{ store.Store }

func (p probing) DeliveryClaimDue(ctx context.Context, cp *store.DeliveryClaimParams) ([]*store.Claimed, error) {
	c := *cp
	c.Probe = true
	return p.Store.DeliveryClaimDue(ctx, &c)
}
