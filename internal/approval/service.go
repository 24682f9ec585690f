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

// Notice is what the Notifier is told: an event, the request as it is now,
// and for an approval the first link.
type Notice struct {
	Event   Event
	Request *Request
	Link    *Link
	// LinkErr explains why an approved grant came without a link.
	LinkErr error
	// Remember stores a ref to a message the notifier just posted, so
	// later notices update it and clicks on it are recognised. Call it
	// right after each post: a click can come before Notify returns.
	Remember func(ctx context.Context, ref MessageRef) error
}

// Notifier tells people about events. An error means the notice should be
// retried; the notifier must then skip what it already did (messages it
// remembered are in Request.Messages on the next call).
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
	// Now returns the current time; tests replace it.
	Now func() time.Time
	// IssueAttempts is how many times a temporary issuing error is retried
	// before the request fails. Zero means 3.
	IssueAttempts int

	changedOnce sync.Once
	changed     chan struct{}
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
	if s.Policy.eligible(d.Requester) < s.Policy.required() {
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
// draft returns ErrExists and changes nothing.
func (s *Service) Submit(ctx context.Context, d Draft) (*Request, error) {
	if err := s.Check(d); err != nil {
		return nil, err
	}
	now := s.now()
	scope := d.Scope
	if scope.Kind == "" {
		scope.Kind = KindFolder
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
		return r.decide(s.Policy, approver, d, now)
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
		return r.revoke(s.Policy, user, now)
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
	ev := newEvent(r, EventLinkMinted, actor, s.now(), map[string]string{
		"session_ends": link.SessionEnds.UTC().Format(time.RFC3339),
	})
	ev.Notify = false
	if err := s.Store.Append(ctx, []Event{ev}); err != nil {
		return Link{}, fmt.Errorf("record link for %s: %w", r.ID, err)
	}
	return link, nil
}

// Tick applies whatever is due for request id: timeout, warning or expiry.
// Replicas racing on the same request write the change once.
func (s *Service) Tick(ctx context.Context, id string) ([]Event, error) {
	now := s.now()
	_, evs, err := s.Store.Update(ctx, id, func(r *Request) ([]Event, error) {
		return r.tick(now), nil
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
// event should be retried later.
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
	return s.Notifier.Notify(ctx, n)
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
	Mine     []*Request // the user's pending requests and active grants
	ToDecide []*Request // pending requests of others, for approvers
}

// List returns the user's open requests and grants and, for approvers, the
// pending requests of others.
func (s *Service) List(ctx context.Context, user string) (Listing, error) {
	open := []State{StatePending, StateApproved}
	mine, err := s.Store.List(ctx, Filter{Requester: user, States: open, Limit: 50})
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Mine: mine}
	if s.Policy.IsApprover(user) {
		pending, err := s.Store.List(ctx, Filter{States: []State{StatePending}, Limit: 50})
		if err != nil {
			return Listing{}, err
		}
		for _, r := range pending {
			if r.Requester != user {
				l.ToDecide = append(l.ToDecide, r)
			}
		}
	}
	return l, nil
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
