package worker_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap/zaptest"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/worker"
)

// restartable runs a worker over a SQLite file that outlives it, so a
// test can stop the bot, move the clock while it is down, and start it
// again on the same state.
type restartable struct {
	env
	path   string
	policy approval.Policy
	stop   func()
}

func (e *restartable) start(t *testing.T) {
	t.Helper()
	store, err := sqlitestore.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	svc := approval.NewService(store, e.policy, e.rec, e.rec)
	svc.Now = e.clock.Now
	w := &worker.Worker{Service: svc, Outbox: store, Clock: e.clock, Metrics: metrics.New(), Owner: "test", Log: zaptest.NewLogger(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	e.svc = svc
	e.stop = func() {
		cancel()
		<-done
		_ = w.Shutdown(context.Background())
		store.Close()
	}
}

// TestRestartKeepsRemindersAndExtensions: a reminder that came due while
// the bot was down is sent once after the restart, then keeps its
// interval and stops at the decision; an extension approved before the
// restart moves the warning and expiry for good (the old ones never fire).
func TestRestartKeepsRemindersAndExtensions(t *testing.T) {
	allowed, _ := approval.ParseAllowEntry("collab-bucket")
	e := &restartable{
		env:  env{clock: clockwork.NewFakeClockAt(t0), rec: &recorder{}},
		path: filepath.Join(t.TempDir(), "state.db"),
		policy: approval.Policy{
			Approvers: []string{"UAPP"}, ApprovalsRequired: 1, Allowed: approval.AllowList{allowed},
			MaxDuration: 12 * time.Hour, MaxExtended: 24 * time.Hour, ExpiryWarning: 10 * time.Minute,
			ApprovalTimeout: 2 * time.Hour, ApprovalReminder: 20 * time.Minute, MaxSession: time.Hour,
		},
	}
	e.start(t)
	t.Cleanup(func() { e.stop() })
	ctx := context.Background()

	waiting := e.submit(t, "waiting", time.Hour)
	grant := e.submit(t, "grant", 30*time.Minute) // warning +20m, end +30m
	if _, err := e.svc.Decide(ctx, grant.ID, "UAPP", approval.Approve); err != nil {
		t.Fatal(err)
	}
	e.advanceTo(t, time.Minute)
	if _, err := e.svc.Extend(ctx, grant.ID, "UREQ", time.Hour, "one more hour"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DecideExtension(ctx, grant.ID, 1, "UAPP", approval.Approve); err != nil {
		t.Fatal(err)
	}
	e.expect(t, grant.ID, approval.EventExtended, 1) // warning now +1h20m, end +1h30m

	e.idle(t)
	e.stop()
	e.clock.Advance(t0.Add(25 * time.Minute).Sub(e.clock.Now())) // down across +20m
	e.start(t)

	e.expect(t, waiting.ID, approval.EventReminded, 1)
	e.expect(t, grant.ID, approval.EventWarned, 0)
	e.advanceTo(t, 40*time.Minute-time.Millisecond)
	e.expect(t, waiting.ID, approval.EventReminded, 1)
	e.advanceTo(t, 40*time.Minute)
	e.expect(t, waiting.ID, approval.EventReminded, 2)
	if _, err := e.svc.Decide(ctx, waiting.ID, "UAPP", approval.Deny); err != nil {
		t.Fatal(err)
	}
	e.advanceTo(t, time.Hour+time.Minute)
	e.expect(t, waiting.ID, approval.EventReminded, 2)
	e.expect(t, grant.ID, approval.EventExpired, 0)

	e.advanceTo(t, time.Hour+20*time.Minute)
	e.expect(t, grant.ID, approval.EventWarned, 1)
	e.advanceTo(t, time.Hour+30*time.Minute)
	e.expect(t, grant.ID, approval.EventExpired, 1)
	e.expect(t, grant.ID, approval.EventWarned, 1)
}
