package approval

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Extension is a request to make an active grant longer, decided by the
// approvers like the grant itself. A grant keeps all of its extensions,
// the last one possibly still pending.
type Extension struct {
	Seq      int           // 1 for the grant's first extension, 2 for the next…
	Duration time.Duration // the extra time asked for
	Reason   string
	// State is StatePending until decided, then StateApproved,
	// StateDenied or StateTimedOut (undecided in time, or the grant ended
	// first).
	State       State
	RequestedAt time.Time
	TimeoutAt   time.Time
	RemindAt    time.Time // next reminder to the approvers; zero for none
	Approvals   []Approval
	DecidedBy   string
	DecidedAt   time.Time
}

// PendingExtension returns the grant's pending extension, or nil.
func (r *Request) PendingExtension() *Extension {
	if n := len(r.Extensions); n > 0 && r.Extensions[n-1].State == StatePending {
		return &r.Extensions[n-1]
	}
	return nil
}

// ExtensionNumber returns the grant's extension seq, or nil if there is none.
func (r *Request) ExtensionNumber(seq int) *Extension {
	if seq < 1 || seq > len(r.Extensions) {
		return nil
	}
	return &r.Extensions[seq-1]
}

// Extended is the extra time the approved extensions added.
func (r *Request) Extended() time.Duration {
	var d time.Duration
	for _, e := range r.Extensions {
		if e.State == StateApproved {
			d += e.Duration
		}
	}
	return d
}

// CanExtend reports whether asking for more time on r can still help: an
// active grant with no extension pending and at least MinSession left
// below p's limit.
func (p Policy) CanExtend(r *Request) bool {
	return r.State == StateApproved && r.PendingExtension() == nil &&
		r.Duration+r.Extended()+MinSession <= p.maxExtended()
}

// ApprovedBy reports whether user has already approved the extension.
func (e *Extension) ApprovedBy(user string) bool {
	return slices.ContainsFunc(e.Approvals, func(a Approval) bool { return a.By == user })
}

// extend asks for d more time on an active grant, on behalf of its
// requester.
func (r *Request) extend(p Policy, user string, d time.Duration, reason string, now time.Time) ([]Event, error) {
	if user != r.Requester {
		return nil, &ForbiddenError{Reason: "only the requester can ask to extend this access"}
	}
	if r.State != StateApproved || !now.Before(r.EndsAt) {
		return nil, stateError(r, "extend", now)
	}
	if e := r.PendingExtension(); e != nil {
		return nil, &StateError{Err: ErrExtensionPending, Action: "extend", State: StatePending}
	}
	if d < MinSession {
		return nil, &InvalidError{Field: "duration", Reason: fmt.Sprintf("an extension adds at least %s", FormatDuration(MinSession))}
	}
	if total := r.Duration + r.Extended() + d; total > p.maxExtended() {
		return nil, &InvalidError{Field: "duration", Reason: fmt.Sprintf("with %s more this access would last %s in all; the longest is %s",
			FormatDuration(d), FormatDuration(total), FormatDuration(p.maxExtended()))}
	}
	if err := CheckReason(reason); err != nil {
		return nil, err
	}
	if p.eligible(r.Requester) < p.required() {
		return nil, &ForbiddenError{Reason: "there are not enough approvers other than you to decide on this extension"}
	}
	e := Extension{
		Seq: len(r.Extensions) + 1, Duration: d, Reason: reason, State: StatePending,
		RequestedAt: now, TimeoutAt: now.Add(p.ApprovalTimeout),
	}
	if p.ApprovalReminder > 0 {
		e.RemindAt = now.Add(p.ApprovalReminder)
	}
	r.Extensions = append(r.Extensions, e)
	return []Event{newEvent(r, EventExtensionRequested, user, now, map[string]string{
		"extension": strconv.Itoa(e.Seq),
		"duration":  FormatDuration(d),
	})}, nil
}

// decideExtension records approver's decision on extension seq of r.
func (r *Request) decideExtension(p Policy, seq int, approver string, d Decision, now time.Time) ([]Event, error) {
	if d != Approve && d != Deny {
		return nil, &InvalidError{Field: "decision", Reason: "a decision is approve or deny"}
	}
	if !p.IsApprover(approver) {
		return nil, &ForbiddenError{Reason: "only approvers can approve or deny extensions"}
	}
	if approver == r.Requester {
		return nil, &ForbiddenError{Reason: "you cannot decide on your own extension; another approver has to"}
	}
	e := r.ExtensionNumber(seq)
	if e == nil {
		return nil, &InvalidError{Field: "extension", Reason: "there is no such extension"}
	}
	action := d.String() + " extension"
	switch {
	case e.State != StatePending:
		return nil, &StateError{Err: extensionErr(e.State), Action: action, State: e.State, By: e.DecidedBy}
	case !now.Before(e.TimeoutAt) || r.State != StateApproved || !now.Before(r.EndsAt):
		return nil, &StateError{Err: ErrTimedOut, Action: action, State: StateTimedOut}
	}
	detail := map[string]string{"extension": strconv.Itoa(seq)}
	if d == Deny {
		e.State, e.DecidedBy, e.DecidedAt = StateDenied, approver, now
		return []Event{newEvent(r, EventExtensionDenied, approver, now, detail)}, nil
	}
	if e.ApprovedBy(approver) {
		return nil, &StateError{Err: ErrApprovalCounted, Action: action, State: StatePending, By: approver}
	}
	e.Approvals = append(e.Approvals, Approval{By: approver, At: now})
	detail["approvals"], detail["required"] = strconv.Itoa(len(e.Approvals)), strconv.Itoa(p.required())
	if len(e.Approvals) < p.required() {
		return []Event{newEvent(r, EventExtensionApprovalRecorded, approver, now, detail)}, nil
	}
	e.State, e.DecidedBy, e.DecidedAt = StateApproved, approver, now
	r.EndsAt = r.EndsAt.Add(e.Duration)
	// The warning is planned again for the new end.
	r.WarnAt, r.Warned = time.Time{}, false
	if p.ExpiryWarning > 0 && now.Before(r.EndsAt.Add(-p.ExpiryWarning)) {
		r.WarnAt = r.EndsAt.Add(-p.ExpiryWarning)
	}
	detail["ends_at"] = r.EndsAt.UTC().Format(time.RFC3339)
	return []Event{newEvent(r, EventExtended, approver, now, detail)}, nil
}

// extensionErr is the sentinel for an extension already in state s.
func extensionErr(s State) error {
	if s == StateTimedOut {
		return ErrTimedOut
	}
	return ErrAlreadyDecided
}

// dropExtension settles a pending extension of a grant that has ended.
func (r *Request) dropExtension(now time.Time) {
	if e := r.PendingExtension(); e != nil {
		e.State, e.DecidedAt = StateTimedOut, now
	}
}
