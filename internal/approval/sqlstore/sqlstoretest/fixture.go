package sqlstoretest

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
)

// at is T0 plus d; ms is the same in unix milliseconds, as stage one
// stored times.
func at(d time.Duration) time.Time { return approvaltest.T0.Add(d) }
func ms(d time.Duration) int64     { return at(d).UnixMilli() }

// A stageOneRequest is a row of requests as stage one wrote it, with its
// message refs, and the request the store must read back.
type stageOneRequest struct {
	want      *approval.Request // Messages included; Kind is folder, as 0002_object_grants reads stage-one rows
	approvals string            // the JSON stage one wrote
	nextDue   any               // unix ms, or nil
	events    []stageOneEvent
}

// A stageOneEvent is a row of events as stage one wrote it and the event
// Audit must return.
type stageOneEvent struct {
	want        approval.Event // Seq is set when it is inserted
	detail      string         // the JSON stage one wrote
	deliveredAt any
	nextAttempt int64
	leaseOwner  any
	leaseUntil  any
	lastError   any
}

// The requests of the stage-one fixture, in the order they are inserted.
// Together they cover each state the outbox and the scheduler care
// about; the comments say what each is there for.
var (
	// A pending request with one of two approvals and two approval
	// messages; its first notice delivered, its approval audit-only.
	pendingReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-pending"), Requester: "UREQ1",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite},
			Duration: 2 * time.Hour, Reason: "quarterly numbers", State: approval.StatePending,
			CreatedAt: at(0), TimeoutAt: at(8 * time.Hour),
			Approvals: []approval.Approval{{By: "UAPP1", At: at(time.Minute)}},
			Messages: []approval.MessageRef{
				{Kind: approval.MessageApproval, Channel: "C0APPROVERS", TS: "1764244800.000100"},
				{Kind: approval.MessageApproval, Channel: "D0APP1", TS: "1764244800.000150"},
			},
			Version: 2,
		},
		approvals: `[{"by":"UAPP1","at":` + itoa(ms(time.Minute)) + `}]`,
		nextDue:   ms(8 * time.Hour),
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(0), Kind: approval.EventRequested, Actor: "UREQ1", Detail: map[string]string{"scope": "collab-bucket/myfolder/"}, Notify: true, Attempts: 1},
				detail: `{"scope":"collab-bucket/myfolder/"}`, deliveredAt: ms(time.Second), nextAttempt: ms(0), leaseOwner: "replica-a",
			},
			{
				want:   approval.Event{At: at(time.Minute), Kind: approval.EventApprovalRecorded, Actor: "UAPP1", Detail: map[string]string{"approvals": "1", "required": "2"}},
				detail: `{"approvals":"1","required":"2"}`, deliveredAt: ms(time.Minute), nextAttempt: ms(time.Minute),
			},
		},
	}
	// An active grant whose warning is due, whose approval notice a
	// replica leased and did not finish, and whose link notice waits
	// behind it.
	grantReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-grant"), Requester: "UREQ2",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "other-bucket", Prefix: "", Access: approval.AccessRead},
			Duration: time.Hour, Reason: "logs", State: approval.StateApproved,
			CreatedAt: at(time.Minute), TimeoutAt: at(8*time.Hour + time.Minute),
			Approvals: []approval.Approval{{By: "UAPP1", At: at(2 * time.Minute)}, {By: "UAPP2", At: at(3 * time.Minute)}},
			DecidedBy: "UAPP2", DecidedAt: at(3 * time.Minute),
			EndsAt: at(63 * time.Minute), WarnAt: at(53 * time.Minute),
			Messages: []approval.MessageRef{
				{Kind: approval.MessageApproval, Channel: "C0APPROVERS", TS: "1764244800.000300"},
				{Kind: approval.MessageGrant, Channel: "D0REQ2", TS: "1764244800.000400"},
			},
			Version: 3,
		},
		approvals: `[{"by":"UAPP1","at":` + itoa(ms(2*time.Minute)) + `},{"by":"UAPP2","at":` + itoa(ms(3*time.Minute)) + `}]`,
		nextDue:   ms(53 * time.Minute),
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(time.Minute), Kind: approval.EventRequested, Actor: "UREQ2", Notify: true, Attempts: 1},
				detail: `null`, deliveredAt: ms(time.Minute), nextAttempt: ms(time.Minute), leaseOwner: "replica-b",
			},
			{
				want:   approval.Event{At: at(2 * time.Minute), Kind: approval.EventApprovalRecorded, Actor: "UAPP1", Detail: map[string]string{"approvals": "1", "required": "2"}},
				detail: `{"approvals":"1","required":"2"}`, deliveredAt: ms(2 * time.Minute), nextAttempt: ms(2 * time.Minute),
			},
			{
				want:   approval.Event{At: at(3 * time.Minute), Kind: approval.EventApproved, Actor: "UAPP2", Detail: map[string]string{"approvals": "2"}, Notify: true, Attempts: 1},
				detail: `{"approvals":"2"}`, nextAttempt: ms(3 * time.Minute), leaseOwner: "replica-b", leaseUntil: ms(4 * time.Minute),
			},
			{
				want:   approval.Event{At: at(3 * time.Minute), Kind: approval.EventLinkMinted, Detail: map[string]string{"session_ends": "2026-11-27T13:03:00Z"}, Notify: true},
				detail: `{"session_ends":"2026-11-27T13:03:00Z"}`, nextAttempt: ms(3 * time.Minute),
			},
		},
	}
	// An active grant already warned, whose approval stage one stored
	// without a time.
	warnedReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-warned"), Requester: "UREQ1",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "shared/", Access: approval.AccessWrite},
			Duration: 5 * time.Hour, Reason: "migration", State: approval.StateApproved,
			CreatedAt: at(-3 * time.Hour), TimeoutAt: at(5 * time.Hour),
			Approvals: []approval.Approval{{By: "UAPP1"}},
			DecidedBy: "UAPP1", DecidedAt: at(-179 * time.Minute),
			EndsAt: at(121 * time.Minute), WarnAt: at(111 * time.Minute), Warned: true,
			Version: 5,
		},
		approvals: `[{"by":"UAPP1"}]`,
		nextDue:   ms(121 * time.Minute),
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(-179 * time.Minute), Kind: approval.EventApproved, Actor: "UAPP1"},
				detail: `null`, deliveredAt: ms(-179 * time.Minute), nextAttempt: ms(-179 * time.Minute),
			},
		},
	}
	// A request revoked while pending, whose notice failed twice and waits
	// for its next attempt, unleased.
	revokedReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-revoked"), Requester: "UREQ4",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead},
			Duration: 30 * time.Minute, Reason: "oops", State: approval.StateRevoked,
			CreatedAt: at(-time.Hour), TimeoutAt: at(7 * time.Hour),
			EndedBy: "UREQ4", EndedAt: at(time.Minute),
			Messages: []approval.MessageRef{{Kind: approval.MessageApproval, Channel: "C0APPROVERS", TS: "1764244800.000500"}},
			Version:  2,
		},
		approvals: `null`,
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(-time.Hour), Kind: approval.EventRequested, Actor: "UREQ4", Notify: true, Attempts: 1},
				detail: `null`, deliveredAt: ms(-time.Hour), nextAttempt: ms(-time.Hour), leaseOwner: "replica-a",
			},
			{
				want:   approval.Event{At: at(time.Minute), Kind: approval.EventRevoked, Actor: "UREQ4", Detail: map[string]string{"was": "pending"}, Notify: true, Attempts: 2},
				detail: `{"was":"pending"}`, nextAttempt: ms(2 * time.Minute), lastError: "slack: ratelimited",
			},
		},
	}
	// A grant AWS refused, whose notice was given up.
	failedReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-failed"), Requester: "UREQ5",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "x/", Access: approval.AccessWrite},
			Duration: time.Hour, Reason: "it's \"quoted\"; DROP TABLE requests; --", State: approval.StateFailed,
			CreatedAt: at(-2 * time.Hour), TimeoutAt: at(6 * time.Hour),
			Approvals: []approval.Approval{},
			DecidedBy: "UAPP1", DecidedAt: at(-119 * time.Minute),
			Failure: "AccessDenied: not authorized to perform sts:AssumeRole",
			Version: 3,
		},
		approvals: `[]`,
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(-119 * time.Minute), Kind: approval.EventFailed, Detail: map[string]string{"code": "AccessDenied"}, Notify: true, Attempts: 5},
				detail: `{"code":"AccessDenied"}`, deliveredAt: ms(-100 * time.Minute), nextAttempt: ms(-110 * time.Minute),
				leaseOwner: "replica-a", lastError: "channel_not_found",
			},
		},
	}
	// A denied request, all delivered.
	deniedReq = stageOneRequest{
		want: &approval.Request{
			ID: approvaltest.ID("stage1-denied"), Requester: "UREQ2",
			Scope:    approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "secret/", Access: approval.AccessRead},
			Duration: 10 * time.Minute, Reason: "curiosity", State: approval.StateDenied,
			CreatedAt: at(-30 * time.Minute), TimeoutAt: at(450 * time.Minute),
			DecidedBy: "UAPP2", DecidedAt: at(-29 * time.Minute),
			Version: 2,
		},
		approvals: `null`,
		events: []stageOneEvent{
			{
				want:   approval.Event{At: at(-29 * time.Minute), Kind: approval.EventDenied, Actor: "UAPP2", Notify: true, Attempts: 1},
				detail: `null`, deliveredAt: ms(-29 * time.Minute), nextAttempt: ms(-29 * time.Minute), leaseOwner: "replica-b",
			},
		},
	}
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fixture is the stage-one data as inserted: the requests with the Seq of
// their events set.
type fixture struct {
	reqs []stageOneRequest
}

// events returns every event of the fixture, in insertion (Seq) order.
func (f fixture) events() []approval.Event {
	var out []approval.Event
	for _, r := range f.reqs {
		for _, e := range r.events {
			out = append(out, e.want)
		}
	}
	return out
}

// createStageOne builds the stage-one schema in db, as stage one's
// sqlstore.New did (early: as builds before a59be13 left it), and fills it
// with the fixture through plain SQL, as stage one's statements wrote it.
func createStageOne(t *testing.T, db *sql.DB, autoID string, early bool) fixture {
	t.Helper()
	ctx := t.Context()
	stmts := stageOneSchema
	if early {
		stmts = append(append([]string(nil), stageOneSchema...), earlyStageOne...)
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, strings.ReplaceAll(q, "{{AutoID}}", autoID)); err != nil {
			t.Fatalf("stage-one schema: %s: %v", q, err)
		}
	}
	var f fixture
	for _, r := range []stageOneRequest{pendingReq, grantReq, warnedReq, revokedReq, failedReq, deniedReq} {
		w := r.want
		_, err := db.ExecContext(ctx, `INSERT INTO requests (id, requester, bucket, prefix, access, duration_ns, reason, state,
				created_at, timeout_at, approvals, decided_by, decided_at, ends_at, warn_at, warned,
				ended_by, ended_at, failure, version, next_due)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
			w.ID, w.Requester, w.Bucket, w.Prefix, string(w.Access), int64(w.Duration), w.Reason, string(w.State),
			msOrNull(w.CreatedAt), msOrNull(w.TimeoutAt), r.approvals, w.DecidedBy, msOrNull(w.DecidedAt), msOrNull(w.EndsAt), msOrNull(w.WarnAt), w.Warned,
			w.EndedBy, msOrNull(w.EndedAt), w.Failure, w.Version, r.nextDue)
		if err != nil {
			t.Fatalf("insert stage-one request %s: %v", w.ID, err)
		}
		for _, m := range w.Messages {
			if _, err := db.ExecContext(ctx, `INSERT INTO messages (request_id, kind, channel, ts) VALUES ($1, $2, $3, $4)`,
				w.ID, string(m.Kind), m.Channel, m.TS); err != nil {
				t.Fatalf("insert stage-one message: %v", err)
			}
		}
		r.events = append([]stageOneEvent(nil), r.events...)
		for i := range r.events {
			e := &r.events[i]
			e.want.RequestID = w.ID
			err := db.QueryRowContext(ctx, `INSERT INTO events (request_id, at, kind, actor, detail, notify,
					delivered_at, next_attempt_at, attempts, lease_owner, lease_until, last_error)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq`,
				w.ID, msOrNull(e.want.At), string(e.want.Kind), e.want.Actor, e.detail, e.want.Notify,
				e.deliveredAt, e.nextAttempt, e.want.Attempts, e.leaseOwner, e.leaseUntil, e.lastError).Scan(&e.want.Seq)
			if err != nil {
				t.Fatalf("insert stage-one event: %v", err)
			}
		}
		f.reqs = append(f.reqs, r)
	}
	return f
}

func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}
