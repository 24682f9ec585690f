package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/worker"
)

// turnNotifier stands in for Slack: the notices of some requests must
// wait for their turn (as in a paced channel) through the worker's Wait.
type turnNotifier struct {
	w    *worker.Worker
	wait map[string]time.Duration // request ID -> turn, from the first attempt

	mu       sync.Mutex
	first    map[string]time.Time // request ID -> first attempt
	notified map[string]time.Time // request ID -> notice sent
	calls    map[string]int
	errs     []error
}

func (n *turnNotifier) Notify(ctx context.Context, no approval.Notice) error {
	id := no.Request.ID
	n.mu.Lock()
	if n.first == nil {
		n.first, n.notified, n.calls = map[string]time.Time{}, map[string]time.Time{}, map[string]int{}
	}
	if _, ok := n.first[id]; !ok {
		n.first[id] = time.Now()
	}
	n.calls[id]++
	turn := n.first[id].Add(n.wait[id])
	n.mu.Unlock()
	if err := n.w.Wait(ctx, time.Until(turn)); err != nil {
		if !errors.As(err, new(*worker.DeferError)) {
			n.mu.Lock()
			n.errs = append(n.errs, err)
			n.mu.Unlock()
		}
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notified[id] = time.Now()
	return nil
}

func (n *turnNotifier) sentAt(id string) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.notified[id]
	return at, ok
}

// startReal runs a worker with the real clock on a fresh store, with
// notifier n, and returns the service and the store.
func startReal(t *testing.T, n *turnNotifier, configure func(*worker.Worker)) (*approval.Service, approval.Store) {
	t.Helper()
	store, err := sqlitestore.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	allowed, _ := approval.ParseAllowEntry("collab-bucket")
	svc := approval.NewService(store, approval.Policy{
		Approvers: []string{"UAPP"}, ApprovalsRequired: 1, Allowed: approval.AllowList{allowed},
		MaxDuration: 12 * time.Hour, ExpiryWarning: 10 * time.Minute, ApprovalTimeout: time.Hour, MaxSession: time.Hour,
	}, &recorder{}, n)
	w := &worker.Worker{Service: svc, Outbox: store, Metrics: metrics.New(), Owner: "test", Log: zaptest.NewLogger(t)}
	if configure != nil {
		configure(w)
	}
	n.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; _ = w.Shutdown(context.Background()) })
	return svc, store
}

func submit(t *testing.T, svc *approval.Service, seed string) string {
	t.Helper()
	r, err := svc.Submit(context.Background(), approval.Draft{
		ID: approval.NewID(seed), Requester: "UREQ", Duration: time.Hour, Reason: "test",
		Scope: approval.Scope{Bucket: "collab-bucket", Prefix: "x/", Access: approval.AccessRead},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func waitSent(t *testing.T, n *turnNotifier, id string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if at, ok := n.sentAt(id); ok {
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("notice for %s not sent within %v", id, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWaitingDeliveryGivesUpItsSlot: with a single delivery slot, a notice
// waiting its channel's turn does not hold back one for another channel.
func TestWaitingDeliveryGivesUpItsSlot(t *testing.T) {
	t.Parallel()
	n := &turnNotifier{wait: map[string]time.Duration{}}
	svc, _ := startReal(t, n, func(w *worker.Worker) { w.Concurrency = 1 })
	slow := approval.NewID("slow")
	n.wait[slow] = 1500 * time.Millisecond
	start := time.Now()
	submit(t, svc, "slow")
	waitFirst(t, n, slow)
	fast := submit(t, svc, "fast")
	if d := waitSent(t, n, fast, 5*time.Second).Sub(start); d > 500*time.Millisecond {
		t.Errorf("the other notice went out %v after the start, behind the waiting one", d)
	}
	if d := waitSent(t, n, slow, 5*time.Second).Sub(start); d < 1500*time.Millisecond {
		t.Errorf("the waiting notice went out after %v, before its turn", d)
	}
	if len(n.errs) > 0 {
		t.Errorf("errors: %v", n.errs)
	}
}

func waitFirst(t *testing.T, n *turnNotifier, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n.mu.Lock()
		_, ok := n.first[id]
		n.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery of %s began", id)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFarTurnDefers: a turn further off than MaxWait sends the event back
// to the outbox, leased to nobody, until shortly before its turn; the
// deferral does not count as an attempt, and later notices of the same
// request still wait for it.
func TestFarTurnDefers(t *testing.T) {
	t.Parallel()
	n := &turnNotifier{wait: map[string]time.Duration{}}
	svc, store := startReal(t, n, func(w *worker.Worker) { w.MaxWait = 100 * time.Millisecond })
	id := approval.NewID("far")
	n.wait[id] = 1200 * time.Millisecond
	start := time.Now()
	submit(t, svc, "far")
	waitFirst(t, n, id)
	// Meanwhile the request is approved: its notice must wait for the
	// deferred one.
	if _, err := svc.Decide(context.Background(), id, "UAPP", approval.Approve); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	// Deferred: back in the outbox, leased to nobody, due before the turn.
	at, ok, err := store.Wake(context.Background())
	if err != nil || !ok {
		t.Fatalf("Wake = %v, %v, %v; want the deferred event", at, ok, err)
	}
	if turn := start.Add(1200 * time.Millisecond); at.After(turn) || at.Before(turn.Add(-time.Second)) {
		t.Errorf("deferred event due at %v after the start; want a little before its turn at 1.2s", at.Sub(start))
	}
	sent := waitSent(t, n, id, 5*time.Second)
	if d := sent.Sub(start); d < 1200*time.Millisecond || d > 2*time.Second {
		t.Errorf("notice went out %v after the start; want at its turn, 1.2s", d)
	}
	waitFor(t, "approval delivered", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.calls[id] >= 3
	})
	waitFor(t, "both notices marked delivered", func() bool {
		at, ok, err := store.Wake(context.Background())
		return err == nil && (!ok || at.After(time.Now().Add(time.Minute)))
	})
	for _, ev := range mustAudit(t, store, id) {
		if ev.Kind == approval.EventRequested && ev.Attempts != 1 {
			t.Errorf("requested event took %d attempts; want 1 (the deferral does not count)", ev.Attempts)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.calls[id] != 3 {
		t.Errorf("%d notifier calls for %s; want the deferred attempt, its return and the approval", n.calls[id], id)
	}
	if len(n.errs) > 0 {
		t.Errorf("errors: %v", n.errs)
	}
}

func mustAudit(t *testing.T, s approval.Store, id string) []approval.Event {
	t.Helper()
	evs, err := s.Audit(context.Background(), approval.AuditFilter{RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestChangesWakeWorker: work written by another replica, which this
// worker's service does not see, is taken up as soon as Changes fires,
// not at the next idle wake.
func TestChangesWakeWorker(t *testing.T) {
	changes := make(chan struct{}, 1)
	e := start(t, func(w *worker.Worker) { w.Changes = changes })
	e.idle(t)
	other := approval.NewService(e.store, e.svc.Policy, e.rec, e.rec)
	other.Now = e.clock.Now
	r, err := other.Submit(context.Background(), approval.Draft{
		ID: approval.NewID("elsewhere"), Requester: "UREQ", Duration: time.Hour, Reason: "test",
		Scope: approval.Scope{Bucket: "collab-bucket", Prefix: "x/", Access: approval.AccessRead},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(t, r.ID, approval.EventRequested, 0)
	changes <- struct{}{}
	e.expect(t, r.ID, approval.EventRequested, 1)
}
