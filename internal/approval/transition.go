package approval

import (
	"fmt"
	"strconv"
	"time"
)

// The transitions below are pure: they check that the move is allowed,
// change r, and return the events that record it. The Service runs them
// inside Store.Update, so they see the latest stored state and their result
// is written only if nobody changed the request meanwhile.

// Decision is an approver's answer to a pending request.
type Decision int

const (
	// Approve counts one approval; enough of them approve the request.
	Approve Decision = iota + 1
	// Deny refuses the request at once.
	Deny
)

func (d Decision) String() string {
	switch d {
	case Approve:
		return "approve"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// decide records approver's decision on a pending request.
func (r *Request) decide(p Policy, approver string, d Decision, now time.Time) ([]Event, error) {
	if d != Approve && d != Deny {
		return nil, &InvalidError{Field: "decision", Reason: "a decision is approve or deny"}
	}
	if !p.IsApprover(approver) {
		return nil, &ForbiddenError{Reason: "only approvers can approve or deny requests"}
	}
	if approver == r.Requester {
		return nil, &ForbiddenError{Reason: "you cannot decide on your own request; another approver has to"}
	}
	if err := r.mustBePending(d.String(), now); err != nil {
		return nil, err
	}
	if d == Deny {
		r.State, r.DecidedBy, r.DecidedAt, r.RemindAt = StateDenied, approver, now, time.Time{}
		return []Event{newEvent(r, EventDenied, approver, now, nil)}, nil
	}
	if r.ApprovedBy(approver) {
		return nil, &StateError{Err: ErrApprovalCounted, Action: d.String(), State: StatePending, By: approver}
	}
	r.Approvals = append(r.Approvals, Approval{By: approver, At: now})
	count := map[string]string{
		"approvals": strconv.Itoa(len(r.Approvals)),
		"required":  strconv.Itoa(p.required()),
	}
	if len(r.Approvals) < p.required() {
		return []Event{newEvent(r, EventApprovalRecorded, approver, now, count)}, nil
	}
	r.State, r.DecidedBy, r.DecidedAt, r.RemindAt = StateApproved, approver, now, time.Time{}
	r.EndsAt = now.Add(r.Duration)
	r.WarnAt = time.Time{}
	if p.ExpiryWarning > 0 && p.ExpiryWarning < r.Duration {
		r.WarnAt = r.EndsAt.Add(-p.ExpiryWarning)
	}
	count["ends_at"] = r.EndsAt.UTC().Format(time.RFC3339)
	return []Event{newEvent(r, EventApproved, approver, now, count)}, nil
}

// mustBePending refuses actions on a request that is no longer pending,
// including one whose timeout has passed but which the scheduler has not
// reached yet.
func (r *Request) mustBePending(action string, now time.Time) error {
	if r.State != StatePending || !now.Before(r.TimeoutAt) {
		return stateError(r, action, now)
	}
	return nil
}

// settledBy names who put the request in its current state.
func (r *Request) settledBy() string {
	switch r.State {
	case StateApproved, StateDenied:
		return r.DecidedBy
	case StateRevoked:
		return r.EndedBy
	}
	return ""
}

// revoke withdraws a pending request or ends an active grant early.
func (r *Request) revoke(p Policy, user string, now time.Time) ([]Event, error) {
	if user != r.Requester && !p.IsApprover(user) {
		return nil, &ForbiddenError{Reason: "only the requester or an approver can end access"}
	}
	switch {
	case r.State == StatePending && now.Before(r.TimeoutAt):
	case r.State == StateApproved && now.Before(r.EndsAt):
	default:
		return nil, stateError(r, "revoke", now)
	}
	was := r.State
	r.State, r.EndedBy, r.EndedAt, r.RemindAt = StateRevoked, user, now, time.Time{}
	r.dropExtension(now)
	evs := []Event{newEvent(r, EventRevoked, user, now, map[string]string{"was": string(was)})}
	if was == StateApproved {
		evs = append(evs, r.cutSessions(p, now)...)
	}
	return evs, nil
}

// cutSessions puts a grant that ended while its sessions could still run
// on the deny list, until its last session has ended. A grant that never
// recorded a session (one approved before sessions were recorded, or
// whose first link is still being minted) is listed for the longest a
// session may run from now.
func (r *Request) cutSessions(p Policy, now time.Time) []Event {
	if !p.RevokeSessions {
		return nil
	}
	end := r.SessionsEnd
	if end.IsZero() {
		end = now.Add(max(p.MaxSession, MinSession))
	}
	if !end.After(now) {
		return nil
	}
	if until := end.Add(CutMargin); until.After(r.CutUntil) {
		r.CutUntil = until
	}
	r.Cut, r.CutError = CutPending, ""
	return []Event{newEvent(r, EventCutSessions, "", now, map[string]string{
		"sessions_end": end.UTC().Format(time.RFC3339),
	})}
}

// tick applies whatever is due at now: the approval timeout, the expiry
// warning, the end of the grant, or the end of its time on the deny list.
// A grant past its end skips the warning.
func (r *Request) tick(p Policy, now time.Time) []Event {
	switch r.State {
	case StatePending:
		if !now.Before(r.TimeoutAt) {
			r.State, r.EndedAt, r.RemindAt = StateTimedOut, now, time.Time{}
			return []Event{newEvent(r, EventTimedOut, "", now, nil)}
		}
		if due(r.RemindAt, now) {
			r.RemindAt = nextReminder(p, r.RemindAt, now, r.TimeoutAt)
			return []Event{newEvent(r, EventReminded, "", now, map[string]string{
				"waited": FormatDuration(now.Sub(r.CreatedAt)),
			})}
		}
	case StateApproved:
		if !now.Before(r.EndsAt) {
			r.State, r.EndedAt = StateExpired, now
			r.dropExtension(now)
			evs := []Event{newEvent(r, EventExpired, "", now, nil)}
			// The first session may outlast the grant by FirstLinkGrace.
			if r.SessionsEnd.After(now) {
				evs = append(evs, r.cutSessions(p, now)...)
			}
			return evs
		}
		if e := r.PendingExtension(); e != nil {
			detail := map[string]string{"extension": strconv.Itoa(e.Seq)}
			if !now.Before(e.TimeoutAt) {
				e.State, e.DecidedAt, e.RemindAt = StateTimedOut, now, time.Time{}
				return []Event{newEvent(r, EventExtensionTimedOut, "", now, detail)}
			}
			if due(e.RemindAt, now) {
				e.RemindAt = nextReminder(p, e.RemindAt, now, e.TimeoutAt)
				detail["waited"] = FormatDuration(now.Sub(e.RequestedAt))
				return []Event{newEvent(r, EventReminded, "", now, detail)}
			}
		}
		if !r.Warned && !r.WarnAt.IsZero() && !now.Before(r.WarnAt) {
			r.Warned = true
			return []Event{newEvent(r, EventWarned, "", now, map[string]string{
				"ends_at": r.EndsAt.UTC().Format(time.RFC3339),
			})}
		}
	default:
		if !r.CutUntil.IsZero() && !now.Before(r.CutUntil) {
			r.CutUntil = time.Time{}
			return []Event{newEvent(r, EventCutLifted, "", now, nil)}
		}
	}
	return nil
}

// due reports whether a scheduled time t (zero: never) has come at now.
func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// nextReminder is the reminder after one due at last: a reminder interval
// later, skipping any missed while the bot was down; zero once the timeout
// comes first.
func nextReminder(p Policy, last, now, timeout time.Time) time.Time {
	if p.ApprovalReminder <= 0 {
		return time.Time{}
	}
	next := last.Add(p.ApprovalReminder)
	for !next.After(now) {
		next = next.Add(p.ApprovalReminder)
	}
	if !next.Before(timeout) {
		return time.Time{}
	}
	return next
}

// recordSession notes a session minted for the grant, ending at ends. If
// the grant is still active it records the link (the event is audit-only)
// and returns ok. If the grant ended while the link was being minted, the
// link must be thrown away: the session is cut with the grant's others,
// and the returned error explains why there is no link.
func (r *Request) recordSession(p Policy, actor string, ends, now time.Time) (evs []Event, err error) {
	if ends.After(r.SessionsEnd) {
		r.SessionsEnd = ends
	}
	detail := map[string]string{"session_ends": ends.UTC().Format(time.RFC3339)}
	if r.State == StateApproved && now.Before(r.EndsAt) {
		ev := newEvent(r, EventLinkMinted, actor, now, detail)
		ev.Notify = false
		return []Event{ev}, nil
	}
	err = stateError(r, "link", now)
	ev := newEvent(r, EventLinkDiscarded, actor, now, detail)
	ev.Notify = false
	evs = append([]Event{ev}, r.cutSessions(p, now)...)
	return evs, err
}

// cutResult records how telling the cloud about the deny list went for
// this grant: done, or failed with err.
func (r *Request) cutResult(err *CutError, now time.Time) []Event {
	if r.Cut != CutPending {
		return nil // already settled by an earlier attempt
	}
	if err == nil {
		r.Cut = CutDone
		return []Event{{RequestID: r.ID, At: now, Kind: EventSessionsCut}}
	}
	r.Cut, r.CutError = CutFailed, err.Code+": "+err.Reason
	return []Event{{RequestID: r.ID, At: now, Kind: EventCutFailed, Detail: map[string]string{"code": err.Code}}}
}

// fail ends an approved grant whose credentials could not be issued.
func (r *Request) fail(reason string, now time.Time) ([]Event, error) {
	if r.State != StateApproved {
		return nil, stateError(r, "fail", now)
	}
	r.State, r.Failure, r.EndedAt = StateFailed, reason, now
	return []Event{newEvent(r, EventFailed, "", now, map[string]string{"reason": reason})}, nil
}

// FirstLinkGrace is how far the first session of a grant may outlast the
// grant. A grant starts when it is approved, its first link is minted a
// moment later, and STS issues nothing under MinSession: without this, a
// grant of exactly MinSession could never get a link.
const FirstLinkGrace = time.Minute

// canMint checks that user may get a link for r at now and returns
// how long that session may last. first marks the link sent on approval,
// which may round a session up to MinSession by at most FirstLinkGrace;
// links asked for later never outlast the grant.
func (r *Request) canMint(p Policy, user string, now time.Time, first bool) (time.Duration, error) {
	if user != r.Requester {
		if r.Object() {
			return 0, &ForbiddenError{Reason: "only the requester can get a link for this grant"}
		}
		return 0, &ForbiddenError{Reason: "only the requester can open the console for this grant"}
	}
	if r.State != StateApproved || !now.Before(r.EndsAt) {
		return 0, stateError(r, "link", now)
	}
	left := r.EndsAt.Sub(now)
	if first && left < MinSession && left >= MinSession-FirstLinkGrace {
		left = MinSession
	}
	return sessionLength(left, p.MaxSession)
}

// sessionLength is the STS session for a grant with left remaining: as long
// as what is left, capped by max, in whole seconds, and never under
// MinSession.
func sessionLength(left, maxSession time.Duration) (time.Duration, error) {
	d := min(left, maxSession).Truncate(time.Second)
	if d < MinSession {
		return 0, fmt.Errorf("%w: %s left, sessions last at least %s", ErrTooLate, left.Round(time.Second), MinSession)
	}
	return d, nil
}
