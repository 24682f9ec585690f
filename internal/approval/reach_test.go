package approval_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
)

// The service's side of "no grant stuck" and "flood limits", on a real
// store: pending requests per requester, the same request answered with
// the pending one, listings in pages, and notices that cannot be
// delivered settled and recorded rather than retried for ever.

var reachT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// scriptedNotifier answers each Notify with the next error of errs (nil
// once they run out) and records the notices.
type scriptedNotifier struct {
	mu      sync.Mutex
	errs    []error
	notices []approval.Notice
}

func (n *scriptedNotifier) Notify(_ context.Context, no approval.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, no)
	if len(n.errs) == 0 {
		return nil
	}
	err := n.errs[0]
	n.errs = n.errs[1:]
	return err
}

func (n *scriptedNotifier) kinds() []approval.EventKind {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []approval.EventKind
	for _, no := range n.notices {
		out = append(out, no.Event.Kind)
	}
	return out
}

type linkIssuer struct{}

func (linkIssuer) Issue(_ context.Context, g approval.Grant) (approval.Link, error) {
	return approval.Link{URL: "https://signin.example/login?SigninToken=secret", SessionEnds: reachT0.Add(g.Session)}, nil
}

type reachEnv struct {
	svc   *approval.Service
	store approval.Store
	n     *scriptedNotifier
	now   time.Time
}

func newReach(t *testing.T, maxPending int) *reachEnv {
	t.Helper()
	store, err := sqlitestore.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	allowed, err := approval.ParseAllowEntry("collab-bucket")
	if err != nil {
		t.Fatal(err)
	}
	e := &reachEnv{store: store, n: &scriptedNotifier{}, now: reachT0}
	e.svc = approval.NewService(store, approval.Policy{
		Approvers: []string{"UAPP1", "UAPP2"}, ApprovalsRequired: 1, Allowed: approval.AllowList{allowed},
		MaxDuration: 12 * time.Hour, ApprovalTimeout: time.Hour, MaxSession: time.Hour, MaxPending: maxPending,
	}, linkIssuer{}, e.n)
	e.svc.Now = func() time.Time { return e.now }
	return e
}

func draft(requester, prefix string, d time.Duration, reason string) approval.Draft {
	return approval.Draft{
		ID: approval.NewID(fmt.Sprint(requester, prefix, d, reason)), Requester: requester,
		Scope:    approval.Scope{Bucket: "collab-bucket", Prefix: prefix, Access: approval.AccessWrite},
		Duration: d, Reason: reason,
	}
}

func (e *reachEnv) submit(t *testing.T, d approval.Draft) *approval.Request {
	t.Helper()
	r, err := e.svc.Submit(context.Background(), d)
	if err != nil {
		t.Fatalf("Submit(%s %s): %v", d.Requester, d.Scope, err)
	}
	return r
}

// TestSubmitSamePending: the same kind, scope, access and duration while
// one is pending gets the pending one back, whatever the reason; anything
// else that differs is a new request, as is the same once the first is
// decided or past its timeout. A replay is still a replay.
func TestSubmitSamePending(t *testing.T) {
	e := newReach(t, 10)
	ctx := context.Background()
	first := e.submit(t, draft("UREQ", "a/", 2*time.Hour, "numbers"))

	again := draft("UREQ", "a/", 2*time.Hour, "numbers, please, now")
	_, err := e.svc.Submit(ctx, again)
	var ap *approval.AlreadyPendingError
	if !errors.As(err, &ap) || ap.Request.ID != first.ID {
		t.Fatalf("the same request again = %v; want *AlreadyPendingError naming %s", err, first.ID)
	}
	retyped := draft("UREQ", "a/", 2*time.Hour, "numbers")
	retyped.ID = approval.NewID("another trigger") // same words, a new command
	if _, err := e.svc.Submit(ctx, retyped); !errors.As(err, &ap) {
		t.Fatalf("the same command typed again = %v; want *AlreadyPendingError", err)
	}
	first2 := draft("UREQ", "a/", 2*time.Hour, "numbers")
	first2.ID = first.ID
	if _, err := e.svc.Submit(ctx, first2); !errors.Is(err, approval.ErrExists) {
		t.Fatalf("replay = %v; want ErrExists", err)
	}

	read := draft("UREQ", "a/", 2*time.Hour, "r")
	read.Access = approval.AccessRead
	get := approval.Draft{ID: approval.NewID("get"), Requester: "UREQ", Duration: 2 * time.Hour, Reason: "r",
		Scope: approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "a/x", Access: approval.AccessRead}}
	for _, d := range []approval.Draft{
		draft("UREQ", "a/", 3*time.Hour, "longer"),
		draft("UREQ", "a/b/", 2*time.Hour, "deeper"),
		read,
		get,
		draft("UOTHER", "a/", 2*time.Hour, "numbers"),
	} {
		e.submit(t, d)
	}

	// Decided or timed out, the first no longer stands in the way.
	if _, err := e.svc.Decide(ctx, first.ID, "UAPP1", approval.Deny); err != nil {
		t.Fatal(err)
	}
	e.submit(t, draft("UREQ", "a/", 2*time.Hour, "after the denial"))
	e.now = reachT0.Add(time.Hour) // every request so far is past its timeout
	e.submit(t, draft("UREQ", "a/", 2*time.Hour, "after the timeout"))
}

// TestSubmitPendingLimit: at MaxPending undecided requests the next is
// refused, naming them; a decision or a timeout makes room. Zero turns
// the flood limits off, the same-request rule too.
func TestSubmitPendingLimit(t *testing.T) {
	e := newReach(t, 3)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		e.now = reachT0.Add(time.Duration(i) * time.Minute)
		ids = append(ids, e.submit(t, draft("UREQ", fmt.Sprintf("f%d/", i), time.Hour, "r")).ID)
	}
	_, err := e.svc.Submit(ctx, draft("UREQ", "f3/", time.Hour, "r"))
	var le *approval.PendingLimitError
	if !errors.As(err, &le) || le.Limit != 3 || !slices.Equal(le.Pending, []string{ids[2], ids[1], ids[0]}) {
		t.Fatalf("fourth request = %v; want *PendingLimitError with limit 3 naming %v", err, ids)
	}
	e.submit(t, draft("UOTHER", "f3/", time.Hour, "r")) // the limit is per requester

	if _, err := e.svc.Revoke(ctx, ids[1], "UREQ"); err != nil {
		t.Fatal(err)
	}
	e.submit(t, draft("UREQ", "f3/", time.Hour, "r"))
	if _, err := e.svc.Submit(ctx, draft("UREQ", "f4/", time.Hour, "r")); !errors.As(err, &le) {
		t.Fatalf("over the limit again = %v; want *PendingLimitError", err)
	}
	e.now = reachT0.Add(time.Hour) // ids[0] timed out; the scheduler has not run
	e.submit(t, draft("UREQ", "f4/", time.Hour, "r"))

	unlimited := newReach(t, 0)
	for i := range 20 {
		d := draft("UREQ", "f/", time.Hour, "r")
		d.ID = approval.NewID(fmt.Sprint("unlimited", i))
		unlimited.submit(t, d)
	}
}

// TestListPage: approvers page through every pending request of others,
// with the count of all of them; their own stay under Mine.
func TestListPage(t *testing.T) {
	e := newReach(t, 0)
	ctx := context.Background()
	var others []string // newest first
	for i := range 7 {
		e.now = reachT0.Add(time.Duration(i) * time.Minute)
		others = append([]string{e.submit(t, draft(fmt.Sprintf("UREQ%d", i), "f/", time.Hour, "r")).ID}, others...)
	}
	own := e.submit(t, draft("UAPP1", "f/", time.Hour, "mine"))
	var seen []string
	for page := 1; page <= 4; page++ {
		l, err := e.svc.ListPage(ctx, "UAPP1", page, 3)
		if err != nil {
			t.Fatal(err)
		}
		if l.Waiting != 7 || l.Page != page || l.PageSize != 3 {
			t.Errorf("page %d: Waiting %d, Page %d, PageSize %d; want 7, %d, 3", page, l.Waiting, l.Page, l.PageSize, page)
		}
		if len(l.Mine) != 1 || l.Mine[0].ID != own.ID {
			t.Errorf("page %d: Mine = %v; want the approver's own request", page, l.Mine)
		}
		for _, r := range l.ToDecide {
			seen = append(seen, r.ID)
		}
	}
	if !slices.Equal(seen, others) {
		t.Errorf("pages showed %v; want every pending request of others once, newest first: %v", seen, others)
	}
	l, err := e.svc.ListPage(ctx, "UREQ3", 1, 3)
	if err != nil || l.Waiting != 0 || l.ToDecide != nil || len(l.Mine) != 1 {
		t.Errorf("non-approver's listing = %+v, %v; want only their own request", l, err)
	}
}

// approvedGrant submits and approves a request and returns its
// approved event, as the worker would claim it.
func (e *reachEnv) approvedGrant(t *testing.T) approval.Event {
	t.Helper()
	ctx := context.Background()
	r := e.submit(t, draft("UREQ", "g/", 2*time.Hour, "r"))
	if _, err := e.svc.Decide(ctx, r.ID, "UAPP1", approval.Approve); err != nil {
		t.Fatal(err)
	}
	evs, err := e.store.Audit(ctx, approval.AuditFilter{RequestID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind == approval.EventApproved {
			ev.Attempts = 1
			return ev
		}
	}
	t.Fatal("no approved event")
	return approval.Event{}
}

func (e *reachEnv) audit(t *testing.T, id string) []approval.Event {
	t.Helper()
	evs, err := e.store.Audit(context.Background(), approval.AuditFilter{RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func lastOf(evs []approval.Event, kind approval.EventKind) *approval.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return &evs[i]
		}
	}
	return nil
}

// TestDeliverUndeliverableLink: a grant DM refused for good settles the
// approval (no retry) and records why on the grant, with an event that
// tells the approvers; the link can still be had with Link.
func TestDeliverUndeliverableLink(t *testing.T) {
	e := newReach(t, 0)
	ctx := context.Background()
	ev := e.approvedGrant(t)
	e.n.errs = []error{fmt.Errorf("DM UREQ: %w", &approval.DeliveryError{Code: "invalid_blocks", Reason: "Slack refused the message"})}
	if err := e.svc.Deliver(ctx, ev); err != nil {
		t.Fatalf("Deliver = %v; want the refusal settled", err)
	}
	r, err := e.svc.Get(ctx, ev.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "invalid_blocks: Slack refused the message"; r.Undelivered != want || r.State != approval.StateApproved {
		t.Fatalf("Undelivered %q, state %s; want %q on an active grant", r.Undelivered, r.State, want)
	}
	got := lastOf(e.audit(t, r.ID), approval.EventLinkUndelivered)
	if got == nil || !got.Notify || got.Detail["reason"] != r.Undelivered {
		t.Fatalf("link_undelivered event = %+v; want one to notify, with the reason", got)
	}
	if err := e.svc.Deliver(ctx, *got); err != nil {
		t.Fatal(err)
	}
	if k := e.n.kinds(); !slices.Equal(k, []approval.EventKind{approval.EventApproved, approval.EventLinkUndelivered}) {
		t.Errorf("notices = %v; want approved, then link_undelivered", k)
	}
	if link, _, err := e.svc.Link(ctx, r.ID, "UREQ"); err != nil || link.URL == "" {
		t.Errorf("Link after the failed DM = %v; want a fresh link", err)
	}

	// The next notice refused for good is only audited.
	before, _ := e.svc.Get(ctx, r.ID)
	warn := approval.Event{RequestID: r.ID, Kind: approval.EventWarned, Attempts: 1}
	e.n.errs = []error{&approval.DeliveryError{Code: "user_disabled", Reason: "deactivated"}}
	if err := e.svc.Deliver(ctx, warn); err != nil {
		t.Fatalf("Deliver warned = %v; want it settled", err)
	}
	if got := lastOf(e.audit(t, r.ID), approval.EventNoticeUndelivered); got == nil || got.Notify ||
		got.Detail["event"] != "warned" || got.Detail["reason"] != "user_disabled: deactivated" {
		t.Errorf("notice_undelivered event = %+v; want an audit-only record of the warning", got)
	}
	if after, _ := e.svc.Get(ctx, r.ID); after.Version != before.Version {
		t.Errorf("the undelivered warning changed the grant: version %d; want %d", after.Version, before.Version)
	}
}

// TestDeliverTemporaryFailure: a temporary refusal, or any other error,
// is retried: nothing is recorded.
func TestDeliverTemporaryFailure(t *testing.T) {
	for _, err := range []error{
		&approval.DeliveryError{Code: "ratelimited", Reason: "Slack asked to slow down", Temporary: true},
		errors.New("connection reset"),
	} {
		e := newReach(t, 0)
		ev := e.approvedGrant(t)
		e.n.errs = []error{err}
		if got := e.svc.Deliver(context.Background(), ev); !errors.Is(got, err) {
			t.Errorf("Deliver = %v; want %v, to retry", got, err)
		}
		r, _ := e.svc.Get(context.Background(), ev.RequestID)
		if r.Undelivered != "" || lastOf(e.audit(t, r.ID), approval.EventLinkUndelivered) != nil {
			t.Errorf("a temporary failure was recorded as undelivered: %q", r.Undelivered)
		}
	}
}

// TestGiveUp: when the worker gives up an approval, the grant records
// that its link was not delivered and why, once; other events are
// audited.
func TestGiveUp(t *testing.T) {
	e := newReach(t, 0)
	ctx := context.Background()
	ev := e.approvedGrant(t)
	ev.Attempts = 10
	last := fmt.Errorf("DM UREQ: %w", &approval.DeliveryError{Code: "ratelimited", Reason: "Slack kept asking to slow down", Temporary: true})
	for range 2 {
		if err := e.svc.GiveUp(ctx, ev, last); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := e.svc.Get(ctx, ev.RequestID)
	if want := "ratelimited: Slack kept asking to slow down (gave up after 10 attempts)"; r.Undelivered != want {
		t.Errorf("Undelivered = %q; want %q", r.Undelivered, want)
	}
	n := 0
	for _, got := range e.audit(t, r.ID) {
		if got.Kind == approval.EventLinkUndelivered || got.Kind == approval.EventNoticeUndelivered {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d undelivered events after giving up twice; want 1", n)
	}

	// A grant whose DM went out has nothing to record; an error that
	// says nothing is recorded in our words.
	e2 := newReach(t, 0)
	ev2 := e2.approvedGrant(t)
	if err := e2.svc.GiveUp(ctx, approval.Event{RequestID: ev2.RequestID, Kind: approval.EventExpired, Attempts: 10}, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	got := lastOf(e2.audit(t, ev2.RequestID), approval.EventNoticeUndelivered)
	if got == nil || got.Detail["reason"] != "gave_up: delivering it kept failing (gave up after 10 attempts)" {
		t.Errorf("give-up of an expiry notice = %+v; want it audited in our words", got)
	}
	if r, _ := e2.svc.Get(ctx, ev2.RequestID); r.Undelivered != "" {
		t.Errorf("giving up an expiry notice marked the link undelivered: %q", r.Undelivered)
	}
}
