package approvaltest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

const lease = time.Minute

func mustClaim(t *testing.T, s approval.Store, owner string, now time.Time, limit int) []approval.Event {
	t.Helper()
	evs, err := s.Claim(t.Context(), owner, now, lease, limit)
	if err != nil {
		t.Fatalf("Claim(%s, T0+%v): %v", owner, now.Sub(T0), err)
	}
	return evs
}

// checkClaim claims as owner at now and checks the kinds and attempt
// counts of what it got, returning the events.
func checkClaim(t *testing.T, s approval.Store, owner string, now time.Time, limit int, want ...approval.Event) []approval.Event {
	t.Helper()
	got := mustClaim(t, s, owner, now, limit)
	if fmt.Sprint(seqs(got)) != fmt.Sprint(seqs(want)) {
		t.Errorf("Claim(%s, T0+%v, %d) = %v %v; want %v %v", owner, now.Sub(T0), limit, seqs(got), kinds(got), seqs(want), kinds(want))
		return got
	}
	for i := range got {
		for _, d := range DiffEvent(got[i], want[i]) {
			t.Errorf("Claim(%s, T0+%v) event %d: %s", owner, now.Sub(T0), got[i].Seq, d)
		}
	}
	return got
}

func mustDeliver(t *testing.T, s approval.Store, e approval.Event, owner string, now time.Time) {
	t.Helper()
	if err := s.Delivered(t.Context(), e.Seq, owner, now); err != nil {
		t.Fatalf("Delivered(%d %s, %s): %v", e.Seq, e.Kind, owner, err)
	}
}

func checkWakeAt(t *testing.T, s approval.Store, what string, want time.Time) {
	t.Helper()
	at, ok, err := s.Wake(t.Context())
	switch {
	case err != nil:
		t.Errorf("%s: Wake: %v", what, err)
	case want.IsZero() && ok:
		t.Errorf("%s: Wake = T0+%v; want no work", what, at.Sub(T0))
	case !want.IsZero() && (!ok || !at.Equal(want)):
		t.Errorf("%s: Wake = T0+%v, %t; want T0+%v", what, at.Sub(T0), ok, want.Sub(T0))
	}
}

// attempt returns e as claimed for the n-th time.
func attempt(e approval.Event, n int) approval.Event {
	e.Attempts = n
	return e
}

// setupNotice creates a denied request (never due, so Wake only sees events)
// with a notice at T0 and returns that notice as stored.
func setupNotice(t *testing.T, s approval.Store, name string, at time.Time) (*approval.Request, approval.Event) {
	t.Helper()
	r, ev := Pending(ID(name), "UREQ")
	r.State = approval.StateDenied
	ev.At = at
	MustCreate(t, s, r, ev)
	evs := MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})
	if len(evs) != 1 {
		t.Fatalf("Audit(%s) = %v; want one event", r.ID, kinds(evs))
	}
	return r, evs[0]
}

// appendNotice appends a notice for r and returns it as stored.
func appendNotice(t *testing.T, s approval.Store, r *approval.Request, kind approval.EventKind, at time.Time) approval.Event {
	t.Helper()
	if err := s.Append(t.Context(), []approval.Event{event(r.ID, kind, at, true)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	evs := MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})
	return evs[len(evs)-1]
}

func testAppend(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, ev := Pending(ID("append"), "UREQ")
	ev.Notify = false
	MustCreate(t, s, r, ev)
	other, ev2 := Pending(ID("append-other"), "UREQ")
	ev2.Notify = false
	MustCreate(t, s, other, ev2)

	link := approval.Event{RequestID: r.ID, At: T0.Add(time.Minute), Kind: approval.EventLinkMinted, Actor: "UREQ",
		Detail: map[string]string{"session_ends": "2026-11-27T13:01:00Z"}}
	notice := event(other.ID, approval.EventWarned, T0.Add(2*time.Minute), true)
	if err := s.Append(ctx, []approval.Event{link, notice}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Append(ctx, nil); err != nil {
		t.Errorf("Append(nil): %v", err)
	}
	checkEvents(t, "Audit", MustAudit(t, s, approval.AuditFilter{}), []approval.Event{ev, ev2, link, notice})
	checkRequest(t, "Get after Append", MustGet(t, s, r.ID), r)

	// Only the notice is claimable; the audit-only event never is.
	got := mustClaim(t, s, "A", T0.Add(time.Hour), 10)
	if len(got) != 1 || got[0].Kind != approval.EventWarned {
		t.Errorf("Claim = %v; want [warned]", kinds(got))
	}

	// An event for a missing request writes nothing, not even the others.
	err := s.Append(ctx, []approval.Event{event(r.ID, approval.EventLinkMinted, T0, false), event(ID("missing"), approval.EventWarned, T0, true)})
	if !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("Append for a missing request = %v; want ErrNotFound", err)
	}
	if evs := MustAudit(t, s, approval.AuditFilter{}); len(evs) != 4 {
		t.Errorf("Audit after the failed Append = %v; want the 4 events before", kinds(evs))
	}
}

func testClaim(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r1, r1a := setupNotice(t, s, "claim-1", T0)
	r1b := appendNotice(t, s, r1, approval.EventApproved, T0.Add(time.Minute))
	_, r2a := setupNotice(t, s, "claim-2", T0.Add(2*time.Minute))
	r1c := appendNotice(t, s, r1, approval.EventWarned, T0)

	// Not due yet.
	checkClaim(t, s, "A", T0.Add(-time.Millisecond), 10)
	// Only the oldest undelivered event of each request; limit respected.
	checkClaim(t, s, "A", T0.Add(time.Hour), 1, attempt(r1a, 1))
	now := T0.Add(time.Hour)
	checkClaim(t, s, "A", now, 10, attempt(r2a, 1))
	// Leased: nothing for anyone, nor is the next event of r1 free.
	checkClaim(t, s, "B", now, 10)

	// Only the lease owner may finish an event.
	if err := s.Delivered(ctx, r1a.Seq, "B", now); err == nil {
		t.Error("Delivered by a non-owner succeeded; want an error")
	}
	if err := s.Delivered(ctx, r1b.Seq, "A", now); err == nil {
		t.Error("Delivered of an unclaimed event succeeded; want an error")
	}
	if err := s.Retry(ctx, r1a.Seq, "B", now.Add(time.Minute), "boom"); err == nil {
		t.Error("Retry by a non-owner succeeded; want an error")
	}
	mustDeliver(t, s, r1a, "A", now)
	if err := s.Delivered(ctx, r1a.Seq, "A", now); err == nil {
		t.Error("second Delivered succeeded; want an error")
	}
	// r1's next event is free now; delivered ones never come back.
	checkClaim(t, s, "B", now, 10, attempt(r1b, 1))
	checkClaim(t, s, "B", now.Add(time.Hour), 10, attempt(r1b, 2), attempt(r2a, 2))

	// A lease that ran out was taken over: the old owner cannot finish.
	if err := s.Delivered(ctx, r2a.Seq, "A", now.Add(time.Hour)); err == nil {
		t.Error("Delivered by the owner of a lost lease succeeded; want an error")
	}
	later := now.Add(time.Hour)
	mustDeliver(t, s, r2a, "B", later)
	mustDeliver(t, s, r1b, "B", later)
	checkClaim(t, s, "C", later, 10, attempt(r1c, 1))
	mustDeliver(t, s, r1c, "C", later)
	checkClaim(t, s, "C", later.Add(time.Hour), 10)
	checkWakeAt(t, s, "all delivered", time.Time{})

	if evs := MustAudit(t, s, approval.AuditFilter{}); fmt.Sprint(kinds(evs)) != "[requested approved requested warned]" {
		t.Errorf("Audit = %v; want all four events in order", kinds(evs))
	}
}

func testClaimRetry(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, first := setupNotice(t, s, "retry", T0)
	second := appendNotice(t, s, r, approval.EventWarned, T0)
	now := T0.Add(time.Minute)

	checkClaim(t, s, "A", now, 10, attempt(first, 1))
	if err := s.Retry(ctx, first.Seq, "A", now.Add(10*time.Minute), "slack: ratelimited"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.Delivered(ctx, first.Seq, "A", now); err == nil {
		t.Error("Delivered after Retry released the event succeeded; want an error")
	}
	// Not before the retry time, and the next event still waits.
	checkClaim(t, s, "B", now.Add(10*time.Minute-time.Millisecond), 10)
	checkWakeAt(t, s, "waiting for the retry", now.Add(10*time.Minute))
	checkClaim(t, s, "B", now.Add(10*time.Minute), 10, attempt(first, 2))

	// Giving up finishes the event, so the next one can go.
	if err := s.Retry(ctx, first.Seq, "B", time.Time{}, "channel_not_found"); err != nil {
		t.Fatalf("Retry to give up: %v", err)
	}
	if err := s.Retry(ctx, first.Seq, "B", now.Add(time.Hour), "again"); err == nil {
		t.Error("Retry of an event given up succeeded; want an error")
	}
	checkClaim(t, s, "C", now.Add(11*time.Minute), 10, attempt(second, 1))
	mustDeliver(t, s, second, "C", now.Add(11*time.Minute))
	checkClaim(t, s, "C", now.Add(time.Hour), 10)
	if n := len(MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})); n != 2 {
		t.Errorf("Audit has %d events; want the 2 recorded", n)
	}
}

// testClaimPrefersRequesters has a backlog of announcements (requests
// for the approvers) due one minute apart, and among them a warning to a
// requester: a claim of several takes the oldest announcement and the
// warning, although newer announcements are due, since the approval
// channel's queue must not hold back a requester's notice. Without such a
// notice the latest due is taken, as before.
func testClaimPrefersRequesters(t *testing.T, s approval.Store) {
	var evs []approval.Event
	for i := range 6 {
		_, ev := setupNotice(t, s, fmt.Sprintf("lane-%d", i), T0.Add(time.Duration(i)*time.Minute))
		evs = append(evs, ev)
	}
	r, ev := Approved(ID("lane-grant"), "UREQ")
	MustCreate(t, s, r, ev)
	warned := appendNotice(t, s, r, approval.EventWarned, T0.Add(2*time.Minute+30*time.Second))
	now := T0.Add(10 * time.Minute)
	checkClaim(t, s, "A", now, 2, attempt(evs[0], 1), attempt(warned, 1))
	checkClaim(t, s, "A", now, 2, attempt(evs[1], 1), attempt(evs[5], 1))
}

// testClaimLatest has a backlog of notices due one minute apart: a claim
// of several takes the oldest and the latest due, so a notice that just
// came due does not wait behind the backlog; a claim of one takes the
// oldest.
func testClaimLatest(t *testing.T, s approval.Store) {
	var evs []approval.Event
	for i := range 6 {
		_, ev := setupNotice(t, s, fmt.Sprintf("latest-%d", i), T0.Add(time.Duration(i)*time.Minute))
		evs = append(evs, ev)
	}
	now := T0.Add(10 * time.Minute)
	checkClaim(t, s, "A", now, 1, attempt(evs[0], 1))
	checkClaim(t, s, "A", now, 3, attempt(evs[1], 1), attempt(evs[2], 1), attempt(evs[5], 1))
	// Not yet due: the latest due is the one before it.
	checkClaim(t, s, "A", T0.Add(4*time.Minute), 2, attempt(evs[3], 1), attempt(evs[4], 1))
	checkClaim(t, s, "B", T0.Add(4*time.Minute+30*time.Second), 2)
}

// testClaimDefer defers a claimed notice: it comes back at the time given,
// still before the request's later notices, and the attempt does not
// count.
func testClaimDefer(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, first := setupNotice(t, s, "defer", T0)
	second := appendNotice(t, s, r, approval.EventWarned, T0)
	now := T0.Add(time.Minute)

	checkClaim(t, s, "A", now, 10, attempt(first, 1))
	if err := s.Defer(ctx, first.Seq, "B", now.Add(time.Minute)); !errors.Is(err, approval.ErrConflict) {
		t.Errorf("Defer by another owner = %v; want ErrConflict", err)
	}
	if err := s.Defer(ctx, first.Seq, "A", now.Add(30*time.Second)); err != nil {
		t.Fatalf("Defer: %v", err)
	}
	if err := s.Delivered(ctx, first.Seq, "A", now); err == nil {
		t.Error("Delivered after Defer released the event succeeded; want an error")
	}
	checkWakeAt(t, s, "deferred notice", now.Add(30*time.Second))
	checkClaim(t, s, "B", now.Add(30*time.Second-time.Millisecond), 10)
	// Claimed again: still the first attempt, and the next notice waits.
	checkClaim(t, s, "B", now.Add(30*time.Second), 10, attempt(first, 1))
	mustDeliver(t, s, first, "B", now.Add(30*time.Second))
	if err := s.Defer(ctx, first.Seq, "B", now.Add(time.Hour)); !errors.Is(err, approval.ErrConflict) {
		t.Errorf("Defer of a delivered event = %v; want ErrConflict", err)
	}
	checkClaim(t, s, "C", now.Add(time.Minute), 10, attempt(second, 1))
}

func testWakeEvents(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, first := setupNotice(t, s, "wake", T0.Add(5*time.Minute))
	appendNotice(t, s, r, approval.EventWarned, T0) // older time, but waits for first
	checkWakeAt(t, s, "undelivered notice", T0.Add(5*time.Minute))

	// While leased, the notice is next claimable when the lease ends.
	now := T0.Add(10 * time.Minute)
	checkClaim(t, s, "A", now, 10, attempt(first, 1))
	checkWakeAt(t, s, "leased notice", now.Add(lease))

	// A pending request due earlier than that wins.
	p, ev := Pending(ID("wake-pending"), "UREQ")
	p.TimeoutAt = now.Add(30 * time.Second)
	ev.Notify = false
	MustCreate(t, s, p, ev)
	checkWakeAt(t, s, "leased notice and a due request", now.Add(30*time.Second))
	if _, _, err := s.Update(ctx, p.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.State = approval.StateTimedOut
		return []approval.Event{event(r.ID, approval.EventTimedOut, now, false)}, nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkWakeAt(t, s, "leased notice again", now.Add(lease))

	// Once delivered, the next notice is due at its own time.
	mustDeliver(t, s, first, "A", now)
	checkWakeAt(t, s, "next notice", T0)
}

// testClaimConcurrent has several owners claim and deliver at once, as
// replicas do: every notice is delivered exactly once, and a request's
// notices in order.
func testClaimConcurrent(t *testing.T, s approval.Store) {
	const (
		requests = 30
		perReq   = 3
		owners   = 4
	)
	order := map[int64]int64{} // seq -> the seq that must be delivered first
	for i := range requests {
		r, ev := setupNotice(t, s, fmt.Sprintf("concurrent-%d", i), T0)
		prev := ev.Seq
		for range perReq - 1 {
			e := appendNotice(t, s, r, approval.EventWarned, T0)
			order[e.Seq] = prev
			prev = e.Seq
		}
	}
	now := T0.Add(time.Minute)
	var (
		mu        sync.Mutex
		delivered = map[int64]string{}
		done      atomic.Int64
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(30 * time.Second)
	for o := range owners {
		owner := fmt.Sprintf("replica-%d", o)
		wg.Go(func() {
			for done.Load() < requests*perReq && time.Now().Before(deadline) {
				evs, err := s.Claim(t.Context(), owner, now, time.Hour, 5)
				if err != nil {
					t.Errorf("%s: Claim: %v", owner, err)
					return
				}
				if len(evs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				for _, e := range evs {
					mu.Lock()
					if by, ok := delivered[e.Seq]; ok {
						t.Errorf("%s claimed event %d, already delivered by %s", owner, e.Seq, by)
					}
					if before, ok := order[e.Seq]; ok && delivered[before] == "" {
						t.Errorf("%s claimed event %d before %d of the same request was delivered", owner, e.Seq, before)
					}
					// Recorded before the store knows, so that a claim of the
					// next event always finds it here.
					delivered[e.Seq] = owner
					mu.Unlock()
					if err := s.Delivered(t.Context(), e.Seq, owner, now); err != nil {
						t.Errorf("%s: Delivered(%d): %v", owner, e.Seq, err)
					}
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := done.Load(); got != requests*perReq {
		t.Errorf("%d events delivered; want %d", got, requests*perReq)
	}
	if evs := mustClaim(t, s, "late", now.Add(24*time.Hour), 0); len(evs) != 0 {
		t.Errorf("Claim after all were delivered = %v; want none", seqs(evs))
	}
}

func testAudit(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r1, e1 := Pending(ID("audit-1"), "UREQ")
	MustCreate(t, s, r1, e1)
	r2, e2 := Pending(ID("audit-2"), "UREQ")
	e2.At = T0.Add(time.Minute)
	MustCreate(t, s, r2, e2)
	e3 := event(r1.ID, approval.EventLinkMinted, T0.Add(2*time.Minute), false)
	e3.Actor = "UREQ"
	if err := s.Append(ctx, []approval.Event{e3}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	e4 := approval.Event{RequestID: r1.ID, At: T0.Add(3 * time.Minute), Kind: approval.EventRevoked, Actor: "UREQ",
		Detail: map[string]string{"was": "pending"}, Notify: true}
	if _, _, err := s.Update(ctx, r1.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.State, r.EndedBy, r.EndedAt = approval.StateRevoked, "UREQ", e4.At
		return []approval.Event{e4}, nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	all := MustAudit(t, s, approval.AuditFilter{})
	checkEvents(t, "Audit()", all, []approval.Event{e1, e2, e3, e4})
	// Delivery changes attempts but leaves the audit log in order.
	claimed := mustClaim(t, s, "A", T0.Add(time.Hour), 10)
	for _, e := range claimed {
		mustDeliver(t, s, e, "A", T0.Add(time.Hour))
	}
	tests := []struct {
		f    approval.AuditFilter
		want []approval.Event
	}{
		{approval.AuditFilter{RequestID: r1.ID}, []approval.Event{attempt(e1, 1), e3, e4}},
		{approval.AuditFilter{Since: T0.Add(time.Minute)}, []approval.Event{attempt(e2, 1), e3, e4}},
		{approval.AuditFilter{Since: T0.Add(time.Minute), RequestID: r1.ID}, []approval.Event{e3, e4}},
		{approval.AuditFilter{Limit: 2}, []approval.Event{attempt(e1, 1), attempt(e2, 1)}},
		{approval.AuditFilter{Since: T0.Add(time.Hour)}, nil},
		{approval.AuditFilter{RequestID: ID("missing")}, nil},
	}
	for _, tt := range tests {
		checkEvents(t, fmt.Sprintf("Audit(%+v)", tt.f), MustAudit(t, s, tt.f), tt.want)
	}
}
