// Package sqlstore implements approval.Store over database/sql. The same
// statements run on SQLite (modernc.org/sqlite) and PostgreSQL (pgx): they
// use $N placeholders, which both bind by number, and only what a Dialect
// names differs. The sqlitestore and pgstore packages open a Store on each.
//
// Requests are updated with compare-and-swap on their version: Update reads
// the request, applies the modify function and writes the result with its
// events in one transaction only if the version is unchanged, retrying with
// fresh state otherwise. Events are the audit log and the outbox of notices:
// Claim leases the oldest undelivered event of each request to one owner at
// a time, so notices about a request go out in order and, across replicas,
// one at a time. Delivery is at least once: an owner that overruns its
// lease may find the event taken over.
//
// # Schema
//
// The schema is built by numbered migrations: the files in migrations/,
// named NNNN_name.sql (0001_baseline.sql, 0002_…), embedded in the binary.
// New applies those a database lacks, in order, each in a transaction of
// its own together with its row in the schema_migrations table (version,
// name, applied_at), so a migration is applied whole or not at all. On
// PostgreSQL those transactions take an advisory lock, so replicas that
// start together apply each migration once (see Dialect.SchemaLock). A
// database that records a version this binary does not know, migrated by a
// newer share-bucket, is refused untouched with a *NewerSchemaError.
//
// To change the schema, add the next file, such as 0002_extensions.sql:
// plain DDL that both SQLite and PostgreSQL accept, each statement ending
// with a semicolon at the end of a line; lines that hold only a comment
// (--) are skipped. Every statement runs in the migration's transaction, so
// those that cannot (CREATE INDEX CONCURRENTLY) are out. {{AutoID}} stands
// for the dialect's auto-incrementing key; a placeholder of its own for
// anything else that differs goes in Dialect.templates. A new column of
// requests also takes one entry in requestColumns, which the statements
// that write and read requests are built from; a NOT NULL column needs a
// DEFAULT for the rows already there (ALTER TABLE requests ADD COLUMN
// extensions INTEGER NOT NULL DEFAULT 0). SQLite's ALTER TABLE adds,
// renames and drops columns but changes none: to change a column's type or
// constraints, create the new table, copy the rows and rename it.
//
// Never edit or rename a migration once released. Databases record each
// by version and name, and a binary whose migration of a recorded version
// has another name refuses the database; an edit would reach only fresh
// databases, leaving upgraded ones unlike them.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// Update retries a lost compare-and-swap this many times in all, sleeping a
// random time below a doubling backoff in between.
const (
	updateAttempts = 10
	minBackoff     = time.Millisecond
	maxBackoff     = 100 * time.Millisecond
)

// errLostRace means the request changed between Update's read and write.
var errLostRace = errors.New("sqlstore: request changed")

// Store is an approval.Store on a SQL database. It is safe for concurrent
// use, and several Stores (replicas) may share one PostgreSQL database.
type Store struct {
	// Now stamps the events that Retry gives up, the one write whose time
	// the caller does not pass. It defaults to time.Now; tests replace it.
	Now func() time.Time

	db *sql.DB
	d  Dialect
	st statements

	// denyListMu stands in for the deny list's lock where the dialect has
	// none (SQLite: one replica).
	denyListMu sync.Mutex
}

var _ approval.Store = (*Store)(nil)

// New applies the migrations that db lacks, prepares the statements and
// returns a Store. The Store takes db over: Close closes it. If New
// fails, db is left open for the caller to close.
//
// On a database whose pool has a single connection (SQLite), New and the
// Store never use db while one of their transactions is open, so they do
// not deadlock; callers sharing db must not either.
//
// New returns an error wrapping a *NewerSchemaError, having written
// nothing, if db's schema is of a version newer than this binary knows.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	s := &Store{Now: time.Now, db: db, d: d}
	ms, err := embeddedMigrations()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if err := migrate(ctx, db, d, ms); err != nil {
		return nil, fmt.Errorf("sqlstore: migrate %s schema: %w", d.Name, err)
	}
	if err := s.st.prepare(ctx, db, d); err != nil {
		return nil, fmt.Errorf("sqlstore: prepare %s statements: %w", d.Name, err)
	}
	return s, nil
}

// DB returns the underlying database, for health checks and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// Close releases the prepared statements and closes the database.
func (s *Store) Close() error {
	return errors.Join(s.st.close(), s.db.Close())
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Create stores r, its message refs and its first events in one
// transaction. It returns an error wrapping approval.ErrExists, and writes
// nothing, if r.ID is taken. Events with an empty RequestID are recorded
// for r; events naming another request are refused.
func (s *Store) Create(ctx context.Context, r *approval.Request, events []approval.Event) error {
	if err := s.create(ctx, r, events); err != nil {
		return fmt.Errorf("create %s: %w", r.ID, err)
	}
	return nil
}

func (s *Store) create(ctx context.Context, r *approval.Request, events []approval.Event) error {
	args, err := requestArgs(r)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.StmtContext(ctx, s.st.insertRequest).ExecContext(ctx, args...); err != nil {
		if s.d.IsUniqueViolation(err) {
			return approval.ErrExists
		}
		return err
	}
	if err := s.insertMessages(ctx, tx, r.ID, r.Messages); err != nil {
		return err
	}
	if err := s.mirrorRevocation(ctx, tx, time.Time{}, r); err != nil {
		return err
	}
	if _, err := s.insertEvents(ctx, tx, r.ID, events); err != nil {
		return err
	}
	if err := s.notify(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Get returns request id with its message refs, in the order they were
// added. It returns an error wrapping approval.ErrNotFound if there is no
// such request.
func (s *Store) Get(ctx context.Context, id string) (*approval.Request, error) {
	r, err := s.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) get(ctx context.Context, id string) (*approval.Request, error) {
	r, err := scanRequest(s.st.getRequest.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, approval.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.st.getMessages.QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m approval.MessageRef
		if err := rows.Scan(&m.Kind, &m.Channel, &m.TS, &m.Extension); err != nil {
			return nil, err
		}
		r.Messages = append(r.Messages, m)
	}
	return r, rows.Err()
}

// Update reads request id, calls fn on a copy and, if fn returned events,
// writes the copy with version+1 and the events in one transaction,
// provided the stored version is still the one read. When another writer
// got there first, fn runs again on fresh state, up to 10 times in all,
// and then Update returns an error wrapping approval.ErrConflict.
//
// fn's error is returned unwrapped, and nothing is written. When fn returns
// no events nothing is written and Update returns the request as stored.
// Message refs that fn adds are stored too. The returned request and
// events are as stored: times in UTC milliseconds, Seq set.
//
// Update returns an error wrapping approval.ErrNotFound, without calling
// fn, if there is no such request.
func (s *Store) Update(ctx context.Context, id string, fn approval.ModifyFunc) (*approval.Request, []approval.Event, error) {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		cur, err := s.get(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("update %s: %w", id, err)
		}
		next := cur.Clone()
		events, err := fn(next)
		if err != nil {
			return nil, nil, err
		}
		if len(events) == 0 {
			return cur, nil, nil
		}
		if next.ID != id {
			return nil, nil, fmt.Errorf("update %s: modify function changed the ID to %q", id, next.ID)
		}
		next.Version = cur.Version + 1
		written, err := s.write(ctx, cur, next, events)
		switch {
		case err == nil:
			return storedRequest(next), written, nil
		case !errors.Is(err, errLostRace):
			return nil, nil, fmt.Errorf("update %s: %w", id, err)
		case attempt == updateAttempts:
			return nil, nil, fmt.Errorf("update %s: gave up after %d attempts: %w", id, attempt, approval.ErrConflict)
		}
		if err := sleep(ctx, rand.N(backoff)+1); err != nil {
			return nil, nil, fmt.Errorf("update %s: %w", id, err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// write stores next over cur, if cur is still the stored version, with
// events. It returns errLostRace if cur is not.
func (s *Store) write(ctx context.Context, cur, next *approval.Request, events []approval.Event) ([]approval.Event, error) {
	args, err := requestArgs(next)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	// The update comes first: on PostgreSQL it locks the row, so the events
	// of one request get their sequence numbers in commit order.
	res, err := tx.StmtContext(ctx, s.st.updateRequest).ExecContext(ctx, append(args, cur.Version)...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, errLostRace
	}
	var added []approval.MessageRef
	for _, m := range next.Messages {
		if !cur.HasMessage(m.Channel, m.TS) {
			added = append(added, m)
		}
	}
	if err := s.insertMessages(ctx, tx, next.ID, added); err != nil {
		return nil, err
	}
	if err := s.mirrorRevocation(ctx, tx, cur.CutUntil, next); err != nil {
		return nil, err
	}
	written, err := s.insertEvents(ctx, tx, next.ID, events)
	if err != nil {
		return nil, err
	}
	if err := s.notify(ctx, tx); err != nil {
		return nil, err
	}
	return written, tx.Commit()
}

// notify runs the dialect's Notify statement, if any, in tx.
func (s *Store) notify(ctx context.Context, tx *sql.Tx) error {
	if s.d.Notify == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.d.Notify); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// execNotify runs stmt and, if it changed a row, the dialect's Notify
// statement, in one transaction when there is one to run.
func (s *Store) execNotify(ctx context.Context, stmt *sql.Stmt, args ...any) (int64, error) {
	if s.d.Notify == "" {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return n, err
	}
	if err := s.notify(ctx, tx); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// insertEvents records events for request id (any request if id is "") and
// returns them as stored. Audit-only events (Notify false) are stored as
// delivered at their time; the others are due at their time.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, id string, events []approval.Event) ([]approval.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	stmt := tx.StmtContext(ctx, s.st.insertEvent)
	out := make([]approval.Event, len(events))
	for i, e := range events {
		switch {
		case e.RequestID == "" && id != "":
			e.RequestID = id
		case e.RequestID == "":
			return nil, fmt.Errorf("event %d (%s) names no request", i, e.Kind)
		case id != "" && e.RequestID != id:
			return nil, fmt.Errorf("event %d (%s) is for request %s", i, e.Kind, e.RequestID)
		}
		detail, err := encodeDetail(e.Detail)
		if err != nil {
			return nil, err
		}
		var due int64
		if !e.At.IsZero() {
			due = e.At.UnixMilli()
		}
		var delivered any
		if !e.Notify {
			delivered = due
		}
		if err := stmt.QueryRowContext(ctx, e.RequestID, millis(e.At), string(e.Kind), e.Actor, detail, e.Notify, delivered, due).Scan(&e.Seq); err != nil {
			return nil, fmt.Errorf("insert %s event: %w", e.Kind, err)
		}
		e.At, e.Attempts = stored(e.At), 0
		out[i] = e
	}
	return out, nil
}

// insertMessages stores refs for request id, skipping those already stored.
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, id string, refs []approval.MessageRef) error {
	if len(refs) == 0 {
		return nil
	}
	stmt := tx.StmtContext(ctx, s.st.insertMessage)
	for _, m := range refs {
		if _, err := stmt.ExecContext(ctx, id, string(m.Kind), m.Channel, m.TS, m.Extension); err != nil {
			return fmt.Errorf("insert message %s/%s: %w", m.Channel, m.TS, err)
		}
	}
	return nil
}

// Append records events that change no request, in one transaction. It
// returns an error wrapping approval.ErrNotFound, and writes nothing, if an
// event's request does not exist.
func (s *Store) Append(ctx context.Context, events []approval.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.append(ctx, events); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	return nil
}

func (s *Store) append(ctx context.Context, events []approval.Event) error {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.RequestID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// Touching each request (in a fixed order) checks that it exists and,
	// on PostgreSQL, locks it against Update and other Appends, so its
	// events get their sequence numbers in commit order.
	touch := tx.StmtContext(ctx, s.st.touchRequest)
	for _, id := range ids {
		res, err := touch.ExecContext(ctx, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%s: %w", id, approval.ErrNotFound)
		}
	}
	if _, err := s.insertEvents(ctx, tx, "", events); err != nil {
		return err
	}
	if err := s.notify(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// AddMessages stores refs to chat messages about request id. Refs already
// stored for the request (same channel and ts) are skipped, so repeating a
// call is harmless. It returns an error wrapping approval.ErrNotFound if
// there is no such request.
func (s *Store) AddMessages(ctx context.Context, id string, refs []approval.MessageRef) error {
	if err := s.addMessages(ctx, id, refs); err != nil {
		return fmt.Errorf("add messages to %s: %w", id, err)
	}
	return nil
}

func (s *Store) addMessages(ctx context.Context, id string, refs []approval.MessageRef) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	err = tx.StmtContext(ctx, s.st.existsRequest).QueryRowContext(ctx, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return approval.ErrNotFound
	}
	if err != nil {
		return err
	}
	if err := s.insertMessages(ctx, tx, id, refs); err != nil {
		return err
	}
	return tx.Commit()
}

// List returns the requests matching f with their message refs, newest
// (by CreatedAt) first. A zero Limit means no limit.
func (s *Store) List(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	out, err := s.list(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}

func (s *Store) list(ctx context.Context, f approval.Filter) ([]*approval.Request, error) {
	qb := filterQuery(f)
	q, args := qb.build(selectRequests, "created_at DESC NULLS LAST, id DESC", f.Limit)
	if f.Offset > 0 {
		if f.Limit <= 0 {
			q += " LIMIT " + qb.arg(noLimit(0))
		}
		q += " OFFSET " + qb.arg(f.Offset)
		args = qb.args
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []*approval.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	// Close before the next query: a SQLite pool has a single connection.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if err := s.attachMessages(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// filterQuery is the WHERE of the requests matching f.
func filterQuery(f approval.Filter) *query {
	var qb query
	if f.Requester != "" {
		qb.where("requester = " + qb.arg(f.Requester))
	}
	if f.ExceptRequester != "" {
		qb.where("requester <> " + qb.arg(f.ExceptRequester))
	}
	if len(f.States) > 0 {
		in := make([]string, len(f.States))
		for i, st := range f.States {
			in[i] = qb.arg(string(st))
		}
		qb.where("state IN (" + strings.Join(in, ", ") + ")")
	}
	if f.Undecided {
		qb.where("(state = " + qb.arg(string(approval.StatePending)) + " OR extension_pending)")
	}
	return &qb
}

// CountRequests returns how many requests match f, whatever its Limit and
// Offset. Filtered by state or requester, it counts on an index.
func (s *Store) CountRequests(ctx context.Context, f approval.Filter) (int, error) {
	qb := filterQuery(f)
	q := "SELECT COUNT(*) FROM requests"
	if len(qb.conds) > 0 {
		q += " WHERE " + strings.Join(qb.conds, " AND ")
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q, qb.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count requests: %w", err)
	}
	return n, nil
}

// attachMessages loads the message refs of rs, a few hundred requests per
// query.
func (s *Store) attachMessages(ctx context.Context, rs []*approval.Request) error {
	const chunk = 500
	byID := make(map[string]*approval.Request, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	for c := range slices.Chunk(rs, chunk) {
		in := make([]string, len(c))
		args := make([]any, len(c))
		for i, r := range c {
			in[i], args[i] = fmt.Sprintf("$%d", i+1), r.ID
		}
		rows, err := s.db.QueryContext(ctx, "SELECT request_id, kind, channel, ts, extension FROM messages WHERE request_id IN ("+strings.Join(in, ", ")+") ORDER BY id", args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id string
				m  approval.MessageRef
			)
			if err := rows.Scan(&id, &m.Kind, &m.Channel, &m.TS, &m.Extension); err != nil {
				rows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				r.Messages = append(r.Messages, m)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	return nil
}

// Due returns up to limit IDs of requests whose NextDue is at or before
// now, earliest first. A limit of zero or less means no limit.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := s.due(ctx, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due requests: %w", err)
	}
	return ids, nil
}

func (s *Store) due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.st.due.QueryContext(ctx, now.UnixMilli(), noLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func noLimit(limit int) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return int64(limit)
}

// Wake returns the earliest time at which there is work: a request's
// NextDue, or when the oldest undelivered event of a request can be
// claimed. That is its next attempt time or, while it is leased, the end of
// the lease, so an owner that died is taken over once its lease runs out.
// Newer events of the same request wait for the oldest and are not counted,
// so Wake never names a time at which Claim would find nothing.
//
// Both are index lookups that stop at the first row, however many
// requests and undelivered events there are.
func (s *Store) Wake(ctx context.Context) (time.Time, bool, error) {
	var due, ev sql.NullInt64
	err := s.st.wakeDue.QueryRowContext(ctx).Scan(&due)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, fmt.Errorf("wake: %w", err)
	}
	if err := s.st.wakeEvents.QueryRowContext(ctx).Scan(&ev); err != nil {
		return time.Time{}, false, fmt.Errorf("wake: %w", err)
	}
	switch {
	case due.Valid && ev.Valid:
		return fromMillis(sql.NullInt64{Int64: min(due.Int64, ev.Int64), Valid: true}), true, nil
	case due.Valid:
		return fromMillis(due), true, nil
	case ev.Valid:
		return fromMillis(ev), true, nil
	}
	return time.Time{}, false, nil
}

// Claim leases to owner until now+lease up to limit undelivered events
// that are due at now and not leased to anyone (or whose lease has run
// out), earliest due first, and counts the attempt. With a limit of 2 or
// more, one of them is the latest due instead, so that a notice that has
// just come due (a decision, a warning) is taken at once however long the
// backlog ahead of it, while the backlog still goes oldest first. That one
// is the latest due event that is not one of approval.Announcements, if
// any: during a burst of requests the newest announcement is always
// younger than a warning that came due meanwhile, which would otherwise
// wait behind the announcements' backlog. Only the
// oldest undelivered event of a request is claimable, so notices about a
// request go out in order. Concurrent claimers, on any replica, never get
// the same event. A limit of zero or less means no limit. The events come
// back in Seq order.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]approval.Event, error) {
	events, err := s.claim(ctx, owner, now, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim events for %s: %w", owner, err)
	}
	return events, nil
}

func (s *Store) claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]approval.Event, error) {
	rows, err := s.st.claim.QueryContext(ctx, now.UnixMilli(), owner, now.Add(lease).UnixMilli(), noLimit(limit))
	if err != nil {
		return nil, err
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(events, func(a, b approval.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return events, nil
}

// Delivered marks event seq as delivered at now. It returns an error
// wrapping approval.ErrConflict if the event is not leased to owner (never
// claimed, claimed by another owner after this one's lease ran out, or
// already done). A lease that ran out but was not taken over still counts.
func (s *Store) Delivered(ctx context.Context, seq int64, owner string, now time.Time) error {
	return s.release(ctx, "delivered", seq, owner, s.st.delivered, seq, owner, now.UnixMilli())
}

// Retry releases event seq, leased to owner, for another attempt at at and
// records lastErr. With at zero it gives the event up instead: marks it
// done (at Store.Now) with lastErr, so the next event of the request can
// go. It returns an error wrapping approval.ErrConflict if the event is not
// leased to owner.
func (s *Store) Retry(ctx context.Context, seq int64, owner string, at time.Time, lastErr string) error {
	if at.IsZero() {
		return s.release(ctx, "give up", seq, owner, s.st.giveUp, seq, owner, s.now().UnixMilli(), lastErr)
	}
	return s.release(ctx, "retry", seq, owner, s.st.retry, seq, owner, at.UnixMilli(), lastErr)
}

// Defer releases event seq, leased to owner, until at without counting
// the attempt Claim counted: the delivery found its channel busy and comes
// back for its turn. The last error stays as it was. It returns an error
// wrapping approval.ErrConflict if the event is not leased to owner.
func (s *Store) Defer(ctx context.Context, seq int64, owner string, at time.Time) error {
	return s.release(ctx, "defer", seq, owner, s.st.deferEvent, seq, owner, at.UnixMilli())
}

func (s *Store) release(ctx context.Context, op string, seq int64, owner string, stmt *sql.Stmt, args ...any) error {
	n, err := s.execNotify(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("%s event %d: %w", op, seq, err)
	}
	if n == 0 {
		return fmt.Errorf("%s event %d: not leased to %q: %w", op, seq, owner, approval.ErrConflict)
	}
	return nil
}

// ReleaseLeases ends every lease on undelivered events, so they can be
// claimed at once, and returns how many it ended. It is only safe when no
// other process is delivering from the store, such as when a single
// replica starts: the leases are then left by a process that died.
func (s *Store) ReleaseLeases(ctx context.Context) (int64, error) {
	n, err := s.execNotify(ctx, s.st.releaseLeases)
	if err != nil {
		return 0, fmt.Errorf("release leases: %w", err)
	}
	return n, nil
}

// Audit returns the events matching f, including audit-only and
// undelivered ones, in the order they were recorded. Since matches events
// at or after it. A zero Limit means no limit.
func (s *Store) Audit(ctx context.Context, f approval.AuditFilter) ([]approval.Event, error) {
	events, err := s.audit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return events, nil
}

func (s *Store) audit(ctx context.Context, f approval.AuditFilter) ([]approval.Event, error) {
	var qb query
	if !f.Since.IsZero() {
		qb.where("at >= " + qb.arg(f.Since.UnixMilli()))
	}
	if f.RequestID != "" {
		qb.where("request_id = " + qb.arg(f.RequestID))
	}
	q, args := qb.build("SELECT "+eventCols+" FROM events", "seq", f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// scanEvents reads and closes rows of eventCols.
func scanEvents(rows *sql.Rows) ([]approval.Event, error) {
	defer rows.Close()
	var events []approval.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// Count returns how many requests are in state. It uses the (state,
// created_at) index, so it stays cheap for metrics scrapes.
func (s *Store) Count(ctx context.Context, state approval.State) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests WHERE state = $1`, string(state)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s requests: %w", state, err)
	}
	return n, nil
}

// query builds a filtered SELECT with numbered placeholders, which both
// SQLite and PostgreSQL bind by number.
type query struct {
	conds []string
	args  []any
}

// arg binds v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// where adds a condition; conditions are joined with AND.
func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

// build returns the statement and its arguments. A zero limit means none.
func (q *query) build(selectFrom, orderBy string, limit int) (string, []any) {
	sql := selectFrom
	if len(q.conds) > 0 {
		sql += " WHERE " + strings.Join(q.conds, " AND ")
	}
	sql += " ORDER BY " + orderBy
	if limit > 0 {
		sql += " LIMIT " + q.arg(limit)
	}
	return sql, q.args
}
