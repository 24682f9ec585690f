package approval

import (
	"context"
	"time"
)

// ModifyFunc changes a request and returns the events that record the
// change. Returning no events means nothing changed and nothing is written.
// It may be called more than once when writers race, so it must not do I/O.
type ModifyFunc func(r *Request) ([]Event, error)

// Store keeps requests, their message refs and their events. Every write of
// a request and its events is atomic, and requests are updated with
// compare-and-swap on Version, so several replicas can share one store.
//
// Implementations live in subpackages (sqlstore and its drivers); the
// approvaltest package holds the conformance suite they must pass.
type Store interface {
	// Create stores a new request with its first events. It returns
	// ErrExists if the ID is taken.
	Create(ctx context.Context, r *Request, events []Event) error
	// Get returns the request. It returns ErrNotFound if it does not exist.
	Get(ctx context.Context, id string) (*Request, error)
	// Update reads the request, applies fn and writes the result with fn's
	// events if the request did not change meanwhile, retrying fn on
	// conflict. It returns the stored request and events (with Seq set);
	// fn's error is returned as is, and nothing is written.
	Update(ctx context.Context, id string, fn ModifyFunc) (*Request, []Event, error)
	// Append records events that change no state (such as a fresh link).
	Append(ctx context.Context, events []Event) error
	// AddMessages remembers chat messages posted about a request.
	AddMessages(ctx context.Context, id string, refs []MessageRef) error
	// List returns requests matching f, newest first.
	List(ctx context.Context, f Filter) ([]*Request, error)
	// CountRequests returns how many requests match f, whatever its Limit
	// and Offset.
	CountRequests(ctx context.Context, f Filter) (int, error)

	// Due returns up to limit IDs of requests whose NextDue is at or
	// before now, earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Wake returns the earliest time at which there is work: a request's
	// NextDue or an undelivered event's next attempt. ok is false when there
	// is none.
	Wake(ctx context.Context) (at time.Time, ok bool, err error)

	// Claim leases up to limit undelivered events that are due at now to
	// owner until now+lease, earliest due first but, with a limit of 2 or
	// more, one of them the latest due (preferring any event that is not
	// one of the Announcements), so a notice that just came due is not
	// held back by a backlog, nor a requester's notice by the approvers'.
	// Per request, only the oldest undelivered event is claimable, so
	// notices go out in order.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Event, error)
	// Delivered marks a claimed event as done.
	Delivered(ctx context.Context, seq int64, owner string, now time.Time) error
	// Retry releases a claimed event for another attempt at at. With at
	// zero, the event is given up and marked done with lastErr.
	Retry(ctx context.Context, seq int64, owner string, at time.Time, lastErr string) error
	// Defer releases a claimed event until at without counting the
	// attempt: its delivery did not fail but found its channel busy (paced
	// or rate limited) and comes back for its turn. It returns ErrConflict
	// if the event is not leased to owner.
	Defer(ctx context.Context, seq int64, owner string, at time.Time) error

	// Audit returns events matching f in order.
	Audit(ctx context.Context, f AuditFilter) ([]Event, error)
}

// Filter selects requests for List. Zero fields match everything.
type Filter struct {
	Requester string
	States    []State
	// Undecided, if set, matches pending requests and grants with an
	// extension pending (instead of States).
	Undecided bool
	Limit     int
	// ExceptRequester leaves out the requests of that requester.
	ExceptRequester string
	// Offset skips that many of the matching requests, for pages.
	Offset int
}

// AuditFilter selects events for Audit. Zero fields match everything.
type AuditFilter struct {
	Since     time.Time
	RequestID string
	Limit     int
}
