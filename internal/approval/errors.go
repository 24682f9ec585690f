package approval

import (
	"errors"
	"fmt"
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
)

// StateError reports an action that the request's current state does not
// allow, such as approving a request that was already denied.
type StateError struct {
	Action string // what was attempted: "approve", "deny", "end", "link"
	State  State  // the request's state at the time
	By     string // who put it in that state, if anyone
}

func (e *StateError) Error() string {
	if e.By != "" {
		return fmt.Sprintf("approval: cannot %s: request is %s (by %s)", e.Action, e.State, e.By)
	}
	return fmt.Sprintf("approval: cannot %s: request is %s", e.Action, e.State)
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
// a credential.
type IssueError struct {
	Code   string
	Reason string
	Err    error // the underlying error, for logs; never shown to users
}

func (e *IssueError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("issue: %s: %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("issue: %s: %s", e.Code, e.Reason)
}

func (e *IssueError) Unwrap() error { return e.Err }
