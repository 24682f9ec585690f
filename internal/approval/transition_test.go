package approval

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testPolicy() Policy {
	return Policy{
		Approvers:         []string{"UAPP1", "UAPP2", "UREQ2"},
		ApprovalsRequired: 1,
		MaxDuration:       12 * time.Hour,
		ExpiryWarning:     10 * time.Minute,
		ApprovalTimeout:   8 * time.Hour,
		MaxSession:        time.Hour,
	}
}

func pending() *Request {
	return &Request{
		ID: "ABCDEFGHIJ", Requester: "UREQ",
		Scope:    Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: AccessWrite},
		Duration: 2 * time.Hour, Reason: "audit",
		State: StatePending, CreatedAt: t0, TimeoutAt: t0.Add(8 * time.Hour),
	}
}

func kinds(evs []Event) []EventKind {
	var k []EventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

func TestDecideApprove(t *testing.T) {
	r := pending()
	now := t0.Add(time.Minute)
	evs, err := r.decide(testPolicy(), "UAPP1", Approve, now)
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	if got := kinds(evs); len(got) != 1 || got[0] != EventApproved {
		t.Fatalf("events = %v; want [approved]", got)
	}
	if r.State != StateApproved || r.DecidedBy != "UAPP1" || !r.DecidedAt.Equal(now) {
		t.Errorf("state %s by %s at %v; want approved by UAPP1 at %v", r.State, r.DecidedBy, r.DecidedAt, now)
	}
	if want := now.Add(2 * time.Hour); !r.EndsAt.Equal(want) {
		t.Errorf("EndsAt = %v; want %v", r.EndsAt, want)
	}
	if want := now.Add(2*time.Hour - 10*time.Minute); !r.WarnAt.Equal(want) || !r.NextDue().Equal(want) {
		t.Errorf("WarnAt = %v, NextDue = %v; want %v", r.WarnAt, r.NextDue(), want)
	}
}

func TestDecideRefusals(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*Request)
		user     string
		decision Decision
		now      time.Time
		wantErr  func(error) bool
	}{
		{"no decision", nil, "UAPP1", Decision(0), t0, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"non-approver", nil, "UOTHER", Approve, t0, isForbidden},
		{"non-approver deny", nil, "UOTHER", Deny, t0, isForbidden},
		{"self approval", func(r *Request) { r.Requester = "UAPP1" }, "UAPP1", Approve, t0, isForbidden},
		{"self deny", func(r *Request) { r.Requester = "UAPP1" }, "UAPP1", Deny, t0, isForbidden},
		{"already approved", func(r *Request) { r.State, r.DecidedBy = StateApproved, "UAPP2" }, "UAPP1", Approve, t0,
			stateIs(StateApproved, "UAPP2")},
		{"already denied", func(r *Request) { r.State, r.DecidedBy = StateDenied, "UAPP2" }, "UAPP1", Approve, t0,
			stateIs(StateDenied, "UAPP2")},
		{"timed out, not yet swept", nil, "UAPP1", Approve, t0.Add(8 * time.Hour), stateIs(StateTimedOut, "")},
		{"revoked", func(r *Request) { r.State, r.EndedBy = StateRevoked, "UREQ" }, "UAPP1", Deny, t0,
			stateIs(StateRevoked, "UREQ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pending()
			if tt.setup != nil {
				tt.setup(r)
			}
			before := *r.Clone()
			evs, err := r.decide(testPolicy(), tt.user, tt.decision, tt.now)
			if err == nil || !tt.wantErr(err) {
				t.Fatalf("decide = %v, %v; want the expected refusal", kinds(evs), err)
			}
			if len(evs) != 0 || r.State != before.State || len(r.Approvals) != len(before.Approvals) {
				t.Errorf("refused decision changed the request: %+v", r)
			}
		})
	}
}

func isForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// stateIs matches a *StateError for state s set by by, wrapping the
// sentinel that state calls for.
func stateIs(s State, by string) func(error) bool {
	sentinel := map[State]error{
		StatePending: ErrPending, StateApproved: ErrAlreadyDecided, StateDenied: ErrAlreadyDecided,
		StateTimedOut: ErrTimedOut, StateExpired: ErrEnded, StateRevoked: ErrEnded, StateFailed: ErrEnded,
	}[s]
	return func(err error) bool {
		var se *StateError
		return errors.As(err, &se) && se.State == s && se.By == by && errors.Is(err, sentinel)
	}
}

func TestDecideMultipleApprovals(t *testing.T) {
	p := testPolicy()
	p.ApprovalsRequired = 2
	r := pending()
	evs, err := r.decide(p, "UAPP1", Approve, t0)
	if err != nil || len(evs) != 1 || evs[0].Kind != EventApprovalRecorded || r.State != StatePending {
		t.Fatalf("first approval: %v, %v, state %s; want approval_recorded, still pending", kinds(evs), err, r.State)
	}
	if _, err := r.decide(p, "UAPP1", Approve, t0); !errors.Is(err, ErrApprovalCounted) {
		t.Fatalf("same approver twice: err = %v; want ErrApprovalCounted", err)
	}
	evs, err = r.decide(p, "UAPP2", Approve, t0.Add(time.Minute))
	if err != nil || len(evs) != 1 || evs[0].Kind != EventApproved || r.State != StateApproved {
		t.Fatalf("second approval: %v, %v, state %s; want approved", kinds(evs), err, r.State)
	}
	if got := evs[0].Detail["approvals"]; got != "2" {
		t.Errorf("approvals detail = %q; want 2", got)
	}
}

func TestTick(t *testing.T) {
	p := testPolicy()
	r := pending()
	if evs := r.tick(p, t0.Add(8*time.Hour-time.Millisecond)); len(evs) != 0 {
		t.Fatalf("tick before timeout = %v; want nothing", kinds(evs))
	}
	if evs := r.tick(p, t0.Add(8*time.Hour)); len(evs) != 1 || evs[0].Kind != EventTimedOut || r.State != StateTimedOut {
		t.Fatalf("tick at timeout = %v, %s; want timed_out", kinds(evs), r.State)
	}
	if evs := r.tick(p, t0.Add(9*time.Hour)); len(evs) != 0 || !r.NextDue().IsZero() {
		t.Fatalf("tick after terminal = %v, next %v; want nothing", kinds(evs), r.NextDue())
	}

	r = pending()
	approvedAt := t0.Add(time.Minute)
	if _, err := r.decide(p, "UAPP1", Approve, approvedAt); err != nil {
		t.Fatal(err)
	}
	warnAt, endAt := approvedAt.Add(110*time.Minute), approvedAt.Add(2*time.Hour)
	if evs := r.tick(p, warnAt.Add(-time.Millisecond)); len(evs) != 0 {
		t.Fatalf("tick before warning = %v; want nothing", kinds(evs))
	}
	if evs := r.tick(p, warnAt); len(evs) != 1 || evs[0].Kind != EventWarned {
		t.Fatalf("tick at warning = %v; want warned", kinds(evs))
	}
	if evs := r.tick(p, warnAt.Add(time.Second)); len(evs) != 0 {
		t.Fatalf("second tick after warning = %v; want nothing (warn once)", kinds(evs))
	}
	if !r.NextDue().Equal(endAt) {
		t.Errorf("NextDue after warning = %v; want %v", r.NextDue(), endAt)
	}
	if evs := r.tick(p, endAt); len(evs) != 1 || evs[0].Kind != EventExpired || r.State != StateExpired {
		t.Fatalf("tick at end = %v, %s; want expired", kinds(evs), r.State)
	}
}

func TestTickLateSkipsWarning(t *testing.T) {
	r := pending()
	if _, err := r.decide(testPolicy(), "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	evs := r.tick(testPolicy(), r.EndsAt.Add(time.Hour))
	if len(evs) != 1 || evs[0].Kind != EventExpired {
		t.Fatalf("late tick = %v; want only expired", kinds(evs))
	}
}

func TestNoWarningForShortGrant(t *testing.T) {
	p := testPolicy()
	p.ExpiryWarning = 30 * time.Minute
	r := pending()
	r.Duration = 15 * time.Minute
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	if !r.WarnAt.IsZero() || !r.NextDue().Equal(r.EndsAt) {
		t.Errorf("WarnAt = %v, NextDue = %v; want no warning, due at end %v", r.WarnAt, r.NextDue(), r.EndsAt)
	}
}

func TestRevoke(t *testing.T) {
	p := testPolicy()
	r := pending()
	if _, err := r.revoke(p, "UOTHER", t0); !isForbidden(err) {
		t.Fatalf("revoke by stranger: %v; want forbidden", err)
	}
	evs, err := r.revoke(p, "UREQ", t0)
	if err != nil || len(evs) != 1 || evs[0].Kind != EventRevoked || evs[0].Detail["was"] != "pending" {
		t.Fatalf("withdraw: %v, %v; want revoked (was pending)", kinds(evs), err)
	}
	if _, err := r.revoke(p, "UREQ", t0); !stateIs(StateRevoked, "UREQ")(err) {
		t.Fatalf("second revoke: %v; want StateError revoked by UREQ", err)
	}

	r = pending()
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.revoke(p, "UAPP2", r.EndsAt); !stateIs(StateExpired, "")(err) {
		t.Fatalf("revoke after the end: %v; want StateError expired", err)
	}
	evs, err = r.revoke(p, "UAPP2", t0.Add(time.Minute))
	if err != nil || len(evs) != 1 || r.State != StateRevoked || r.EndedBy != "UAPP2" {
		t.Fatalf("revoke by approver: %v, %v, %s by %s; want revoked by UAPP2", kinds(evs), err, r.State, r.EndedBy)
	}
}

func TestCanMint(t *testing.T) {
	p := testPolicy()
	r := pending()
	if _, err := r.canMint(p, "UREQ", t0, false); !stateIs(StatePending, "")(err) {
		t.Fatalf("mint while pending: %v; want StateError", err)
	}
	r.Duration = 3 * time.Hour
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user string
		at   time.Time
		want time.Duration
		err  func(error) bool
	}{
		{"UREQ", t0, time.Hour, nil},
		{"UREQ", t0.Add(2*time.Hour + 30*time.Minute), 30 * time.Minute, nil},
		{"UREQ", t0.Add(3*time.Hour - 15*time.Minute), 15 * time.Minute, nil},
		{"UREQ", t0.Add(3*time.Hour - 15*time.Minute + time.Second), 0, func(err error) bool { return errors.Is(err, ErrTooLate) }},
		{"UREQ", t0.Add(3 * time.Hour), 0, stateIs(StateExpired, "")},
		{"UAPP1", t0, 0, isForbidden},
	}
	for _, tt := range tests {
		got, err := r.canMint(p, tt.user, tt.at, false)
		if tt.err == nil && (err != nil || got != tt.want) {
			t.Errorf("canMint(%s, +%v) = %v, %v; want %v", tt.user, tt.at.Sub(t0), got, err, tt.want)
		}
		if tt.err != nil && (err == nil || !tt.err(err)) {
			t.Errorf("canMint(%s, +%v) = %v, %v; want the expected error", tt.user, tt.at.Sub(t0), got, err)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID("trigger-1"), NewID("trigger-1")
	if a != b || !ValidID(a) {
		t.Fatalf("NewID(seed) = %q, %q; want equal valid IDs", a, b)
	}
	if c := NewID("trigger-2"); c == a {
		t.Fatalf("different seeds gave the same ID %q", c)
	}
	if r1, r2 := NewID(""), NewID(""); r1 == r2 || !ValidID(r1) {
		t.Fatalf("random IDs %q, %q; want distinct valid IDs", r1, r2)
	}
	for _, s := range []string{"", "abcdefghij", "ABCDEFGHI1", "ABCDEFGHIJK", "ABCDEFGHI!"} {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true; want false", s)
		}
	}
}

// TestFirstLinkOfShortestGrant: a 15-minute grant gets its first link even
// though a moment has passed since approval; later links never outlast it.
func TestFirstLinkOfShortestGrant(t *testing.T) {
	p := testPolicy()
	r := pending()
	r.Duration = MinSession
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after time.Duration
		first bool
		want  time.Duration // 0: refused as too late
	}{
		{0, true, MinSession},
		{3 * time.Second, true, MinSession},
		{FirstLinkGrace, true, MinSession},
		{FirstLinkGrace + time.Second, true, 0},
		{3 * time.Second, false, 0},
		{0, false, MinSession},
	}
	for _, tt := range tests {
		got, err := r.canMint(p, "UREQ", t0.Add(tt.after), tt.first)
		if tt.want == 0 && !errors.Is(err, ErrTooLate) || tt.want != 0 && (err != nil || got != tt.want) {
			t.Errorf("canMint(+%v, first %v) = %v, %v; want %v", tt.after, tt.first, got, err, tt.want)
		}
	}
}

// TestCanMintObject: only the requester gets a link for one object, and
// the refusal says link rather than console.
func TestCanMintObject(t *testing.T) {
	p := testPolicy()
	r := pending()
	r.Scope = Scope{Kind: KindGet, Bucket: "collab-bucket", Key: "myfolder/report.pdf", Access: AccessRead}
	if _, err := r.decide(p, "UAPP1", Approve, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := r.canMint(p, "UREQ", t0, true); err != nil || got != time.Hour {
		t.Errorf("canMint(requester) = %v, %v; want 1h", got, err)
	}
	_, err := r.canMint(p, "UAPP1", t0, false)
	var fe *ForbiddenError
	if !errors.As(err, &fe) || fe.Reason != "only the requester can get a link for this grant" {
		t.Errorf("canMint(approver) = %v; want the requester-only refusal about links", err)
	}
}
