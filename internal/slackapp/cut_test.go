package slackapp_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// fakeCutter counts syncs and answers as told.
type fakeCutter struct {
	mu     sync.Mutex
	syncs  int
	cutoff time.Time // reported by the next sync, then cleared
	err    error
}

func (f *fakeCutter) Sync(ctx context.Context) (approval.CutResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.err != nil {
		return approval.CutResult{}, f.err
	}
	res := approval.CutResult{Cutoff: f.cutoff}
	f.cutoff = time.Time{}
	return res, nil
}

func (f *fakeCutter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

// TestExpiryCutsOverhang: the first session of a shortest grant may run a
// little past the grant; at expiry it is cut like a revoked grant's, and
// the grant leaves the deny list once that session has ended.
func TestExpiryCutsOverhang(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	cutter := &fakeCutter{}
	h := newHarness(t, withClock(clock), withCutter(cutter))
	advance := func(d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.settle()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("worker not asleep: %v", err)
		}
		clock.Advance(d)
	}
	id, msg := h.request(requester, "collab-bucket/myfolder/ 15m short")
	// The first session, the shortest, is issued 30 s after approval, so
	// it outlasts the grant by 30 s.
	h.issuer.mu.Lock()
	h.issuer.late = 30 * time.Second
	h.issuer.mu.Unlock()
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP1>")
	r, _ := h.svc.Get(context.Background(), id)
	if !r.SessionsEnd.After(r.EndsAt) {
		t.Fatalf("the first session ends %v, not after the grant's end %v", r.SessionsEnd, r.EndsAt)
	}
	advance(15 * time.Minute)
	h.waitDM(requester, ":lock: Your access to `collab-bucket/myfolder/` has ended")
	h.eventually("the overhang cut", func() bool {
		return strings.Contains(h.current(msg).AllText(), "Its AWS sessions and unused links were cut off.")
	})
	if n := cutter.count(); n != 1 {
		t.Errorf("%d syncs at expiry; want 1", n)
	}
	r, _ = h.svc.Get(context.Background(), id)
	if r.CutUntil.IsZero() {
		t.Fatal("expired grant with a live session is not on the deny list")
	}
	advance(r.CutUntil.Sub(clock.Now()))
	h.eventually("lifted", func() bool {
		r, _ := h.svc.Get(context.Background(), id)
		return r.CutUntil.IsZero() && cutter.count() == 2
	})
}

// TestCutoffTold: when writing the deny list fell back to a role-wide
// cut-off, the approval channel hears it once, even if telling people
// about the revoke had to be retried.
func TestCutoffTold(t *testing.T) {
	cutter := &fakeCutter{cutoff: time.Now().Truncate(time.Second)}
	h := newHarness(t, withCutter(cutter))
	id, msg := h.request(requester, goodCmd)
	h.click(approver1, msg, "approve")
	dm := h.waitDM(requester, "was approved by <@UAPP1>")
	h.click(requester, dm, "end_access")
	h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.Text, ":scissors: Too many ended grants")
	})
	h.eventually("cut recorded", func() bool {
		r, _ := h.svc.Get(context.Background(), id)
		return r.Cut == approval.CutDone
	})
	h.settle()
	n := 0
	for _, m := range h.slack.Messages(channel) {
		if strings.Contains(m.Text, ":scissors:") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d cut-off lines in the approval channel; want 1", n)
	}
}
