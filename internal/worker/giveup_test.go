package worker_test

import (
	"context"
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

// grantDMFails is a Notifier whose grant DMs always fail for a while (a
// temporary error, as when Slack keeps answering 429 or 5xx) and which
// records every other notice.
type grantDMFails struct {
	mu      sync.Mutex
	tries   int
	notices []approval.Notice
}

func (n *grantDMFails) Notify(_ context.Context, no approval.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if no.Event.Kind == approval.EventApproved {
		n.tries++
		return &approval.DeliveryError{Code: "ratelimited", Reason: "Slack kept asking to slow down", Temporary: true}
	}
	n.notices = append(n.notices, no)
	return nil
}

func (n *grantDMFails) told(kind approval.EventKind) *approval.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.notices {
		if n.notices[i].Event.Kind == kind {
			return &n.notices[i]
		}
	}
	return nil
}

// TestGiveUpRecordsUndeliveredLink: when the worker runs out of attempts
// on an approval whose DM never went out, the grant records that its
// link was not delivered and why, and the approvers are told.
func TestGiveUpRecordsUndeliveredLink(t *testing.T) {
	store, err := sqlitestore.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	n := &grantDMFails{}
	allowed, _ := approval.ParseAllowEntry("collab-bucket")
	svc := approval.NewService(store, approval.Policy{
		Approvers: []string{"UAPP"}, ApprovalsRequired: 1, Allowed: approval.AllowList{allowed},
		MaxDuration: 12 * time.Hour, ApprovalTimeout: time.Hour, MaxSession: time.Hour,
	}, &recorder{}, n)
	svc.Now = clock.Now
	w := &worker.Worker{Service: svc, Outbox: store, Clock: clock, Metrics: metrics.New(), Owner: "test",
		Log: zaptest.NewLogger(t), MaxAttempts: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; _ = w.Shutdown(context.Background()) })
	e := &env{clock: clock, svc: svc, rec: &recorder{}}

	r := e.submit(t, "give-up", time.Hour)
	if _, err := svc.Decide(ctx, r.ID, "UAPP", approval.Approve); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 5 && n.told(approval.EventLinkUndelivered) == nil; step++ {
		e.advanceTo(t, time.Duration(step)*10*time.Second)
	}
	e.idle(t)
	got := n.told(approval.EventLinkUndelivered)
	if got == nil {
		t.Fatalf("approvers never told the link was not delivered (%d tries)", n.tries)
	}
	want := "ratelimited: Slack kept asking to slow down (gave up after 3 attempts)"
	if got.Request.Undelivered != want {
		t.Errorf("Undelivered = %q; want %q", got.Request.Undelivered, want)
	}
	if n.tries != 3 {
		t.Errorf("grant DM tried %d times; want MaxAttempts, 3", n.tries)
	}
}
