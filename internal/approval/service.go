package approval

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Grant is what an Issuer needs to mint credentials for a request.
type Grant struct {
	RequestID string
	Requester string
	Approver  string
	Scope
	Session time.Duration // STS DurationSeconds, already capped
}

// Link is what a grant is used through: for a folder, a console sign-in
// link; for one object, a presigned URL that downloads or uploads it. URL
// is a secret: whoever holds it is signed in, or may use the object. It is
// handed to the Notifier or the requester and never stored. SessionEnds is
// when the session behind it ends, and with it the URL.
type Link struct {
	URL         string
	SessionEnds time.Time
}

// Issuer turns a grant into a link: a console sign-in link for a folder,
// a presigned URL for one object (Grant.Scope says which). Errors are
// *IssueError when AWS refused.
type Issuer interface {
	Issue(ctx context.Context, g Grant) (Link, error)
}

// Cutter makes the cloud deny everything to the sessions of the grants on
// the store's deny list (Request.CutUntil), and lets the others be. It
// reads the list from the store, so replicas converge, and may be called
// any number of times. Errors are *CutError when the cloud refused.
type Cutter interface {
	Sync(ctx context.Context) (CutResult, error)
}

// CutResult is what a Sync did.
type CutResult struct {
	// Cutoff is set when the deny list no longer fitted the cloud's
	// limit, so this Sync cut every session issued before Cutoff instead,
	// those of live grants included.
	Cutoff time.Time
}

// Notice is what the Notifier is told: an event, the request as it is now,
// and for an approval the first link.
type Notice struct {
	Event   Event
	Request *Request
	Link    *Link
	// LinkErr explains why an approved grant came without a link.
	LinkErr error
	// Cutoff is set when delivering the event cut every session issued
	// before it (see CutResult); approvers should hear of it.
	Cutoff time.Time
	// Remember stores a ref to a message the notifier just posted, so
	// later notices update it and clicks on it are recognised. Call it
	// right after each post: a click can come before Notify returns.
	Remember func(ctx context.Context, ref MessageRef) error
}

// Notifier tells people about events. An error means the notice should be
// retried; the notifier must then skip what it already did (messages it
// remembered are in Request.Messages on the next call). The exception is
// a *DeliveryError that is not Temporary, for a message to the requester
// that no retry can deliver: the notice is then settled as undelivered,
// so the notifier must have done everything else first.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Service runs the request lifecycle. It checks every action against the
// policy and the request's current state inside a store update, so the
// first valid decision wins and replays change nothing.
type Service struct {
	Store    Store
	Policy   Policy
	Issuer   Issuer
	Notifier Notifier
	// Cutter cuts the sessions of grants that end early; nil when
	// Policy.RevokeSessions is off.
	Cutter Cutter
	// Approvers, if set, names the approvers as they are now (the members
	// of chat user groups change); Policy.Approvers otherwise.
	Approvers ApproverSource
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// IssueAttempts is how many times a temporary issuing error is retried
	// before the request fails. Zero means 3.
	IssueAttempts int
	// CutAttempts is how many times delivering a cut is tried while the
	// cloud's errors are temporary, before the cut is recorded as failed.
	// Zero means 8 (about eight minutes with the worker's backoff).
	CutAttempts int

	changedOnce sync.Once
	changed     chan struct{}
}

// ApproverSource names the users who may decide on requests now.
type ApproverSource interface {
	Approvers() []string
}

// IsApprover reports whether user may decide on requests now.
func (s *Service) IsApprover(user string) bool { return s.policy().IsApprover(user) }

// CanExtend reports whether asking for more time on r can still help.
func (s *Service) CanExtend(r *Request) bool { return s.Policy.CanExtend(r) }

// policy returns the policy with the approvers as they are now.
func (s *Service) policy() Policy {
	p := s.Policy
	if s.Approvers != nil {
		p.Approvers = s.Approvers.Approvers()
	}
	return p
}

// NewService returns a Service with a real clock.
func NewService(store Store, policy Policy, issuer Issuer, notifier Notifier) *Service {
	return &Service{Store: store, Policy: policy, Issuer: issuer, Notifier: notifier, Now: time.Now}
}

// Changed fires after every write that may bring work forward, so a
// scheduler sleeping until the next due time can look again.
func (s *Service) Changed() <-chan struct{} {
	s.initChanged()
	return s.changed
}

func (s *Service) initChanged() {
	s.changedOnce.Do(func() { s.changed = make(chan struct{}, 1) })
}

func (s *Service) kick() {
	s.initChanged()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return s.Now().UTC().Truncate(time.Millisecond)
}

// Draft is a new request as a user asked for it.
type Draft struct {
	ID        string // from NewID; derived from the delivery so replays collide
	Requester string
	Scope
	Duration time.Duration
	Reason   string
}

// Check validates a draft against the policy without storing anything.
// Errors are *InvalidError or *ForbiddenError.
func (s *Service) Check(d Draft) error {
	if !ValidID(d.ID) {
		return &InvalidError{Field: "id", Reason: "malformed request ID"}
	}
	if d.Requester == "" {
		return &InvalidError{Field: "requester", Reason: "missing requester"}
	}
	if err := d.Scope.Check(); err != nil {
		return err
	}
	if !s.Policy.Allowed.Allows(d.Bucket, d.Path()) {
		return &InvalidError{Field: "bucket", Reason: fmt.Sprintf("%s is not shareable here; allowed: %s", shorten(d.Scope.String()), s.Policy.Allowed)}
	}
	if d.Duration < MinSession {
		return &InvalidError{Field: "duration", Reason: fmt.Sprintf("the shortest grant is %s", FormatDuration(MinSession))}
	}
	if d.Duration > s.Policy.MaxDuration {
		return &InvalidError{Field: "duration", Reason: fmt.Sprintf("the longest grant is %s", FormatDuration(s.Policy.MaxDuration))}
	}
	if err := CheckReason(d.Reason); err != nil {
		return err
	}
	if p := s.policy(); p.eligible(d.Requester) < p.required() {
		return &ForbiddenError{Reason: "there are not enough approvers other than you to decide on this request"}
	}
	return nil
}

// shorten cuts s to a length fit for a message: a key may be 1,024 bytes.
func shorten(s string) string {
	const n = 100
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CheckReason validates the free-text reason.
func CheckReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return &InvalidError{Field: "reason", Reason: "a reason is required"}
	}
	if len(reason) > MaxReasonLen {
		return &InvalidError{Field: "reason", Reason: fmt.Sprintf("the reason is at most %d characters", MaxReasonLen)}
	}
	for _, r := range reason {
		if unicode.IsControl(r) && r != '\n' || unicode.Is(unicode.Cf, r) {
			return &InvalidError{Field: "reason", Reason: "the reason contains control or invisible characters"}
		}
	}
	return nil
}

// Submit stores a new pending request and schedules its timeout. A replayed
// draft returns ErrExists and changes nothing. With Policy.MaxPending set,
// a draft asking for what one of the requester's pending requests asks
// for returns *AlreadyPendingError, and one over the limit
// *PendingLimitError.
func (s *Service) Submit(ctx context.Context, d Draft) (*Request, error) {
	if err := s.Check(d); err != nil {
		return nil, err
	}
	now := s.now()
	scope := d.Scope
	if scope.Kind == "" {
		scope.Kind = KindFolder
	}
	if err := s.checkPending(ctx, d.ID, d.Requester, scope, d.Duration, now); err != nil {
		return nil, err
	}
	r := &Request{
		ID:        d.ID,
		Requester: d.Requester,
		Scope:     scope,
		Duration:  d.Duration,
		Reason:    d.Reason,
		State:     StatePending,
		CreatedAt: now,
		TimeoutAt: now.Add(s.Policy.ApprovalTimeout),
	}
	if s.Policy.ApprovalReminder > 0 {
		r.RemindAt = now.Add(s.Policy.ApprovalReminder)
	}
	detail := map[string]string{
		"scope":    scope.String(),
		"access":   string(scope.Access),
		"duration": FormatDuration(d.Duration),
	}
	if scope.Object() {
		detail["kind"] = string(scope.Kind)
	}
	ev := newEvent(r, EventRequested, d.Requester, now, detail)
	if err := s.Store.Create(ctx, r, []Event{ev}); err != nil {
		return nil, err
	}
	s.kick()
	return r, nil
}

// Decide records approver's decision on request id. Errors: ErrNotFound,
// *ForbiddenError, *StateError.
func (s *Service) Decide(ctx context.Context, id, approver string, d Decision) (*Request, error) {
	now := s.now()
	r, _, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.decide(s.policy(), approver, d, now)
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return r, nil
}

// Extend asks the approvers for d more time on grant id, with a reason,
// on behalf of user, who must be its requester. Errors: ErrNotFound,
// *ForbiddenError, *InvalidError, *StateError (ErrExtensionPending when
// one is already pending).
func (s *Service) Extend(ctx context.Context, id, user string, d time.Duration, reason string) (*Request, error) {
	now := s.now()
	r, _, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.extend(s.policy(), user, d, reason, now)
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return r, nil
}

// DecideExtension records approver's decision on extension seq of grant
// id. Errors: ErrNotFound, *ForbiddenError, *InvalidError, *StateError.
func (s *Service) DecideExtension(ctx context.Context, id string, seq int, approver string, d Decision) (*Request, error) {
	now := s.now()
	r, _, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.decideExtension(s.policy(), seq, approver, d, now)
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return r, nil
}

// Revoke withdraws a pending request or ends an active grant now, on
// behalf of the requester or an approver. Errors: ErrNotFound,
// *ForbiddenError, *StateError.
func (s *Service) Revoke(ctx context.Context, id, user string) (*Request, error) {
	now := s.now()
	r, _, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.revoke(s.policy(), user, now)
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return r, nil
}

// Link mints a fresh link (sign-in or presigned) for the requester of an
// active grant.
// Errors: ErrNotFound, *ForbiddenError, *StateError, ErrTooLate, or the
// Issuer's error.
func (s *Service) Link(ctx context.Context, id, user string) (Link, *Request, error) {
	r, err := s.Store.Get(ctx, id)
	if err != nil {
		return Link{}, nil, err
	}
	link, err := s.mint(ctx, r, user, r.Requester, false)
	return link, r, err
}

// mint issues a link for r to user and records it in the audit log. first
// marks the link sent on approval.
func (s *Service) mint(ctx context.Context, r *Request, user, actor string, first bool) (Link, error) {
	now := s.now()
	session, err := r.canMint(s.Policy, user, now, first)
	if err != nil {
		return Link{}, err
	}
	link, err := s.Issuer.Issue(ctx, Grant{
		RequestID: r.ID,
		Requester: r.Requester,
		Approver:  r.DecidedBy,
		Scope:     r.Scope,
		Session:   session,
	})
	if err != nil {
		return Link{}, err
	}
	// The grant may have ended while the cloud minted the link: the
	// session is recorded either way (it must be cut if so), and the link
	// is handed out only if the grant is still active.
	var ended error
	_, _, err = s.Store.Update(ctx, r.ID, func(cur *Request) ([]Event, error) {
		evs, err := cur.recordSession(s.Policy, actor, link.SessionEnds, s.now())
		ended = err
		return evs, nil
	})
	if err != nil {
		return Link{}, fmt.Errorf("record link for %s: %w", r.ID, err)
	}
	if ended != nil {
		s.kick()
		return Link{}, ended
	}
	return link, nil
}

// Tick applies whatever is due for request id: timeout, warning or expiry.
// Replicas racing on the same request write the change once.
func (s *Service) Tick(ctx context.Context, id string) ([]Event, error) {
	now := s.now()
	_, evs, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.tick(s.Policy, now), nil
	})
	if err != nil {
		return nil, err
	}
	if len(evs) > 0 {
		s.kick()
	}
	return evs, nil
}

// Deliver carries out an event's consequences: for an approval, issuing the
// first link; for every event, telling people. An error means the
// event should be retried later. A notice the Notifier could not deliver
// for good (a permanent *DeliveryError) is recorded, not retried: for an
// approval, on the grant (Request.Undelivered).
func (s *Service) Deliver(ctx context.Context, ev Event) error {
	r, err := s.Store.Get(ctx, ev.RequestID)
	if err != nil {
		return err
	}
	n := Notice{Event: ev, Request: r, Remember: func(ctx context.Context, ref MessageRef) error {
		if err := s.Store.AddMessages(ctx, r.ID, []MessageRef{ref}); err != nil {
			return err
		}
		r.Messages = append(r.Messages, ref)
		return nil
	}}
	switch ev.Kind {
	case EventCutSessions, EventCutLifted:
		return s.deliverCut(ctx, ev, n)
	}
	// A retry after the grant message went out must not mint again.
	if ev.Kind == EventApproved && r.State == StateApproved && len(r.MessagesOf(MessageGrant)) == 0 {
		link, err := s.mint(ctx, r, r.Requester, "", true)
		var ie *IssueError
		switch {
		case err == nil:
			n.Link = &link
		case errors.As(err, &ie):
			attempts := s.IssueAttempts
			if attempts == 0 {
				attempts = 3
			}
			if ie.Temporary && ev.Attempts+1 < attempts {
				return err
			}
			return s.failGrant(ctx, r.ID, ie)
		case errors.Is(err, ErrTooLate), errors.As(err, new(*StateError)):
			n.LinkErr = err
		default:
			return err
		}
	}
	return s.settleNotice(ctx, ev, s.Notifier.Notify(ctx, n))
}

// deliverCut tells the cloud about the deny list, which now has the
// event's grant on it (cut) or no longer (lifted), and records and tells
// how cutting went. Temporary refusals are retried (the error makes the
// worker try again later) up to CutAttempts; after that, or at once for a
// refusal that will not change, the cut is recorded as failed and people
// are told the sessions could not be cut.
func (s *Service) deliverCut(ctx context.Context, ev Event, n Notice) error {
	if s.Cutter == nil {
		if ev.Kind == EventCutSessions {
			return s.settleCut(ctx, ev, n, &CutError{Code: "Disabled", Reason: "cutting sessions is turned off"})
		}
		return nil
	}
	res, err := s.Cutter.Sync(ctx)
	if err != nil {
		ce, ok := errors.AsType[*CutError](err)
		attempts := s.CutAttempts
		if attempts == 0 {
			attempts = 8
		}
		if !ok || ce.Temporary && ev.Attempts < attempts || ev.Kind == EventCutLifted {
			// A lift that fails for good is done by the next sync.
			return err
		}
		return s.settleCut(ctx, ev, n, ce)
	}
	n.Cutoff = res.Cutoff
	if ev.Kind == EventCutLifted {
		if res.Cutoff.IsZero() {
			return nil
		}
		return s.Notifier.Notify(ctx, n)
	}
	return s.settleCut(ctx, ev, n, nil)
}

// settleCut records how cutting went for the event's grant (cerr nil:
// done) and tells people.
func (s *Service) settleCut(ctx context.Context, ev Event, n Notice, cerr *CutError) error {
	r, _, err := s.Store.Update(ctx, ev.RequestID, func(r *Request) ([]Event, error) {
		return r.cutResult(cerr, s.now()), nil
	})
	if err != nil {
		return err
	}
	n.Request = r
	return s.settleNotice(ctx, ev, s.Notifier.Notify(ctx, n))
}

// failGrant moves an approved request to failed; the failed event then
// tells the requester and approvers.
func (s *Service) failGrant(ctx context.Context, id string, ie *IssueError) error {
	reason := ie.Code
	if ie.Reason != "" {
		reason = ie.Code + ": " + ie.Reason
	}
	_, _, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		if r.State != StateApproved {
			return nil, nil // revoked or expired meanwhile: nothing to fail
		}
		return r.fail(reason, s.now())
	})
	if err == nil {
		s.kick()
	}
	return err
}

// Get returns request id.
func (s *Service) Get(ctx context.Context, id string) (*Request, error) {
	return s.Store.Get(ctx, id)
}

// Listing is what a user sees with "list".
type Listing struct {
	Mine []*Request // the user's pending requests and active grants
	// ToDecide are others' pending requests, and others' grants with an
	// extension pending, for approvers.
	ToDecide []*Request
	// Waiting is how many of those there are in all, of which ToDecide is
	// page Page of PageSize (ListPage only).
	Waiting        int
	Page, PageSize int
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// idLen is long enough that IDs derived from distinct deliveries do not
// collide in practice (50 bits), short enough to type.
const idLen = 10

// NewID returns a request ID. With a seed (such as the chat platform's
// unique trigger of the request) the ID is derived from it, so a redelivery
// of the same request maps to the same ID and is stored once.
func NewID(seed string) string {
	var b [32]byte
	if seed == "" {
		_, _ = rand.Read(b[:])
	} else {
		b = sha256.Sum256([]byte(seed))
	}
	return idEncoding.EncodeToString(b[:])[:idLen]
}

// ValidID reports whether s has the shape of a request ID.
func ValidID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
