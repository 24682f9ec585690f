package approval

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound means no request has the given ID.
	ErrNotFound = errors.New("approval: request not found")
	// ErrExists means a request with that ID was already created (a replay).
	ErrExists = errors.New("approval: request already exists")
	// ErrConflict means the request changed between read and write; the
	// store retries it, so callers only see it when retries ran out.
	ErrConflict = errors.New("approval: concurrent update")
	// ErrForbidden means the user may not do that to this request.
	ErrForbidden = errors.New("approval: not allowed")
	// ErrInvalid means the request itself is malformed.
	ErrInvalid = errors.New("approval: invalid request")
	// ErrTooLate means less time is left than the shortest AWS session.
	ErrTooLate = errors.New("approval: too little time left")

	// The sentinels below say why a request's state refused an action;
	// a *StateError wraps one of them and adds who and what.

	// ErrAlreadyDecided means the request was approved or denied before.
	ErrAlreadyDecided = errors.New("approval: already decided")
	// ErrApprovalCounted means this approver already approved a request
	// that still waits for more approvers.
	ErrApprovalCounted = errors.New("approval: approval already counted")
	// ErrPending means the request still waits for its approvers.
	ErrPending = errors.New("approval: not approved yet")
	// ErrTimedOut means nobody decided on the request in time.
	ErrTimedOut = errors.New("approval: request timed out")
	// ErrEnded means the grant is over: it expired, was revoked, or AWS
	// refused to issue it.
	ErrEnded = errors.New("approval: access ended")
	// ErrExtensionPending means the grant already has an extension
	// waiting for the approvers.
	ErrExtensionPending = errors.New("approval: an extension is already pending")
)

// StateError reports an action that the request's current state does not
// allow, such as approving a request that was already denied. It wraps one
// of ErrAlreadyDecided, ErrApprovalCounted, ErrPending, ErrTimedOut or
// ErrEnded, so callers test it with errors.Is.
type StateError struct {
	Err    error  // why, one of the sentinels above
	Action string // what was attempted: "approve", "deny", "revoke", "link"
	State  State  // the request's state at the time
	By     string // who put it in that state, if anyone
}

func (e *StateError) Error() string {
	if e.By != "" {
		return fmt.Sprintf("approval: cannot %s: request is %s (by %s)", e.Action, e.State, e.By)
	}
	return fmt.Sprintf("approval: cannot %s: request is %s", e.Action, e.State)
}

func (e *StateError) Unwrap() error { return e.Err }

// stateError explains why r's state refuses action. A pending request
// whose timeout has passed counts as timed out, and an approved one past
// its end as expired, though the scheduler may not have got to them yet;
// for decisions an approved request stays "approved by", which is what
// an approver clicking an old button needs to hear.
func stateError(r *Request, action string, now time.Time) *StateError {
	e := &StateError{Action: action, State: r.State, By: r.settledBy()}
	decision := action == Approve.String() || action == Deny.String()
	switch {
	case r.State == StatePending && !now.Before(r.TimeoutAt):
		e.State, e.By, e.Err = StateTimedOut, "", ErrTimedOut
	case r.State == StatePending:
		e.Err = ErrPending
	case r.State == StateApproved && !decision && !now.Before(r.EndsAt):
		e.State, e.By, e.Err = StateExpired, "", ErrEnded
	case r.State == StateApproved, r.State == StateDenied:
		e.Err = ErrAlreadyDecided
	case r.State == StateTimedOut:
		e.Err = ErrTimedOut
	default:
		e.Err = ErrEnded
	}
	return e
}

// ForbiddenError explains why a user may not act on a request. It matches
// ErrForbidden with errors.Is.
type ForbiddenError struct {
	Reason string
}

func (e *ForbiddenError) Error() string { return "approval: not allowed: " + e.Reason }

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// InvalidError explains what is wrong with a draft request. It matches
// ErrInvalid with errors.Is.
type InvalidError struct {
	Field  string // "bucket", "prefix", "duration", "access", "reason"
	Reason string
}

func (e *InvalidError) Error() string { return "approval: invalid " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// IssueError is returned by an Issuer when AWS refused to issue credentials
// or a sign-in token. Code is AWS's error code (for example AccessDenied) or
// a short code of our own; Reason is plain words for people. Neither holds
// a credential. The issuer, which knows its cloud, says whether retrying
// might help (throttling, timeouts).
type IssueError struct {
	Code      string
	Reason    string
	Temporary bool
	Err       error // the underlying error, for logs; never shown to users
}

func (e *IssueError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("issue: %s: %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("issue: %s: %s", e.Code, e.Reason)
}

func (e *IssueError) Unwrap() error { return e.Err }

// CutError is returned by a Cutter when the cloud refused to change its
// deny list. Code is the cloud's error code (for example AccessDenied) or
// a short code of our own; Reason is plain words; Temporary says whether
// retrying later might help. None of them holds a secret.
type CutError struct {
	Code      string
	Reason    string
	Temporary bool
	Err       error // the underlying error, for logs
}

func (e *CutError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("cut sessions: %s: %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("cut sessions: %s: %s", e.Code, e.Reason)
}

func (e *CutError) Unwrap() error { return e.Err }
