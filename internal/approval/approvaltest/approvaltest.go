// Package approvaltest holds the conformance suite that every
// approval.Store implementation passes.
package approvaltest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// TestStore runs the conformance suite, one subtest per behaviour of the
// approval.Store contract. open must return a new, empty store for each
// call; it is called once per subtest and should register its own cleanup
// with t.
//
// Beyond the interface's comments, the suite pins down what the
// implementations agree on:
//   - Times read back in UTC at millisecond precision; zero times stay zero.
//   - Create stores the request as given, Version included; Update writes
//     Version+1.
//   - Errors match approval.ErrNotFound, ErrExists and ErrConflict with
//     errors.Is; a modify function's own error comes back unchanged.
//   - Audit-only events (Notify false) are never claimed; a claimed event
//     is claimable again once its lease has run out; Wake counts only the
//     oldest undelivered event of each request, at its lease end while it
//     is leased. Defer releases a claimed event without counting the
//     attempt.
//   - A zero Filter.Limit or AuditFilter.Limit means no limit; an Offset
//     without a Limit skips and returns the rest.
func TestStore(t *testing.T, open func(t *testing.T) approval.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s approval.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateGetZero", testCreateGetZero},
		{"CreateGetObject", testCreateGetObject},
		{"CreateExists", testCreateExists},
		{"CreateExistsConcurrent", testCreateExistsConcurrent},
		{"GetNotFound", testGetNotFound},
		{"Update", testUpdate},
		{"UpdateFuncError", testUpdateFuncError},
		{"UpdateNoEvents", testUpdateNoEvents},
		{"UpdateNotFound", testUpdateNotFound},
		{"UpdateMessages", testUpdateMessages},
		{"UpdateRace", testUpdateRace},
		{"UpdateNoLostUpdates", testUpdateNoLostUpdates},
		{"TickRace", testTickRace},
		{"Append", testAppend},
		{"AddMessages", testAddMessages},
		{"List", testList},
		{"ListPages", testListPages},
		{"DueAndWake", testDueAndWake},
		{"Claim", testClaim},
		{"ClaimRetry", testClaimRetry},
		{"ClaimDefer", testClaimDefer},
		{"ClaimLatest", testClaimLatest},
		{"ClaimPrefersRequesters", testClaimPrefersRequesters},
		{"WakeEvents", testWakeEvents},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Audit", testAudit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// T0 is the time the suite's requests are created at.
var T0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// ID returns a valid request ID derived from name.
func ID(name string) string { return approval.NewID("approvaltest/" + name) }

// Pending returns a pending request created at T0 that times out 8 hours
// later, with its "requested" event (to notify).
func Pending(id, requester string) (*approval.Request, approval.Event) {
	r := &approval.Request{
		ID:        id,
		Requester: requester,
		Scope:     approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite},
		Duration:  2 * time.Hour,
		Reason:    "quarterly numbers",
		State:     approval.StatePending,
		CreatedAt: T0,
		TimeoutAt: T0.Add(8 * time.Hour),
	}
	return r, approval.Event{RequestID: id, At: T0, Kind: approval.EventRequested, Actor: requester, Notify: true}
}

// Approved returns a request approved at T0 for two hours, with a warning
// due ten minutes before its end. Its event is audit-only, so it does not
// show up in Claim or in Wake.
func Approved(id, requester string) (*approval.Request, approval.Event) {
	r, _ := Pending(id, requester)
	r.State, r.DecidedBy, r.DecidedAt = approval.StateApproved, "UAPP1", T0
	r.Approvals = []approval.Approval{{By: "UAPP1", At: T0}}
	r.EndsAt = T0.Add(2 * time.Hour)
	r.WarnAt = r.EndsAt.Add(-10 * time.Minute)
	return r, approval.Event{RequestID: id, At: T0, Kind: approval.EventApproved, Actor: "UAPP1"}
}

// MustCreate creates r with events or fails the test.
func MustCreate(tb testing.TB, s approval.Store, r *approval.Request, events ...approval.Event) {
	tb.Helper()
	if err := s.Create(tb.Context(), r, events); err != nil {
		tb.Fatalf("Create(%s): %v", r.ID, err)
	}
}

// MustGet returns request id or fails the test.
func MustGet(tb testing.TB, s approval.Store, id string) *approval.Request {
	tb.Helper()
	r, err := s.Get(tb.Context(), id)
	if err != nil {
		tb.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

// MustAudit returns the events matching f or fails the test.
func MustAudit(tb testing.TB, s approval.Store, f approval.AuditFilter) []approval.Event {
	tb.Helper()
	evs, err := s.Audit(tb.Context(), f)
	if err != nil {
		tb.Fatalf("Audit(%+v): %v", f, err)
	}
	return evs
}

// DiffRequest describes how got differs from want, one line per field, or
// returns nil if they are equal. Times are equal if they are the same
// instant and got is in UTC; empty and nil lists are equal.
func DiffRequest(got, want *approval.Request) []string {
	return diffStruct(reflect.ValueOf(*got), reflect.ValueOf(*want), "")
}

// DiffEvent is DiffRequest for events.
func DiffEvent(got, want approval.Event) []string {
	return diffStruct(reflect.ValueOf(got), reflect.ValueOf(want), "")
}

var timeType = reflect.TypeFor[time.Time]()

func diffStruct(got, want reflect.Value, prefix string) []string {
	var diffs []string
	for i := range got.NumField() {
		f := got.Type().Field(i)
		name := prefix + f.Name
		g, w := got.Field(i), want.Field(i)
		switch {
		case f.Type == timeType:
			gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
			if !gt.Equal(wt) || gt.IsZero() != wt.IsZero() {
				diffs = append(diffs, fmt.Sprintf("%s = %v; want %v", name, gt, wt))
			} else if !gt.IsZero() && gt.Location() != time.UTC {
				diffs = append(diffs, fmt.Sprintf("%s = %v; want it in UTC", name, gt))
			}
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			diffs = append(diffs, diffStruct(g, w, name+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			if g.Len() != w.Len() {
				diffs = append(diffs, fmt.Sprintf("%s = %+v; want %+v", name, g.Interface(), w.Interface()))
				continue
			}
			for j := range g.Len() {
				diffs = append(diffs, diffStruct(g.Index(j), w.Index(j), fmt.Sprintf("%s[%d].", name, j))...)
			}
		case (f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map) && g.Len() == 0 && w.Len() == 0:
		case !reflect.DeepEqual(g.Interface(), w.Interface()):
			diffs = append(diffs, fmt.Sprintf("%s = %#v; want %#v", name, g.Interface(), w.Interface()))
		}
	}
	return diffs
}

func checkRequest(t *testing.T, what string, got, want *approval.Request) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil request; want %s", what, want.ID)
		return
	}
	for _, d := range DiffRequest(got, want) {
		t.Errorf("%s: %s", what, d)
	}
}

func checkEvents(t *testing.T, what string, got, want []approval.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d events %v; want %d %v", what, len(got), kinds(got), len(want), kinds(want))
		return
	}
	for i := range got {
		if got[i].Seq <= 0 {
			t.Errorf("%s: event %d: Seq = %d; want it set", what, i, got[i].Seq)
		}
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Errorf("%s: event %d: Seq = %d after %d; want increasing", what, i, got[i].Seq, got[i-1].Seq)
		}
		w := want[i]
		w.Seq = got[i].Seq
		for _, d := range DiffEvent(got[i], w) {
			t.Errorf("%s: event %d: %s", what, i, d)
		}
	}
}

func kinds(evs []approval.Event) []approval.EventKind {
	out := make([]approval.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func seqs(evs []approval.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func ids(rs []*approval.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// utc returns r with every time in UTC, as a store returns it.
func utc(r *approval.Request) *approval.Request {
	c := r.Clone()
	for _, p := range []*time.Time{&c.CreatedAt, &c.TimeoutAt, &c.DecidedAt, &c.EndsAt, &c.WarnAt, &c.EndedAt, &c.SessionsEnd, &c.CutUntil, &c.RemindAt} {
		*p = p.UTC()
	}
	for i := range c.Approvals {
		c.Approvals[i].At = c.Approvals[i].At.UTC()
	}
	for i := range c.Extensions {
		e := &c.Extensions[i]
		e.RequestedAt, e.TimeoutAt, e.RemindAt, e.DecidedAt = e.RequestedAt.UTC(), e.TimeoutAt.UTC(), e.RemindAt.UTC(), e.DecidedAt.UTC()
		for j := range e.Approvals {
			e.Approvals[j].At = e.Approvals[j].At.UTC()
		}
	}
	return c
}

// notify returns ev as a notice to send.
func notify(ev approval.Event) approval.Event {
	ev.Notify = true
	return ev
}

func event(id string, kind approval.EventKind, at time.Time, notify bool) approval.Event {
	return approval.Event{RequestID: id, At: at, Kind: kind, Notify: notify}
}

func sortedIDs(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}
