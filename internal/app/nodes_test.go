package app_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// A node started with other destination settings than a live peer on the
// same database warns at start, naming both settings; one that agrees
// with every live peer says nothing; a stopped node's row is gone, so it
// no longer counts.
func TestNodes_WarnAtStartWhenDestinationSettingsDiffer(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	start := func(allowPrivate bool) (log *lockedBuffer, stop func() error) {
		log = &lockedBuffer{}
		_, stop = runServer(t, &app.Config{DatabaseURL: db, AllowPrivateDestinations: allowPrivate},
			slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn})))
		return log, stop
	}
	const warning = "destination settings differ from another node's"

	strict, stopStrict := start(false)
	if strings.Contains(strict.String(), warning) {
		t.Errorf("the first node warned:\n%s", strict)
	}
	lax, stopLax := start(true)
	if got := lax.String(); !strings.Contains(got, warning) ||
		!strings.Contains(got, `settings="allow_private_destinations=true"`) || !strings.Contains(got, `other_settings="allow_private_destinations=false"`) {
		t.Errorf("a node allowing private destinations beside one refusing them logged:\n%s\nwant a warning naming both settings", got)
	}
	if strings.Contains(strict.String(), warning) {
		t.Errorf("the node already running warned; only the starting one should:\n%s", strict)
	}

	if err := stopStrict(); err != nil {
		t.Fatal(err)
	}
	agreeing, stopAgreeing := start(true)
	if strings.Contains(agreeing.String(), warning) {
		t.Errorf("a node agreeing with every running node warned (the stopped one's row should be gone):\n%s", agreeing)
	}
	if err := stopAgreeing(); err != nil {
		t.Fatal(err)
	}
	if err := stopLax(); err != nil {
		t.Fatal(err)
	}

	path, _ := sqlite.PathFromURL(db)
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if nodes, err := st.NodeList(context.Background(), time.Time{}); err != nil || len(nodes) != 0 {
		t.Errorf("nodes left after every node stopped: %+v, %v", nodes, err)
	}
}

// A running node refreshes its row every minute, on its clock, so that its
// peers count it as live.
func TestNodes_HeartbeatRefreshesTheRow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	fake := clock.NewFake(start)
	runServer(t, &app.Config{DatabaseURL: "sqlite:" + path, Clock: fake}, nil)
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if nodes, err := st.NodeList(ctx, start); err != nil || len(nodes) != 1 || !nodes[0].SeenAt.Equal(start) {
		t.Fatalf("nodes at start: %+v, %v; want this one, seen at the start", nodes, err)
	}
	// The heartbeat's timer is set once Run has started: move the clock a
	// minute at a time until the row shows a later visit.
	deadline := time.Now().Add(30 * time.Second)
	for {
		fake.Advance(time.Minute)
		nodes, err := st.NodeList(ctx, start.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node's row was not refreshed after the clock moved on")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
