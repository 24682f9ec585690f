package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap/zaptest"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/worker"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// recorder is a Notifier and Issuer that records what it is asked to do.
type recorder struct {
	mu      sync.Mutex
	notices []approval.Notice
	issued  int
	fail    int // fail this many Notify calls first
}

func (r *recorder) Notify(_ context.Context, n approval.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("slack is down")
	}
	r.notices = append(r.notices, n)
	return nil
}

func (r *recorder) Issue(_ context.Context, g approval.Grant) (approval.Link, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issued++
	return approval.Link{URL: "https://signin.example/login?t=secret", SessionEnds: t0.Add(g.Session)}, nil
}

// count returns how many notices of kind were delivered for id.
func (r *recorder) count(id string, kind approval.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, no := range r.notices {
		if no.Request.ID == id && no.Event.Kind == kind {
			n++
		}
	}
	return n
}

type env struct {
	clock *clockwork.FakeClock
	svc   *approval.Service
	store approval.Store
	rec   *recorder
}

// start runs a worker on a fresh store with a fake clock, configured
// further by configure.
func start(t *testing.T, configure ...func(*worker.Worker)) *env {
	t.Helper()
	store, err := sqlitestore.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	rec := &recorder{}
	allowed, _ := approval.ParseAllowEntry("collab-bucket")
	svc := approval.NewService(store, approval.Policy{
		Approvers: []string{"UAPP"}, ApprovalsRequired: 1, Allowed: approval.AllowList{allowed},
		MaxDuration: 12 * time.Hour, ExpiryWarning: 10 * time.Minute, ApprovalTimeout: time.Hour, MaxSession: time.Hour,
	}, rec, rec)
	svc.Now = clock.Now
	w := &worker.Worker{Service: svc, Outbox: store, Clock: clock, Metrics: metrics.New(), Owner: "test", Log: zaptest.NewLogger(t)}
	for _, c := range configure {
		c(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; _ = w.Shutdown(context.Background()) })
	return &env{clock: clock, svc: svc, store: store, rec: rec}
}

func (e *env) submit(t *testing.T, seed string, d time.Duration) *approval.Request {
	t.Helper()
	r, err := e.svc.Submit(context.Background(), approval.Draft{
		ID: approval.NewID(seed), Requester: "UREQ", Duration: d, Reason: "test",
		Scope: approval.Scope{Bucket: "collab-bucket", Prefix: "x/", Access: approval.AccessRead},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// settle waits until the worker has delivered want notices of kind for id,
// then lets it go idle, and checks that no more arrive.
func (e *env) expect(t *testing.T, id string, kind approval.EventKind, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.rec.count(id, kind) < want && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	e.idle(t)
	if got := e.rec.count(id, kind); got != want {
		t.Fatalf("%s notices for %s at +%v = %d; want %d", kind, id, e.clock.Now().Sub(t0), got, want)
	}
}

// idle waits until the worker sleeps on its timer with nothing in flight.
func (e *env) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("worker never went idle: %v", err)
	}
	time.Sleep(20 * time.Millisecond) // deliveries finishing wake it once more
	if err := e.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("worker never went idle: %v", err)
	}
}

// advanceTo moves the fake clock to t0+d.
func (e *env) advanceTo(t *testing.T, d time.Duration) {
	t.Helper()
	e.idle(t)
	e.clock.Advance(t0.Add(d).Sub(e.clock.Now()))
}

func TestWarningAndExpiryFireOnTime(t *testing.T) {
	e := start(t)
	r := e.submit(t, "a", 30*time.Minute)
	e.expect(t, r.ID, approval.EventRequested, 1)
	if _, err := e.svc.Decide(context.Background(), r.ID, "UAPP", approval.Approve); err != nil {
		t.Fatal(err)
	}
	e.expect(t, r.ID, approval.EventApproved, 1)

	e.advanceTo(t, 20*time.Minute-time.Millisecond) // warning due at +20m
	e.expect(t, r.ID, approval.EventWarned, 0)
	e.advanceTo(t, 20*time.Minute)
	e.expect(t, r.ID, approval.EventWarned, 1)

	e.advanceTo(t, 30*time.Minute-time.Millisecond)
	e.expect(t, r.ID, approval.EventExpired, 0)
	e.advanceTo(t, 30*time.Minute)
	e.expect(t, r.ID, approval.EventExpired, 1)

	e.advanceTo(t, 3*time.Hour)
	e.expect(t, r.ID, approval.EventWarned, 1)
	e.expect(t, r.ID, approval.EventExpired, 1)
	if e.rec.issued != 1 {
		t.Errorf("issued %d links; want 1", e.rec.issued)
	}
}

func TestApprovalTimeout(t *testing.T) {
	e := start(t)
	r := e.submit(t, "b", time.Hour)
	e.advanceTo(t, time.Hour-time.Millisecond)
	e.expect(t, r.ID, approval.EventTimedOut, 0)
	e.advanceTo(t, time.Hour)
	e.expect(t, r.ID, approval.EventTimedOut, 1)
	if _, err := e.svc.Decide(context.Background(), r.ID, "UAPP", approval.Approve); err == nil {
		t.Fatal("approving a timed-out request succeeded")
	}
}

// TestJumpPastManyDueTimes moves the clock past several requests' due
// times at once (as after a long outage): each fires exactly once.
func TestJumpPastManyDueTimes(t *testing.T) {
	e := start(t)
	var ids []string
	for i := range 5 {
		r := e.submit(t, fmt.Sprint("jump", i), time.Duration(15+10*i)*time.Minute)
		if _, err := e.svc.Decide(context.Background(), r.ID, "UAPP", approval.Approve); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	pending := e.submit(t, "pending", time.Hour)
	e.advanceTo(t, 5*time.Hour)
	for _, id := range ids {
		// Past the end, the warning is moot: only the expiry is sent.
		e.expect(t, id, approval.EventExpired, 1)
		e.expect(t, id, approval.EventWarned, 0)
	}
	e.expect(t, pending.ID, approval.EventTimedOut, 1)
}

func TestDeliveryRetried(t *testing.T) {
	e := start(t)
	e.rec.mu.Lock()
	e.rec.fail = 2
	e.rec.mu.Unlock()
	r := e.submit(t, "c", time.Hour)
	e.expect(t, r.ID, approval.EventRequested, 0)
	e.advanceTo(t, 2*time.Second) // first retry after 2 s
	e.expect(t, r.ID, approval.EventRequested, 0)
	e.advanceTo(t, 6*time.Second) // second after 4 s more
	e.expect(t, r.ID, approval.EventRequested, 1)
}
