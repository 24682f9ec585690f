package approval

import (
	"errors"
	"testing"
	"time"
)

func extPolicy() Policy {
	p := testPolicy()
	p.MaxExtended = 24 * time.Hour
	p.ApprovalTimeout = time.Hour
	return p
}

// active returns a 2h grant approved at t0, warned 10m before its end.
func active(t *testing.T, p Policy) *Request {
	t.Helper()
	r := pending()
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExtendRefusals(t *testing.T) {
	p := extPolicy()
	tests := []struct {
		name  string
		setup func(*Request)
		user  string
		d     time.Duration
		at    time.Time
		want  func(error) bool
	}{
		{"not the requester", nil, "UAPP1", time.Hour, t0, isForbidden},
		{"too short", nil, "UREQ", 10 * time.Minute, t0, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"over the limit", nil, "UREQ", 22*time.Hour + time.Minute, t0, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"ended", nil, "UREQ", time.Hour, t0.Add(2 * time.Hour), func(err error) bool { return errors.Is(err, ErrEnded) }},
		{"revoked", func(r *Request) { r.State = StateRevoked }, "UREQ", time.Hour, t0, func(err error) bool { return errors.Is(err, ErrEnded) }},
		{"pending request", func(r *Request) { *r = *pending() }, "UREQ", time.Hour, t0, func(err error) bool { return errors.Is(err, ErrPending) }},
		{"already pending", func(r *Request) {
			if _, err := r.extend(p, "UREQ", time.Hour, "more", t0); err != nil {
				t.Fatal(err)
			}
		}, "UREQ", time.Hour, t0, func(err error) bool { return errors.Is(err, ErrExtensionPending) }},
		{"no reason", func(r *Request) {}, "UREQ", time.Hour, t0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := active(t, p)
			if tt.setup != nil {
				tt.setup(r)
			}
			reason := "one more hour"
			if tt.want == nil {
				reason, tt.want = " ", func(err error) bool { return errors.Is(err, ErrInvalid) }
			}
			before := r.Clone()
			evs, err := r.extend(p, tt.user, tt.d, reason, tt.at)
			if !tt.want(err) || len(evs) != 0 {
				t.Fatalf("extend = %v, %v; want the expected refusal", kinds(evs), err)
			}
			if len(r.Extensions) != len(before.Extensions) {
				t.Errorf("a refused extension was recorded")
			}
		})
	}
}

// TestExtendApproved: two approvals move the grant's end, re-plan the
// warning and expiry, and record the extension.
func TestExtendApproved(t *testing.T) {
	p := extPolicy()
	p.ApprovalsRequired = 2
	r := pending()
	for _, a := range []string{"UAPP1", "UAPP2"} {
		if _, err := r.decide(p, a, Approve, t0); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Hour + 55*time.Minute) // after the warning
	if evs := r.tick(p, r.WarnAt); len(evs) != 1 || !r.Warned {
		t.Fatalf("warning = %v", kinds(evs))
	}
	evs, err := r.extend(p, "UREQ", time.Hour, "one more hour", at)
	if err != nil || len(evs) != 1 || evs[0].Kind != EventExtensionRequested || evs[0].Detail["extension"] != "1" {
		t.Fatalf("extend = %v, %v", kinds(evs), err)
	}
	if !r.NextDue().Equal(r.EndsAt) {
		t.Errorf("NextDue = %v; want the end %v (before the extension's timeout)", r.NextDue(), r.EndsAt)
	}
	if _, err := r.decideExtension(p, 1, "UREQ", Approve, at); !isForbidden(err) {
		t.Errorf("requester approving their own extension: %v", err)
	}
	if _, err := r.decideExtension(p, 2, "UAPP1", Approve, at); !errors.Is(err, ErrInvalid) {
		t.Errorf("approving an extension that does not exist: %v", err)
	}
	evs, err = r.decideExtension(p, 1, "UAPP1", Approve, at)
	if err != nil || len(evs) != 1 || evs[0].Kind != EventExtensionApprovalRecorded {
		t.Fatalf("first approval = %v, %v", kinds(evs), err)
	}
	if _, err := r.decideExtension(p, 1, "UAPP1", Approve, at); !errors.Is(err, ErrApprovalCounted) {
		t.Errorf("same approver twice: %v", err)
	}
	end := r.EndsAt
	evs, err = r.decideExtension(p, 1, "UAPP2", Approve, at.Add(time.Minute))
	if err != nil || len(evs) != 1 || evs[0].Kind != EventExtended {
		t.Fatalf("second approval = %v, %v", kinds(evs), err)
	}
	if !r.EndsAt.Equal(end.Add(time.Hour)) || r.Extended() != time.Hour || r.PendingExtension() != nil {
		t.Errorf("EndsAt %v (was %v), extended %v", r.EndsAt, end, r.Extended())
	}
	if r.Warned || !r.WarnAt.Equal(r.EndsAt.Add(-p.ExpiryWarning)) || !r.NextDue().Equal(r.WarnAt) {
		t.Errorf("warning not re-planned: warned %v, WarnAt %v, NextDue %v", r.Warned, r.WarnAt, r.NextDue())
	}
	// The old end passes without expiry; the new warning and end come.
	if evs := r.tick(p, end); len(evs) != 0 {
		t.Errorf("tick at the old end = %v", kinds(evs))
	}
	if evs := r.tick(p, r.WarnAt); len(evs) != 1 || evs[0].Kind != EventWarned {
		t.Errorf("tick at the new warning = %v", kinds(evs))
	}
	if evs := r.tick(p, r.EndsAt); len(evs) != 1 || evs[0].Kind != EventExpired {
		t.Errorf("tick at the new end = %v", kinds(evs))
	}
	if _, err := r.decideExtension(p, 1, "UAPP1", Deny, r.EndsAt); !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("deciding a settled extension: %v", err)
	}
}

func TestExtendDeniedAndTimedOut(t *testing.T) {
	p := extPolicy()
	r := active(t, p)
	if _, err := r.extend(p, "UREQ", time.Hour, "more", t0); err != nil {
		t.Fatal(err)
	}
	evs, err := r.decideExtension(p, 1, "UAPP2", Deny, t0.Add(time.Minute))
	if err != nil || len(evs) != 1 || evs[0].Kind != EventExtensionDenied || r.Extensions[0].State != StateDenied || r.EndsAt != t0.Add(2*time.Hour) {
		t.Fatalf("deny = %v, %v, %+v", kinds(evs), err, r.Extensions[0])
	}
	// Asked again, undecided until its timeout.
	if _, err := r.extend(p, "UREQ", time.Hour, "please", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e := r.PendingExtension()
	if e == nil || e.Seq != 2 || !r.NextDue().Equal(e.TimeoutAt) {
		t.Fatalf("second extension %+v, NextDue %v", e, r.NextDue())
	}
	if evs := r.tick(p, e.TimeoutAt.Add(-time.Millisecond)); len(evs) != 0 {
		t.Fatalf("tick before the timeout = %v", kinds(evs))
	}
	if evs := r.tick(p, e.TimeoutAt); len(evs) != 1 || evs[0].Kind != EventExtensionTimedOut || r.Extensions[1].State != StateTimedOut {
		t.Fatalf("tick at the timeout = %v, %+v", kinds(evs), r.Extensions[1])
	}
	if _, err := r.decideExtension(p, 2, "UAPP1", Approve, e.TimeoutAt); !errors.Is(err, ErrTimedOut) {
		t.Errorf("approving a timed-out extension: %v", err)
	}

	// A grant that ends with an extension pending takes it along.
	r = active(t, p)
	if _, err := r.extend(p, "UREQ", time.Hour, "more", t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if evs := r.tick(p, r.EndsAt); len(evs) != 1 || evs[0].Kind != EventExpired || r.Extensions[0].State != StateTimedOut {
		t.Errorf("expiry with an extension pending = %v, %+v", kinds(evs), r.Extensions[0])
	}
}

// TestReminders: an undecided request reminds the approvers at the
// reminder interval, once each time, and stops when decided or timed out;
// reminders missed while nobody looked are not sent in a burst.
func TestReminders(t *testing.T) {
	p := extPolicy()
	p.ApprovalTimeout, p.ApprovalReminder = time.Hour, 20*time.Minute
	r := pending()
	r.TimeoutAt, r.RemindAt = t0.Add(time.Hour), t0.Add(20*time.Minute)
	if !r.NextDue().Equal(r.RemindAt) {
		t.Fatalf("NextDue = %v; want the reminder", r.NextDue())
	}
	if evs := r.tick(p, t0.Add(20*time.Minute-time.Millisecond)); len(evs) != 0 {
		t.Fatalf("reminder before its time: %v", kinds(evs))
	}
	evs := r.tick(p, t0.Add(20*time.Minute))
	if len(evs) != 1 || evs[0].Kind != EventReminded || evs[0].Detail["waited"] != "20m" || !r.RemindAt.Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("first reminder = %v %v, next %v", kinds(evs), evs, r.RemindAt)
	}
	if evs := r.tick(p, t0.Add(20*time.Minute)); len(evs) != 0 {
		t.Errorf("the same reminder twice: %v", kinds(evs))
	}
	// Late by 15 minutes: one reminder, and the next one still on the grid.
	if evs := r.tick(p, t0.Add(55*time.Minute)); len(evs) != 1 || !r.RemindAt.IsZero() {
		t.Errorf("late reminder = %v, next %v; want one and none before the timeout", kinds(evs), r.RemindAt)
	}
	if evs := r.tick(p, t0.Add(time.Hour)); len(evs) != 1 || evs[0].Kind != EventTimedOut {
		t.Errorf("timeout = %v", kinds(evs))
	}

	// Decided: no more reminders.
	r = pending()
	r.RemindAt = t0.Add(20 * time.Minute)
	if _, err := r.decide(p, "UAPP1", Approve, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !r.RemindAt.IsZero() {
		t.Errorf("RemindAt = %v after the decision", r.RemindAt)
	}

	// Extensions are reminded of too.
	r = active(t, p)
	if _, err := r.extend(p, "UREQ", time.Hour, "more", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e := r.PendingExtension()
	if !r.NextDue().Equal(e.RemindAt) || !e.RemindAt.Equal(t0.Add(21*time.Minute)) {
		t.Fatalf("NextDue %v, extension reminder %v", r.NextDue(), e.RemindAt)
	}
	if evs := r.tick(p, e.RemindAt); len(evs) != 1 || evs[0].Kind != EventReminded || evs[0].Detail["extension"] != "1" {
		t.Errorf("extension reminder = %v", evs)
	}
}
