package approval

import (
	"context"
	"fmt"
	"time"
)

// AlreadyPendingError refuses a draft that asks for what one of the
// requester's pending requests already asks for: the same kind, scope,
// access and duration, whatever the reason. A second request would get
// the requester nothing the first does not, and asking again in other
// words is what a flood looks like; the approvers decide on Request,
// whose reason they see. (To change the reason, withdraw it and ask
// again.)
type AlreadyPendingError struct {
	Request *Request // the pending request
}

func (e *AlreadyPendingError) Error() string {
	return "approval: the same request is already pending as " + e.Request.ID
}

// PendingLimitError refuses a draft from a requester who already has
// Limit undecided requests (Policy.MaxPending). Pending holds their IDs,
// newest first.
type PendingLimitError struct {
	Limit   int
	Pending []string
}

func (e *PendingLimitError) Error() string {
	return fmt.Sprintf("approval: %d requests already pending, the most allowed", len(e.Pending))
}

// checkPending refuses a draft whose requester has a pending request for
// the same thing (*AlreadyPendingError) or Policy.MaxPending pending
// requests already (*PendingLimitError); a replayed draft returns
// ErrExists. A request past its timeout counts as decided, though the
// scheduler may not have got to it yet. With MaxPending zero it checks
// nothing.
//
// It reads before Submit writes, so drafts of one requester racing in on
// two replicas at the same instant may both pass: the limit stops floods,
// it is not a security boundary.
func (s *Service) checkPending(ctx context.Context, id, requester string, scope Scope, d time.Duration, now time.Time) error {
	if s.Policy.MaxPending <= 0 {
		return nil
	}
	pending, err := s.Store.List(ctx, Filter{Requester: requester, States: []State{StatePending}})
	if err != nil {
		return fmt.Errorf("pending requests of %s: %w", requester, err)
	}
	var live []string
	for _, p := range pending {
		switch {
		case p.ID == id:
			return ErrExists
		case !now.Before(p.TimeoutAt):
			continue
		case p.Scope.normal() == scope && p.Duration == d:
			return &AlreadyPendingError{Request: p}
		}
		live = append(live, p.ID)
	}
	if len(live) >= s.Policy.MaxPending {
		return &PendingLimitError{Limit: s.Policy.MaxPending, Pending: live}
	}
	return nil
}

// normal returns s with its kind spelt out: an empty kind is a folder.
func (s Scope) normal() Scope {
	if s.Kind == "" {
		s.Kind = KindFolder
	}
	return s
}

// ListPage is List with the pending requests of others (for approvers)
// in pages: ToDecide holds page page (from 1) of size requests, newest
// first, and Waiting says how many there are in all, so none is left out
// unseen. Mine is the same on every page.
func (s *Service) ListPage(ctx context.Context, user string, page, size int) (Listing, error) {
	page, size = max(page, 1), max(size, 1)
	mine, err := s.Store.List(ctx, Filter{Requester: user, States: []State{StatePending, StateApproved}, Limit: 50})
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Mine: mine, Page: page, PageSize: size}
	if !s.policy().IsApprover(user) {
		return l, nil
	}
	f := Filter{Undecided: true, ExceptRequester: user}
	if l.Waiting, err = s.Store.CountRequests(ctx, f); err != nil {
		return Listing{}, err
	}
	f.Limit, f.Offset = size, (page-1)*size
	if l.ToDecide, err = s.Store.List(ctx, f); err != nil {
		return Listing{}, err
	}
	return l, nil
}
