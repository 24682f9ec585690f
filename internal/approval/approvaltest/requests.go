package approvaltest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

func testCreateGet(t *testing.T, s approval.Store) {
	// Every field set, times in another zone, text that needs escaping.
	zone := time.FixedZone("UTC+2", 2*60*60)
	at := func(d time.Duration) time.Time { return T0.Add(d).In(zone) }
	id := ID("full")
	r := &approval.Request{
		ID:        id,
		Requester: "UREQ",
		Scope:     approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "my.folder/sub (1)/", Access: approval.AccessRead},
		Duration:  2*time.Hour + 30*time.Minute + 7*time.Nanosecond,
		Reason:    "quarterly numbers\nfor the \"auditors\", 'ünïcödé' ✓ ; DROP TABLE requests; --",
		State:     approval.StateApproved,
		CreatedAt: at(123 * time.Millisecond),
		TimeoutAt: at(8 * time.Hour),
		Approvals: []approval.Approval{
			{By: "UAPP1", At: at(time.Minute + 7*time.Millisecond)},
			{By: "UAPP2", At: at(2 * time.Minute)},
		},
		DecidedBy: "UAPP2",
		DecidedAt: at(2 * time.Minute),
		EndsAt:    at(2*time.Hour + 2*time.Minute),
		WarnAt:    at(time.Hour + 52*time.Minute),
		Warned:    true,
		EndedBy:   "UAPP1",
		EndedAt:   at(time.Hour + 999*time.Millisecond),
		Failure:   "AccessDenied: not allowed",
		// A grant revoked while a session ran.
		SessionsEnd: at(2*time.Hour + 17*time.Minute),
		Cut:         approval.CutFailed,
		CutUntil:    at(2*time.Hour + 22*time.Minute),
		CutError:    "AccessDenied: the bot may not",
		RemindAt:    at(3 * time.Hour),
		Undelivered: "invalid_blocks: Slack refused the message's \"layout\"",
		Extensions: []approval.Extension{
			{Seq: 1, Duration: time.Hour, Reason: "more\ntime ✓", State: approval.StateApproved, RequestedAt: at(time.Hour),
				TimeoutAt: at(9 * time.Hour), Approvals: []approval.Approval{{By: "UAPP1", At: at(time.Hour + time.Second)}},
				DecidedBy: "UAPP1", DecidedAt: at(time.Hour + time.Second)},
			{Seq: 2, Duration: 30 * time.Minute, Reason: "again", State: approval.StatePending, RequestedAt: at(2 * time.Hour),
				TimeoutAt: at(10 * time.Hour), RemindAt: at(3 * time.Hour)},
		},
		Messages: []approval.MessageRef{
			{Kind: approval.MessageExtension, Channel: "C0APPROVAL", TS: "1764244800.000300", Extension: 2},
			{Kind: approval.MessageApproval, Channel: "C0APPROVAL", TS: "1764244800.000100"},
			{Kind: approval.MessageGrant, Channel: "D0REQ", TS: "1764244800.000200"},
			{Kind: approval.MessageApproval, Channel: "D0APP1", TS: "1764244800.000050"},
		},
		Version: 7,
	}
	evs := []approval.Event{
		{RequestID: id, At: at(0), Kind: approval.EventRequested, Actor: "UREQ",
			Detail: map[string]string{"scope": "collab-bucket/my.folder/", "quote": `"'\`}, Notify: true},
		{RequestID: id, At: at(time.Second), Kind: approval.EventLinkMinted, Actor: ""},
	}
	MustCreate(t, s, r, evs...)

	got := MustGet(t, s, id)
	checkRequest(t, "Get", got, utc(r))

	// The store hands out copies.
	got.Approvals[0].By, got.Messages[0].TS = "UMUTATED", "0"
	checkRequest(t, "Get after changing the last result", MustGet(t, s, id), utc(r))

	want := []approval.Event{evs[0], evs[1]}
	want[0].At, want[1].At = want[0].At.UTC(), want[1].At.UTC()
	checkEvents(t, "Audit", MustAudit(t, s, approval.AuditFilter{RequestID: id}), want)
}

func testCreateGetZero(t *testing.T, s approval.Store) {
	r := &approval.Request{ID: ID("zero"), State: approval.StateDenied}
	MustCreate(t, s, r)
	got := MustGet(t, s, r.ID)
	checkRequest(t, "Get", got, r)
	if !got.CreatedAt.IsZero() || !got.EndsAt.IsZero() {
		t.Errorf("CreatedAt, EndsAt = %v, %v; want zero times", got.CreatedAt, got.EndsAt)
	}
	if evs := MustAudit(t, s, approval.AuditFilter{}); len(evs) != 0 {
		t.Errorf("Audit = %v; want no events", kinds(evs))
	}
}

// testCreateGetObject: requests for one object keep their kind and key
// through Create, Get, List and Update; the longest key S3 allows fits.
func testCreateGetObject(t *testing.T, s approval.Store) {
	ctx := t.Context()
	longKey := strings.Repeat("d-_.!()'=+@,/", approval.MaxKeyLen/13) + strings.Repeat("k", approval.MaxKeyLen%13)
	get, _ := Approved(ID("object-get"), "UREQ")
	get.Scope = approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "myfolder/report (final).pdf", Access: approval.AccessRead}
	put, _ := Pending(ID("object-put"), "UREQ")
	put.Scope = approval.Scope{Kind: approval.KindPut, Bucket: "collab-bucket", Key: longKey, Access: approval.AccessWrite}
	if len(put.Key) != approval.MaxKeyLen {
		t.Fatalf("test key is %d bytes; want %d", len(put.Key), approval.MaxKeyLen)
	}
	MustCreate(t, s, get)
	MustCreate(t, s, put)
	checkRequest(t, "Get of a get request", MustGet(t, s, get.ID), get)
	checkRequest(t, "Get of a put request", MustGet(t, s, put.ID), put)

	listed, err := s.List(ctx, approval.Filter{Requester: "UREQ"})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, r := range listed {
		want := get
		if r.ID == put.ID {
			want = put
		}
		checkRequest(t, "List", r, want)
	}
	if len(listed) != 2 {
		t.Errorf("List = %v; want both requests", ids(listed))
	}

	updated, _, err := s.Update(ctx, put.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.State, r.DecidedBy, r.DecidedAt = approval.StateDenied, "UAPP1", T0.Add(time.Minute)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.Kind != approval.KindPut || updated.Key != longKey {
		t.Errorf("Update returned kind %q, key of %d bytes; want put and the key unchanged", updated.Kind, len(updated.Key))
	}
	checkRequest(t, "Get after Update", MustGet(t, s, put.ID), updated)
}

func testCreateExists(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, ev := Pending(ID("dup"), "UREQ")
	MustCreate(t, s, r, ev)

	again, ev2 := Pending(r.ID, "UOTHER")
	again.Messages = []approval.MessageRef{{Kind: approval.MessageApproval, Channel: "C1", TS: "1.2"}}
	ev2.Kind = approval.EventDenied
	err := s.Create(ctx, again, []approval.Event{ev2})
	if !errors.Is(err, approval.ErrExists) {
		t.Fatalf("second Create = %v; want ErrExists", err)
	}
	checkRequest(t, "Get after the duplicate", MustGet(t, s, r.ID), r)
	if evs := MustAudit(t, s, approval.AuditFilter{}); len(evs) != 1 || evs[0].Kind != approval.EventRequested {
		t.Errorf("Audit = %v; want only [requested]", kinds(evs))
	}
}

func testCreateExistsConcurrent(t *testing.T, s approval.Store) {
	const n = 10
	id := ID("dup-concurrent")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, ev := Pending(id, fmt.Sprintf("UREQ%d", i))
			errs[i] = s.Create(t.Context(), r, []approval.Event{ev})
		})
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, approval.ErrExists):
			t.Errorf("Create %d = %v; want nil or ErrExists", i, err)
		}
	}
	if created != 1 {
		t.Errorf("%d Creates succeeded; want 1", created)
	}
	if evs := MustAudit(t, s, approval.AuditFilter{}); len(evs) != 1 {
		t.Errorf("Audit = %v; want one event", kinds(evs))
	}
}

func testGetNotFound(t *testing.T, s approval.Store) {
	_, err := s.Get(t.Context(), ID("missing"))
	if !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("Get = %v; want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, ev := Pending(ID("update"), "UREQ")
	MustCreate(t, s, r, ev)

	now := T0.Add(time.Minute)
	want := r.Clone()
	want.State, want.DecidedBy, want.DecidedAt = approval.StateDenied, "UAPP1", now
	want.Version = r.Version + 1
	denied := approval.Event{RequestID: r.ID, At: now, Kind: approval.EventDenied, Actor: "UAPP1", Notify: true,
		Detail: map[string]string{"why": "no"}}
	calls := 0
	got, evs, err := s.Update(ctx, r.ID, func(r *approval.Request) ([]approval.Event, error) {
		calls++
		r.State, r.DecidedBy, r.DecidedAt = approval.StateDenied, "UAPP1", now
		return []approval.Event{denied}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 1 {
		t.Errorf("modify function called %d times; want 1", calls)
	}
	checkRequest(t, "Update result", got, want)
	checkEvents(t, "Update events", evs, []approval.Event{denied})
	checkRequest(t, "Get after Update", MustGet(t, s, r.ID), want)

	all := MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})
	checkEvents(t, "Audit", all, []approval.Event{ev, denied})
	if len(all) == 2 && len(evs) == 1 && all[1].Seq != evs[0].Seq {
		t.Errorf("stored event Seq = %d; Update returned %d", all[1].Seq, evs[0].Seq)
	}
}

func testUpdateFuncError(t *testing.T, s approval.Store) {
	r, ev := Approved(ID("update-error"), "UREQ")
	MustCreate(t, s, r, ev)
	errRefused := &approval.StateError{Action: "approve", State: approval.StateApproved, By: "UAPP1"}
	got, evs, err := s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
		// Changes to the copy are dropped with the error.
		r.State = approval.StateRevoked
		r.Approvals[0].By = "UMUTATED"
		r.Approvals = append(r.Approvals, approval.Approval{By: "UAPP2", At: T0})
		return []approval.Event{{RequestID: r.ID, At: T0, Kind: approval.EventRevoked}}, errRefused
	})
	if err != errRefused { // the very error, not one wrapping it
		t.Errorf("Update = %v; want the modify function's error unchanged", err)
	}
	if got != nil || evs != nil {
		t.Errorf("Update = %v, %v; want nil request and events with the error", got, evs)
	}
	checkRequest(t, "Get after refused Update", MustGet(t, s, r.ID), r)
	if all := MustAudit(t, s, approval.AuditFilter{}); len(all) != 1 {
		t.Errorf("Audit = %v; want only the first event", kinds(all))
	}
}

func testUpdateNoEvents(t *testing.T, s approval.Store) {
	r, ev := Pending(ID("update-noop"), "UREQ")
	MustCreate(t, s, r, ev)
	got, evs, err := s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.Reason = "changed but not recorded"
		return nil, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(evs) != 0 {
		t.Errorf("Update events = %v; want none", kinds(evs))
	}
	checkRequest(t, "Update result", got, r)
	checkRequest(t, "Get after no-op Update", MustGet(t, s, r.ID), r)
	if all := MustAudit(t, s, approval.AuditFilter{}); len(all) != 1 {
		t.Errorf("Audit = %v; want only the first event", kinds(all))
	}
}

func testUpdateNotFound(t *testing.T, s approval.Store) {
	called := false
	_, _, err := s.Update(t.Context(), ID("missing"), func(r *approval.Request) ([]approval.Event, error) {
		called = true
		return nil, nil
	})
	if !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("Update = %v; want ErrNotFound", err)
	}
	if called {
		t.Error("modify function called for a missing request")
	}
}

func testUpdateMessages(t *testing.T, s approval.Store) {
	r, ev := Pending(ID("update-messages"), "UREQ")
	r.Messages = []approval.MessageRef{{Kind: approval.MessageApproval, Channel: "C1", TS: "1.1"}}
	MustCreate(t, s, r, ev)
	added := approval.MessageRef{Kind: approval.MessageGrant, Channel: "D1", TS: "2.2"}
	got, _, err := s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.Messages = append(r.Messages, added)
		return []approval.Event{event(r.ID, approval.EventWarned, T0, true)}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := r.Clone()
	want.Messages = append(want.Messages, added)
	want.Version++
	checkRequest(t, "Update result", got, want)
	checkRequest(t, "Get after Update", MustGet(t, s, r.ID), want)
}

// testUpdateRace has approvers click Approve on one request at once, as
// replicas handling a burst of clicks would: exactly one wins, and the
// approval is recorded once.
func testUpdateRace(t *testing.T, s approval.Store) {
	const n = 20
	var approvers []string
	for i := range n {
		approvers = append(approvers, fmt.Sprintf("UAPP%02d", i))
	}
	svc := approval.NewService(s, approval.Policy{
		Approvers:         approvers,
		ApprovalsRequired: 1,
		MaxDuration:       12 * time.Hour,
		ExpiryWarning:     10 * time.Minute,
		ApprovalTimeout:   8 * time.Hour,
		MaxSession:        time.Hour,
	}, nil, nil)
	now := T0.Add(time.Minute)
	svc.Now = func() time.Time { return now }

	r, ev := Pending(ID("race"), "UREQ")
	MustCreate(t, s, r, ev)

	type result struct {
		r   *approval.Request
		err error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got, err := svc.Decide(t.Context(), r.ID, approvers[i], approval.Approve)
			results[i] = result{got, err}
		})
	}
	close(start)
	wg.Wait()

	winner := ""
	for i, res := range results {
		var se *approval.StateError
		switch {
		case res.err == nil:
			if winner != "" {
				t.Errorf("%s and %s both approved", winner, approvers[i])
			}
			winner = approvers[i]
			if res.r.State != approval.StateApproved || res.r.DecidedBy != approvers[i] {
				t.Errorf("winner %s got state %s by %s; want approved by itself", approvers[i], res.r.State, res.r.DecidedBy)
			}
		case errors.As(res.err, &se):
			if se.State != approval.StateApproved {
				t.Errorf("%s: %v; want a StateError for an approved request", approvers[i], res.err)
			}
		default:
			t.Errorf("%s: Decide = %v; want nil or a StateError", approvers[i], res.err)
		}
	}
	if winner == "" {
		t.Fatal("nobody approved")
	}
	got := MustGet(t, s, r.ID)
	if got.State != approval.StateApproved || got.DecidedBy != winner || len(got.Approvals) != 1 || got.Version != r.Version+1 {
		t.Errorf("stored state %s by %s, %d approvals, version %d; want approved by %s, 1 approval, version %d",
			got.State, got.DecidedBy, len(got.Approvals), got.Version, winner, r.Version+1)
	}
	evs := MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})
	if k := kinds(evs); len(k) != 2 || k[1] != approval.EventApproved || evs[1].Actor != winner {
		t.Errorf("Audit = %v; want [requested approved] with the approval by %s", k, winner)
	}
}

// testUpdateNoLostUpdates has writers that can all succeed race on one
// request: every success is stored, with its event, and none is lost.
func testUpdateNoLostUpdates(t *testing.T, s approval.Store) {
	const n = 10
	r, ev := Pending(ID("counter"), "UREQ")
	MustCreate(t, s, r, ev)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			by := fmt.Sprintf("UAPP%02d", i)
			_, _, errs[i] = s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
				r.Approvals = append(r.Approvals, approval.Approval{By: by, At: T0})
				return []approval.Event{{RequestID: r.ID, At: T0, Kind: approval.EventApprovalRecorded, Actor: by}}, nil
			})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, approval.ErrConflict):
			t.Logf("writer %d gave up: %v", i, err)
		default:
			t.Errorf("writer %d: Update = %v; want nil or ErrConflict", i, err)
		}
	}
	if ok == 0 {
		t.Fatal("no writer succeeded")
	}
	got := MustGet(t, s, r.ID)
	recorded := MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})
	if len(got.Approvals) != ok || got.Version != r.Version+int64(ok) || len(recorded) != ok+1 {
		t.Errorf("%d approvals, version %d, %d events; want %d, %d, %d",
			len(got.Approvals), got.Version, len(recorded), ok, r.Version+int64(ok), ok+1)
	}
}

// testTickRace has schedulers on several replicas reach the same overdue
// request at once: the timeout is written once.
func testTickRace(t *testing.T, s approval.Store) {
	const n = 8
	r, ev := Pending(ID("tick-race"), "UREQ")
	MustCreate(t, s, r, ev)
	results := make([][]approval.Event, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		svc := approval.NewService(s, approval.Policy{}, nil, nil)
		svc.Now = func() time.Time { return r.TimeoutAt }
		wg.Go(func() { results[i], errs[i] = svc.Tick(t.Context(), r.ID) })
	}
	wg.Wait()
	timedOut := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Tick %d: %v", i, errs[i])
		}
		timedOut += len(results[i])
	}
	if timedOut != 1 {
		t.Errorf("%d Ticks returned events; want 1", timedOut)
	}
	if got := MustGet(t, s, r.ID); got.State != approval.StateTimedOut {
		t.Errorf("state %s; want timed_out", got.State)
	}
	if k := kinds(MustAudit(t, s, approval.AuditFilter{RequestID: r.ID})); len(k) != 2 || k[1] != approval.EventTimedOut {
		t.Errorf("Audit = %v; want [requested timed_out]", k)
	}
}

func testAddMessages(t *testing.T, s approval.Store) {
	ctx := t.Context()
	r, ev := Pending(ID("messages"), "UREQ")
	MustCreate(t, s, r, ev)
	other, ev2 := Pending(ID("messages-other"), "UREQ")
	MustCreate(t, s, other, ev2)

	a := approval.MessageRef{Kind: approval.MessageApproval, Channel: "C1", TS: "1.1"}
	b := approval.MessageRef{Kind: approval.MessageApproval, Channel: "D2", TS: "1.2"}
	c := approval.MessageRef{Kind: approval.MessageGrant, Channel: "D3", TS: "1.1"}
	if err := s.AddMessages(ctx, r.ID, []approval.MessageRef{a, b}); err != nil {
		t.Fatalf("AddMessages: %v", err)
	}
	// A replay of a partly failed notice: a and b again, and c.
	if err := s.AddMessages(ctx, r.ID, []approval.MessageRef{b, a, c, c}); err != nil {
		t.Fatalf("AddMessages again: %v", err)
	}
	// The same message ID on another request is another message.
	if err := s.AddMessages(ctx, other.ID, []approval.MessageRef{a}); err != nil {
		t.Fatalf("AddMessages to other: %v", err)
	}
	want := r.Clone()
	want.Messages = []approval.MessageRef{a, b, c}
	checkRequest(t, "Get", MustGet(t, s, r.ID), want)
	if got := MustGet(t, s, other.ID).Messages; len(got) != 1 || got[0] != a {
		t.Errorf("other request's messages = %v; want [%v]", got, a)
	}

	err := s.AddMessages(ctx, ID("missing"), []approval.MessageRef{a})
	if !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("AddMessages to a missing request = %v; want ErrNotFound", err)
	}
}

func testList(t *testing.T, s approval.Store) {
	ctx := t.Context()
	// Created a minute apart, in an order that is not the ID order.
	mk := func(name, requester string, state approval.State, minute int) *approval.Request {
		r, ev := Pending(ID(name), requester)
		r.State = state
		r.CreatedAt = T0.Add(time.Duration(minute) * time.Minute)
		MustCreate(t, s, r, ev)
		return r
	}
	a1 := mk("list-a1", "UA", approval.StatePending, 3)
	a2 := mk("list-a2", "UA", approval.StateApproved, 1)
	a3 := mk("list-a3", "UA", approval.StateDenied, 4)
	b1 := mk("list-b1", "UB", approval.StatePending, 2)
	b2 := mk("list-b2", "UB", approval.StateExpired, 0)
	// A grant whose extension waits for the approvers, and one whose
	// extension was decided.
	mkExt := func(name string, state approval.State, minute int) *approval.Request {
		r, ev := Approved(ID(name), "UC")
		r.CreatedAt = T0.Add(time.Duration(minute) * time.Minute)
		r.Extensions = []approval.Extension{{Seq: 1, Duration: time.Hour, Reason: "more", State: state, RequestedAt: T0, TimeoutAt: T0.Add(time.Hour)}}
		MustCreate(t, s, r, ev)
		return r
	}
	c1 := mkExt("list-c1", approval.StatePending, 5)
	c2 := mkExt("list-c2", approval.StateDenied, 6)
	msg := approval.MessageRef{Kind: approval.MessageApproval, Channel: "C1", TS: "9.9"}
	if err := s.AddMessages(ctx, b1.ID, []approval.MessageRef{msg}); err != nil {
		t.Fatalf("AddMessages: %v", err)
	}
	open := []approval.State{approval.StatePending, approval.StateApproved}
	tests := []struct {
		f    approval.Filter
		want []*approval.Request
	}{
		{approval.Filter{}, []*approval.Request{c2, c1, a3, a1, b1, a2, b2}},
		{approval.Filter{Undecided: true}, []*approval.Request{c1, a1, b1}},
		{approval.Filter{Undecided: true, Requester: "UC"}, []*approval.Request{c1}},
		{approval.Filter{Requester: "UA"}, []*approval.Request{a3, a1, a2}},
		{approval.Filter{Requester: "UA", States: open}, []*approval.Request{a1, a2}},
		{approval.Filter{States: []approval.State{approval.StatePending}}, []*approval.Request{a1, b1}},
		{approval.Filter{States: open, Limit: 2}, []*approval.Request{c2, c1}},
		{approval.Filter{States: open, Requester: "UB", Limit: 2}, []*approval.Request{b1}},
		{approval.Filter{Limit: 1}, []*approval.Request{c2}},
		{approval.Filter{Requester: "UNOBODY"}, nil},
		{approval.Filter{Requester: "UB", States: []approval.State{approval.StateRevoked}}, nil},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.f)
		if err != nil {
			t.Errorf("List(%+v): %v", tt.f, err)
			continue
		}
		if fmt.Sprint(ids(got)) != fmt.Sprint(ids(tt.want)) {
			t.Errorf("List(%+v) = %v; want %v", tt.f, ids(got), ids(tt.want))
			continue
		}
		for i := range got {
			want := tt.want[i]
			if want == b1 {
				want = b1.Clone()
				want.Messages = []approval.MessageRef{msg}
			}
			checkRequest(t, fmt.Sprintf("List(%+v)[%d]", tt.f, i), got[i], want)
		}
	}
}

func testDueAndWake(t *testing.T, s approval.Store) {
	ctx := t.Context()
	checkWake := func(what string, want time.Time) {
		t.Helper()
		at, ok, err := s.Wake(ctx)
		switch {
		case err != nil:
			t.Errorf("%s: Wake: %v", what, err)
		case want.IsZero() && ok:
			t.Errorf("%s: Wake = %v; want no work", what, at)
		case !want.IsZero() && (!ok || !at.Equal(want)):
			t.Errorf("%s: Wake = %v, %t; want %v", what, at, ok, want)
		}
	}
	checkDue := func(now time.Time, limit int, want ...string) {
		t.Helper()
		got, err := s.Due(ctx, now, limit)
		if err != nil {
			t.Errorf("Due(%v, %d): %v", now, limit, err)
			return
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Due(T0+%v, %d) = %v; want %v", now.Sub(T0), limit, got, want)
		}
	}
	checkWake("empty store", time.Time{})
	checkDue(T0.Add(100*time.Hour), 10)

	// Audit-only events, so only NextDue counts.
	pending, ev := Pending(ID("due-pending"), "UREQ") // due at T0+8h
	ev.Notify = false
	MustCreate(t, s, pending, ev)
	warn, ev := Approved(ID("due-warn"), "UREQ") // due at T0+1h50m
	MustCreate(t, s, warn, ev)
	end, ev := Approved(ID("due-end"), "UREQ") // warned: due at T0+2h
	end.Warned = true
	MustCreate(t, s, end, ev)
	short, ev := Approved(ID("due-short"), "UREQ") // no warning: due at T0+30m
	short.EndsAt, short.WarnAt = T0.Add(30*time.Minute), time.Time{}
	MustCreate(t, s, short, ev)
	denied, ev := Pending(ID("due-denied"), "UREQ") // terminal: never due
	denied.State = approval.StateDenied
	ev.Notify = false
	MustCreate(t, s, denied, ev)

	checkWake("after Create", T0.Add(30*time.Minute))
	checkDue(T0.Add(29*time.Minute), 10)
	checkDue(T0.Add(30*time.Minute), 10, short.ID)
	checkDue(T0.Add(110*time.Minute), 10, short.ID, warn.ID)
	checkDue(T0.Add(100*time.Hour), 0, short.ID, warn.ID, end.ID, pending.ID)
	checkDue(T0.Add(100*time.Hour), 2, short.ID, warn.ID)

	// Updates move NextDue.
	tick := func(id string, fn func(r *approval.Request)) {
		t.Helper()
		_, _, err := s.Update(ctx, id, func(r *approval.Request) ([]approval.Event, error) {
			fn(r)
			return []approval.Event{event(id, approval.EventWarned, T0, false)}, nil
		})
		if err != nil {
			t.Fatalf("Update(%s): %v", id, err)
		}
	}
	tick(short.ID, func(r *approval.Request) { r.State = approval.StateExpired })
	checkWake("after expiry", T0.Add(110*time.Minute))
	tick(warn.ID, func(r *approval.Request) { r.Warned = true })
	checkWake("after warning", T0.Add(2*time.Hour))
	checkDue(T0.Add(2*time.Hour), 10, end.ID, warn.ID)
	tick(end.ID, func(r *approval.Request) { r.State = approval.StateRevoked })
	tick(warn.ID, func(r *approval.Request) { r.State = approval.StateExpired })
	checkWake("after the grants ended", T0.Add(8*time.Hour))
	tick(pending.ID, func(r *approval.Request) { r.State = approval.StateTimedOut })
	checkWake("with nothing left", time.Time{})
	checkDue(T0.Add(100*time.Hour), 10)
}
