package approval

import "time"

// EventKind names a change in a request's life. Every change is recorded as
// an Event, which is both the audit trail and the outbox of notices to send.
type EventKind string

const (
	EventRequested        EventKind = "requested"
	EventApprovalRecorded EventKind = "approval_recorded" // one of several required approvals
	EventApproved         EventKind = "approved"
	EventDenied           EventKind = "denied"
	EventTimedOut         EventKind = "timed_out"
	EventLinkMinted       EventKind = "link_minted"
	EventWarned           EventKind = "warned"
	EventExpired          EventKind = "expired"
	EventRevoked          EventKind = "revoked"
	EventFailed           EventKind = "failed"

	// EventCutSessions puts an ended grant's live sessions on the cloud's
	// deny list; delivering it tells the cloud. EventSessionsCut and
	// EventCutFailed record how that went.
	EventCutSessions EventKind = "cut_sessions"
	EventSessionsCut EventKind = "sessions_cut"
	EventCutFailed   EventKind = "cut_failed"
	// EventCutLifted takes a grant off the deny list once every session
	// minted for it has ended; delivering it tells the cloud.
	EventCutLifted EventKind = "cut_lifted"
	// EventLinkDiscarded records a link minted while its grant ended: it
	// was thrown away, and its session cut with the grant's.
	EventLinkDiscarded EventKind = "link_discarded"

	// Extensions of an active grant, decided like requests; Detail names
	// the extension ("extension": its Seq).
	EventExtensionRequested        EventKind = "extension_requested"
	EventExtensionApprovalRecorded EventKind = "extension_approval_recorded"
	EventExtended                  EventKind = "extended"
	EventExtensionDenied           EventKind = "extension_denied"
	EventExtensionTimedOut         EventKind = "extension_timed_out"
	// EventReminded reminds the approvers of an undecided request, or of
	// an extension (Detail "extension").
	EventReminded EventKind = "reminded"
)

// Announcements are the kinds of event that post something new where the
// approvers decide: a request, an extension, a reminder. They all go to
// one place (the approval channel), which takes posts at a slow pace, so a
// burst of requests queues many of them; every other notice goes to the
// requester, or updates a message. Store.Claim prefers the latter, so a
// requester's warning never waits behind the approvers' queue.
func Announcements() []EventKind {
	return []EventKind{EventRequested, EventExtensionRequested, EventReminded}
}

// Event is one recorded change. Detail holds short facts for the audit log
// (an approval count, an AWS error code, a session end); never a secret.
type Event struct {
	Seq       int64 // assigned by the store, increasing
	RequestID string
	At        time.Time
	Kind      EventKind
	Actor     string // chat user ID, or "" for the scheduler
	Detail    map[string]string
	// Notify says the event still has to be told to people (the outbox).
	// Audit-only events are stored as already delivered.
	Notify bool
	// Attempts counts delivery attempts so far; set by the store.
	Attempts int
}

func newEvent(r *Request, kind EventKind, actor string, now time.Time, detail map[string]string) Event {
	return Event{RequestID: r.ID, At: now, Kind: kind, Actor: actor, Detail: detail, Notify: true}
}

// Messages that could not reach the requester for good: the requester's
// account is deactivated, the chat platform refuses the message, or its
// delivery was tried too often.
const (
	// EventLinkUndelivered records that the grant's first link never
	// reached the requester, and why (Request.Undelivered); delivering it
	// tells the approvers.
	EventLinkUndelivered EventKind = "link_undelivered"
	// EventNoticeUndelivered records, for the audit log only, any other
	// notice that could not be delivered; Detail names the event and why.
	EventNoticeUndelivered EventKind = "notice_undelivered"
)
