package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/pgstore"
)

// startListener runs a Listener for dsn until the test ends and waits for
// the signal it gives once it listens.
func startListener(t *testing.T, dsn string, configure func(*pgstore.Listener)) *pgstore.Listener {
	t.Helper()
	l, err := pgstore.NewListener(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil once its context ends", err)
		}
	})
	expectSignal(t, l, "listening")
	return l
}

// expectSignal fails the test unless l signals within a second.
func expectSignal(t *testing.T, l *pgstore.Listener, what string) {
	t.Helper()
	select {
	case <-l.C():
	case <-time.After(time.Second):
		t.Fatalf("%s: no signal within 1s", what)
	}
}

// expectQuiet fails the test if l signals within 300 ms.
func expectQuiet(t *testing.T, l *pgstore.Listener, what string) {
	t.Helper()
	select {
	case <-l.C():
		t.Errorf("%s: signalled; want nothing", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestListenerHearsWrites: every write that may bring work forward, made
// through another store (another replica) on the same schema, reaches the
// listener within a second; reads and claims do not.
func TestListenerHearsWrites(t *testing.T) {
	t.Parallel()
	dsn := NewSchema(t)
	s := MustOpen(t, dsn)
	l := startListener(t, dsn, nil)
	ctx := t.Context()
	now := approvaltest.T0.Add(time.Minute)

	r, ev := approvaltest.Pending(approvaltest.ID("listen"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	expectSignal(t, l, "Create")

	if _, err := s.Get(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Claim(ctx, "A", now, time.Minute, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Claim = %v, %v; want the requested event", evs, err)
	}
	expectQuiet(t, l, "Get and Claim")

	if err := s.Defer(ctx, evs[0].Seq, "A", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, l, "Defer")
	evs = claimOne(t, s, now.Add(time.Second))
	if err := s.Retry(ctx, evs[0].Seq, "A", now.Add(2*time.Second), "boom"); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, l, "Retry")
	evs = claimOne(t, s, now.Add(2*time.Second))
	if err := s.Delivered(ctx, evs[0].Seq, "A", now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, l, "Delivered")
	if err := s.Delivered(ctx, evs[0].Seq, "A", now); !errors.Is(err, approval.ErrConflict) {
		t.Fatalf("Delivered twice = %v; want ErrConflict", err)
	}
	expectQuiet(t, l, "a refused Delivered")

	if _, _, err := s.Update(ctx, r.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.State, r.DecidedBy, r.DecidedAt = approval.StateDenied, "UAPP1", now
		return []approval.Event{{Kind: approval.EventDenied, At: now, Actor: "UAPP1", Notify: true}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, l, "Update")
	if err := s.Append(ctx, []approval.Event{{RequestID: r.ID, Kind: approval.EventLinkMinted, At: now, Notify: true}}); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, l, "Append")
	if _, _, err := s.Update(ctx, r.ID, func(r *approval.Request) ([]approval.Event, error) {
		return nil, errors.New("changed my mind")
	}); err == nil {
		t.Fatal("Update whose function fails succeeded")
	}
	expectQuiet(t, l, "an Update that wrote nothing")
}

func claimOne(t *testing.T, s approval.Store, now time.Time) []approval.Event {
	t.Helper()
	evs, err := s.Claim(t.Context(), "A", now, time.Minute, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Claim = %v, %v; want one event", evs, err)
	}
	return evs
}

// TestListenerOwnSchema: a store in another schema of the same database
// (another deployment) does not wake the listener.
func TestListenerOwnSchema(t *testing.T) {
	t.Parallel()
	l := startListener(t, NewSchema(t), nil)
	other := MustOpen(t, NewSchema(t))
	r, ev := approvaltest.Pending(approvaltest.ID("elsewhere"), "UREQ")
	approvaltest.MustCreate(t, other, r, ev)
	expectQuiet(t, l, "a write in another schema")
}

// TestListenerReconnects: when the server ends the listener's connection,
// the listener says why, connects again, signals (it may have missed
// something) and hears writes again.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	dsn := NewSchema(t)
	s := MustOpen(t, dsn)
	var mu sync.Mutex
	var errs []error
	l := startListener(t, dsn, func(l *pgstore.Listener) {
		l.MinBackoff, l.MaxBackoff = 50*time.Millisecond, 100*time.Millisecond
		l.OnError = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		}
	})
	db := s.DB()
	var n int
	listen := `LISTEN "` + pgstore.NotifyChannel(currentSchema(t, db)) + `"`
	if err := db.QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = $1 AND datname = current_database()`, listen).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d listening connections; want 1", n)
	}
	expectSignal(t, l, "reconnected")
	mu.Lock()
	if len(errs) == 0 {
		t.Error("OnError never told of the dropped connection")
	}
	mu.Unlock()
	r, ev := approvaltest.Pending(approvaltest.ID("after"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	expectSignal(t, l, "Create after the reconnection")
}

func currentSchema(t *testing.T, db *sql.DB) string {
	t.Helper()
	var schema string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}
