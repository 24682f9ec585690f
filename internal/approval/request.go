package approval

import (
	"slices"
	"time"
)

// State is where a request is in its life.
type State string

const (
	// StatePending is a request waiting for approvers. It moves to
	// StateApproved once enough approvers said yes, to StateDenied when one
	// says no, to StateTimedOut when nobody decided in time, and to
	// StateRevoked when the requester or an approver withdraws it.
	StatePending State = "pending"
	// StateApproved is an active grant. It moves to StateExpired at its end,
	// to StateRevoked when ended early, and to StateFailed when AWS refused
	// to issue its first credentials.
	StateApproved State = "approved"
	// StateDenied is terminal.
	StateDenied State = "denied"
	// StateTimedOut is terminal: nobody decided within the approval timeout.
	StateTimedOut State = "timed_out"
	// StateExpired is terminal: the grant reached its end.
	StateExpired State = "expired"
	// StateRevoked is terminal: the request or grant was ended early.
	StateRevoked State = "revoked"
	// StateFailed is terminal: AWS refused to issue credentials.
	StateFailed State = "failed"
)

// Terminal reports whether no further transition is possible.
func (s State) Terminal() bool { return s != StatePending && s != StateApproved }

// Approval is one approver's yes.
type Approval struct {
	By string
	At time.Time
}

// MessageRef points at a chat message posted about a request, so it can be
// updated in place later. Kind says whose message it is.
type MessageRef struct {
	Kind    MessageKind
	Channel string
	TS      string
}

// MessageKind says what a posted message is for.
type MessageKind string

const (
	// MessageApproval is the message approvers decide on.
	MessageApproval MessageKind = "approval"
	// MessageGrant is the requester's DM carrying the link to the grant.
	MessageGrant MessageKind = "grant"
)

// Request is a request for access and, once approved, the grant it became.
// It holds no credentials: only who, what, how long and what happened.
type Request struct {
	ID        string
	Requester string // chat user ID
	Scope
	Duration time.Duration
	Reason   string

	State     State
	CreatedAt time.Time
	TimeoutAt time.Time // pending requests time out here

	Approvals []Approval
	DecidedBy string // the approver whose decision settled it
	DecidedAt time.Time

	EndsAt time.Time // end of the grant; set on approval
	WarnAt time.Time // zero when no warning is due
	Warned bool

	EndedBy string // who revoked it, or "" for expiry and timeout
	EndedAt time.Time
	Failure string // plain words and an AWS error code; never a credential

	Messages []MessageRef
	Version  int64 // bumped on every stored change, for compare-and-swap
}

// Clone returns a deep copy, so a modify function can work on it freely.
func (r *Request) Clone() *Request {
	c := *r
	c.Approvals = slices.Clone(r.Approvals)
	c.Messages = slices.Clone(r.Messages)
	return &c
}

// NextDue is when the request next needs the scheduler's attention, or the
// zero time if never again. It is derived from the state, so the store can
// index it and a replica that claims the work changes the state in the same
// write.
func (r *Request) NextDue() time.Time {
	switch r.State {
	case StatePending:
		return r.TimeoutAt
	case StateApproved:
		if !r.Warned && !r.WarnAt.IsZero() && r.WarnAt.Before(r.EndsAt) {
			return r.WarnAt
		}
		return r.EndsAt
	}
	return time.Time{}
}

// ApprovedBy reports whether user has already approved.
func (r *Request) ApprovedBy(user string) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.By == user })
}

// MessagesOf returns the refs of one kind.
func (r *Request) MessagesOf(kind MessageKind) []MessageRef {
	var out []MessageRef
	for _, m := range r.Messages {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// HasMessage reports whether channel/ts is a message posted for r.
func (r *Request) HasMessage(channel, ts string) bool {
	return slices.ContainsFunc(r.Messages, func(m MessageRef) bool {
		return m.Channel == channel && m.TS == ts
	})
}

// HasMessageIn reports whether a message for r was posted in channel.
func (r *Request) HasMessageIn(channel string) bool {
	return slices.ContainsFunc(r.Messages, func(m MessageRef) bool { return m.Channel == channel })
}
