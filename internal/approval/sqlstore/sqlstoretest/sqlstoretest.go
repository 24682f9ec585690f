// Package sqlstoretest holds the schema migration suite that sqlitestore
// and pgstore run on their engines: a stage-one database upgrades with its
// data intact, ends with the schema of a fresh one, and a database from a
// newer share-bucket is refused untouched.
package sqlstoretest

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// An Engine is what the suite needs of a database engine.
type Engine struct {
	// AutoID is the dialect's AutoID, which the stage-one schema used.
	AutoID string
	// New returns a new, empty database: a handle for the suite's own
	// statements, and a function that opens a store on the database as
	// the bot does. The suite closes the stores it opens.
	New func(t *testing.T) (db *sql.DB, open func() (*sqlstore.Store, error))
	// Schema describes the schema of db, one line per table, column,
	// index or constraint, normalised only so that databases built by the
	// same statements describe alike.
	Schema func(t *testing.T, db *sql.DB) []string
	// Writes, if set, returns a number that changes whenever another
	// connection commits a change to db, however small.
	Writes func(t *testing.T, db *sql.DB) int64
}

// TestMigrations runs the suite on e.
func TestMigrations(t *testing.T, e Engine) {
	t.Run("UpgradeStageOne", func(t *testing.T) { testUpgrade(t, e, false) })
	t.Run("UpgradeEarlyStageOne", func(t *testing.T) { testUpgrade(t, e, true) })
	t.Run("FreshEqualsUpgraded", func(t *testing.T) { testFreshEqualsUpgraded(t, e) })
	t.Run("ReopenIsNoop", func(t *testing.T) { testReopen(t, e) })
	t.Run("NewerRefused", func(t *testing.T) { testNewerRefused(t, e) })
}

func mustOpen(t *testing.T, open func() (*sqlstore.Store, error)) *sqlstore.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// closeNow closes s ahead of the test's end (the cleanup's second Close
// is harmless).
func closeNow(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// newest returns the schema version a fresh database migrates to.
func newest(t *testing.T, e Engine) int {
	t.Helper()
	db, open := e.New(t)
	closeNow(t, mustOpen(t, open))
	var v int
	if err := db.QueryRowContext(t.Context(), "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// testUpgrade opens a stage-one database with the current code and checks
// through the Store that every request, message ref and event is as stage
// one left it, that the scheduler and the outbox pick up where stage one
// stopped, and that new writes work.
func testUpgrade(t *testing.T, e Engine, early bool) {
	ctx := t.Context()
	db, open := e.New(t)
	f := createStageOne(t, db, e.AutoID, early)
	s := mustOpen(t, open)

	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM schema_migrations WHERE version = 1").Scan(&name); err != nil || name != "baseline" {
		t.Errorf("schema_migrations version 1 = %q, %v; want baseline", name, err)
	}

	for _, r := range f.reqs {
		got := approvaltest.MustGet(t, s, r.want.ID)
		for _, d := range approvaltest.DiffRequest(got, r.want) {
			t.Errorf("Get(%s): %s", r.want.ID, d)
		}
	}
	checkList(t, s, approval.Filter{}, grantReq, pendingReq, deniedReq, revokedReq, failedReq, warnedReq)
	checkList(t, s, approval.Filter{Requester: "UREQ1"}, pendingReq, warnedReq)
	checkList(t, s, approval.Filter{States: []approval.State{approval.StateApproved}, Limit: 1}, grantReq)
	if n, err := s.Count(ctx, approval.StateApproved); err != nil || n != 2 {
		t.Errorf("Count(approved) = %d, %v; want 2", n, err)
	}

	all := f.events()
	checkEvents(t, "Audit", approvaltest.MustAudit(t, s, approval.AuditFilter{}), all)
	checkEvents(t, "Audit of the grant", approvaltest.MustAudit(t, s, approval.AuditFilter{RequestID: grantReq.want.ID}), f.reqs[1].wants())
	var since []approval.Event
	for _, ev := range all {
		if !ev.At.Before(at(time.Minute)) {
			since = append(since, ev)
		}
	}
	checkEvents(t, "Audit since T0+1m", approvaltest.MustAudit(t, s, approval.AuditFilter{Since: at(time.Minute)}), since)

	// The scheduler: requests are due at their next_due.
	checkDue(t, s, at(time.Hour), grantReq)
	checkDue(t, s, at(10*time.Hour), grantReq, warnedReq, pendingReq)

	// The outbox: the earliest work is the revoked request's retry; a
	// lease left by a stage-one replica (ended at T0+4m) is taken over; the
	// link notice waits behind the approval notice of its request.
	checkWake(t, s, at(2*time.Minute))
	grantEvs, revokedEvs := f.reqs[1].wants(), f.reqs[3].wants()
	now := at(time.Hour)
	claimed := checkClaim(t, s, now, attempt(grantEvs[2], 2), attempt(revokedEvs[1], 3))
	for _, ev := range claimed {
		if err := s.Delivered(ctx, ev.Seq, "new-replica", now); err != nil {
			t.Errorf("Delivered(%d): %v", ev.Seq, err)
		}
	}
	claimed = checkClaim(t, s, now, attempt(grantEvs[3], 1))
	for _, ev := range claimed {
		if err := s.Delivered(ctx, ev.Seq, "new-replica", now); err != nil {
			t.Errorf("Delivered(%d): %v", ev.Seq, err)
		}
	}
	checkClaim(t, s, now)
	checkWake(t, s, at(53*time.Minute))

	// New writes: the pending request gets its second approval and a
	// message; a new request's events number after stage one's.
	approvedAt := at(2 * time.Hour)
	updated, evs, err := s.Update(ctx, pendingReq.want.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.Approvals = append(r.Approvals, approval.Approval{By: "UAPP2", At: approvedAt})
		r.State, r.DecidedBy, r.DecidedAt = approval.StateApproved, "UAPP2", approvedAt
		r.EndsAt, r.WarnAt = approvedAt.Add(r.Duration), approvedAt.Add(r.Duration-10*time.Minute)
		r.Messages = append(r.Messages, approval.MessageRef{Kind: approval.MessageGrant, Channel: "D0REQ1", TS: "1764252000.000100"})
		return []approval.Event{{At: approvedAt, Kind: approval.EventApproved, Actor: "UAPP2", Notify: true}}, nil
	})
	if err != nil {
		t.Fatalf("Update of a stage-one request: %v", err)
	}
	lastSeq := all[len(all)-1].Seq
	if updated.Version != pendingReq.want.Version+1 || len(updated.Messages) != 3 || len(evs) != 1 || evs[0].Seq <= lastSeq {
		t.Fatalf("Update = version %d, %d messages, events %+v; want version %d, 3 messages and an event after seq %d",
			updated.Version, len(updated.Messages), evs, pendingReq.want.Version+1, lastSeq)
	}
	for _, d := range approvaltest.DiffRequest(approvaltest.MustGet(t, s, updated.ID), updated) {
		t.Errorf("Get after Update: %s", d)
	}
	if err := s.AddMessages(ctx, revokedReq.want.ID, revokedReq.want.Messages); err != nil {
		t.Errorf("AddMessages of a stage-one ref: %v", err)
	}
	if got := approvaltest.MustGet(t, s, revokedReq.want.ID); len(got.Messages) != 1 {
		t.Errorf("after adding a stage-one ref again, messages = %+v; want it once", got.Messages)
	}
	r, ev := approvaltest.Pending(approvaltest.ID("after-upgrade"), "UREQ9")
	approvaltest.MustCreate(t, s, r, ev)
	if created := approvaltest.MustAudit(t, s, approval.AuditFilter{RequestID: r.ID}); len(created) != 1 || created[0].Seq <= evs[0].Seq {
		t.Errorf("Audit of a request created after the upgrade = %+v; want one event after seq %d", created, evs[0].Seq)
	}
}

// wants returns r's events as Audit returns them.
func (r stageOneRequest) wants() []approval.Event {
	out := make([]approval.Event, len(r.events))
	for i, e := range r.events {
		out[i] = e.want
	}
	return out
}

func attempt(e approval.Event, n int) approval.Event {
	e.Attempts = n
	return e
}

func checkList(t *testing.T, s approval.Store, f approval.Filter, want ...stageOneRequest) {
	t.Helper()
	got, err := s.List(t.Context(), f)
	if err != nil {
		t.Errorf("List(%+v): %v", f, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("List(%+v) = %d requests; want %d", f, len(got), len(want))
		return
	}
	for i := range got {
		for _, d := range approvaltest.DiffRequest(got[i], want[i].want) {
			t.Errorf("List(%+v)[%d]: %s", f, i, d)
		}
	}
}

func checkEvents(t *testing.T, what string, got, want []approval.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %d events; want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i].Seq != want[i].Seq {
			t.Errorf("%s[%d]: Seq = %d; want %d", what, i, got[i].Seq, want[i].Seq)
		}
		for _, d := range approvaltest.DiffEvent(got[i], want[i]) {
			t.Errorf("%s[%d] (seq %d): %s", what, i, want[i].Seq, d)
		}
	}
}

func checkDue(t *testing.T, s approval.Store, now time.Time, want ...stageOneRequest) {
	t.Helper()
	got, err := s.Due(t.Context(), now, 0)
	var ids []string
	for _, r := range want {
		ids = append(ids, r.want.ID)
	}
	if err != nil || !slices.Equal(got, ids) {
		t.Errorf("Due(T0+%v) = %v, %v; want %v", now.Sub(approvaltest.T0), got, err, ids)
	}
}

func checkWake(t *testing.T, s approval.Store, want time.Time) {
	t.Helper()
	got, ok, err := s.Wake(t.Context())
	if err != nil || !ok || !got.Equal(want) {
		t.Errorf("Wake = T0+%v, %t, %v; want T0+%v", got.Sub(approvaltest.T0), ok, err, want.Sub(approvaltest.T0))
	}
}

func checkClaim(t *testing.T, s approval.Store, now time.Time, want ...approval.Event) []approval.Event {
	t.Helper()
	got, err := s.Claim(t.Context(), "new-replica", now, time.Minute, 10)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	checkEvents(t, fmt.Sprintf("Claim(T0+%v)", now.Sub(approvaltest.T0)), got, want)
	return got
}

// testFreshEqualsUpgraded checks that a fresh database and upgraded
// stage-one ones end with the same schema.
func testFreshEqualsUpgraded(t *testing.T, e Engine) {
	fresh, open := e.New(t)
	closeNow(t, mustOpen(t, open))
	want := e.Schema(t, fresh)
	// What the comparison rests on: the description sees every table and
	// index.
	for _, name := range []string{"requests", "messages", "events", "schema_migrations", "requests_next_due", "events_outbox", "events_leased"} {
		if !slices.ContainsFunc(want, func(l string) bool { return strings.Contains(l, name) }) {
			t.Errorf("schema of a fresh database never mentions %s:\n%s", name, strings.Join(want, "\n"))
		}
	}
	for _, early := range []bool{false, true} {
		db, open := e.New(t)
		createStageOne(t, db, e.AutoID, early)
		before := e.Schema(t, db)
		closeNow(t, mustOpen(t, open))
		got := e.Schema(t, db)
		if early && !slices.ContainsFunc(before, func(l string) bool { return strings.Contains(l, "events_due") }) {
			t.Errorf("schema of an early stage-one database never mentions events_due:\n%s", strings.Join(before, "\n"))
		}
		if diff := diffLines(got, want); diff != "" {
			t.Errorf("schema upgraded from stage one (early %t) differs from a fresh one (-upgraded +fresh):\n%s", early, diff)
		}
	}
}

// diffLines lists the lines only in got (-) and only in want (+).
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	if b.Len() == 0 && !slices.Equal(got, want) {
		return fmt.Sprintf("same lines in another order or number:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return b.String()
}

// snapshot is everything a database holds: its schema, the rows of its
// tables and, if the engine can tell, its write counter.
type snapshot struct {
	schema []string
	rows   []string
	writes int64
}

func takeSnapshot(t *testing.T, e Engine, db *sql.DB) snapshot {
	t.Helper()
	s := snapshot{schema: e.Schema(t, db)}
	for _, table := range []string{"requests", "messages", "events", "schema_migrations"} {
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table+" ORDER BY 1")
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			s.rows = append(s.rows, fmt.Sprintf("%s %q", table, vals))
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	if e.Writes != nil {
		s.writes = e.Writes(t, db)
	}
	return s
}

// changes describes what changed from before to after: lines that went
// (-) and came (+).
func changes(before, after snapshot) string {
	d := diffLines(before.schema, after.schema) + diffLines(before.rows, after.rows)
	if before.writes != after.writes {
		d += fmt.Sprintf("write counter moved from %d to %d\n", before.writes, after.writes)
	}
	return d
}

// testReopen checks that opening an up-to-date database changes nothing.
func testReopen(t *testing.T, e Engine) {
	db, open := e.New(t)
	createStageOne(t, db, e.AutoID, false)
	// The first open upgrades (and sqlitestore releases stage one's leases).
	closeNow(t, mustOpen(t, open))
	before := takeSnapshot(t, e, db)
	closeNow(t, mustOpen(t, open))
	if diff := changes(before, takeSnapshot(t, e, db)); diff != "" {
		t.Errorf("opening an up-to-date database changed it (-before +after):\n%s", diff)
	}
}

// testNewerRefused checks that a database a newer share-bucket migrated
// (here: a version beyond ours, and a table we do not know) is refused
// with an error saying so, before anything is written.
func testNewerRefused(t *testing.T, e Engine) {
	ctx := t.Context()
	known := newest(t, e)
	db, open := e.New(t)
	f := createStageOne(t, db, e.AutoID, false)
	closeNow(t, mustOpen(t, open))
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'from_the_future', %d)", known+1, time.Now().UnixMilli()),
		"CREATE TABLE future_things (x INTEGER)",
		// Work a newer replica left, which a refused open must not touch.
		fmt.Sprintf("UPDATE events SET lease_owner = 'newer-replica', lease_until = %d WHERE seq = %d", ms(time.Hour), f.reqs[1].events[3].want.Seq),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before := takeSnapshot(t, e, db)

	s, err := open()
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer share-bucket succeeded; want an error")
	}
	var newer *sqlstore.NewerSchemaError
	if !errors.As(err, &newer) || newer.Version != known+1 || newer.Known != known {
		t.Errorf("Open = %v; want a *sqlstore.NewerSchemaError for version %d, knowing %d", err, known+1, known)
	}
	want := fmt.Sprintf("the database schema is version %d, written by a newer share-bucket; this binary knows versions up to %d: "+
		"run the newer share-bucket, or restore a backup taken before it ran", known+1, known)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Open error = %q; want it to say %q", err, want)
	}
	if diff := changes(before, takeSnapshot(t, e, db)); diff != "" {
		t.Errorf("the refused open changed the database (-before +after):\n%s", diff)
	}
}
