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

// Terminal reports whether no further transition of the request's state
// is possible. (A terminal grant may still have its sessions on the deny
// list for a while: see Request.CutUntil.)
func (s State) Terminal() bool { return s != StatePending && s != StateApproved }

// CutState says what became of the live cloud sessions of a grant that
// ended while some of them could still run.
type CutState string

const (
	// CutNone: nothing was cut, because no session was live, or cutting
	// sessions is turned off.
	CutNone CutState = ""
	// CutPending: the grant is on the deny list; the cloud is being told.
	CutPending CutState = "pending"
	// CutDone: the cloud denies everything to the grant's sessions.
	CutDone CutState = "done"
	// CutFailed: the cloud could not be told, so sessions already open run
	// until they end (at most SessionsEnd).
	CutFailed CutState = "failed"
)

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
	// Extension is the Seq of the extension a MessageExtension is about.
	Extension int
}

// MessageKind says what a posted message is for.
type MessageKind string

const (
	// MessageApproval is the message approvers decide on.
	MessageApproval MessageKind = "approval"
	// MessageGrant is the requester's DM carrying the link to the grant.
	MessageGrant MessageKind = "grant"
	// MessageExtension is the message approvers decide on an extension on.
	MessageExtension MessageKind = "extension"
	// MessageWarning is the requester's DM warning that the grant ends
	// soon, whose button asks for more time.
	MessageWarning MessageKind = "warning"
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
	// Undelivered says why the requester's DM with the grant's first link
	// could not be delivered: a code and plain words, never the link; ""
	// when it was, or while it is still being tried.
	Undelivered string

	// SessionsEnd is when the latest cloud session minted for the grant
	// ends, links thrown away included; never the session itself.
	SessionsEnd time.Time
	// Cut says what became of the grant's live sessions once it ended
	// early (or outlived its end); CutUntil, while set, keeps the grant
	// on the deny list until every session minted for it has ended.
	Cut      CutState
	CutUntil time.Time
	CutError string // why the sessions could not be cut: a code and plain words

	// RemindAt is when the approvers of a pending request are next
	// reminded; zero for never.
	RemindAt time.Time
	// Extensions are the grant's requests for more time, in order.
	Extensions []Extension

	Messages []MessageRef
	Version  int64 // bumped on every stored change, for compare-and-swap
}

// Clone returns a deep copy, so a modify function can work on it freely.
func (r *Request) Clone() *Request {
	c := *r
	c.Approvals = slices.Clone(r.Approvals)
	c.Messages = slices.Clone(r.Messages)
	c.Extensions = slices.Clone(r.Extensions)
	for i := range c.Extensions {
		c.Extensions[i].Approvals = slices.Clone(c.Extensions[i].Approvals)
	}
	return &c
}

// NextDue is when the request next needs the scheduler's attention, or the
// zero time if never again. It is derived from the state, so the store can
// index it and a replica that claims the work changes the state in the same
// write.
func (r *Request) NextDue() time.Time {
	switch r.State {
	case StatePending:
		return earliest(r.TimeoutAt, r.RemindAt)
	case StateApproved:
		due := r.EndsAt
		if !r.Warned && !r.WarnAt.IsZero() && r.WarnAt.Before(r.EndsAt) {
			due = r.WarnAt
		}
		if e := r.PendingExtension(); e != nil {
			due = earliest(due, e.TimeoutAt, e.RemindAt)
		}
		return due
	}
	// An ended grant leaves the deny list once its last session has ended.
	return r.CutUntil
}

// earliest returns the earliest of the non-zero times ts.
func earliest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
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

// MessageAt returns the ref of the message at channel/ts posted for r.
func (r *Request) MessageAt(channel, ts string) (MessageRef, bool) {
	for _, m := range r.Messages {
		if m.Channel == channel && m.TS == ts {
			return m, true
		}
	}
	return MessageRef{}, false
}

// HasMessage reports whether channel/ts is a message posted for r.
func (r *Request) HasMessage(channel, ts string) bool {
	return slices.ContainsFunc(r.Messages, func(m MessageRef) bool {
		return m.Channel == channel && m.TS == ts
	})
}
