package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// statements are prepared once by New and reused, so a write costs no
// parsing. Inside a transaction they are used through Tx.StmtContext,
// which reuses the statement prepared on that connection.
type statements struct {
	insertRequest *sql.Stmt
	updateRequest *sql.Stmt
	touchRequest  *sql.Stmt
	existsRequest *sql.Stmt
	getRequest    *sql.Stmt
	getMessages   *sql.Stmt
	insertMessage *sql.Stmt
	insertEvent   *sql.Stmt
	due           *sql.Stmt
	wakeDue       *sql.Stmt
	wakeEvents    *sql.Stmt
	claim         *sql.Stmt
	delivered     *sql.Stmt
	retry         *sql.Stmt
	giveUp        *sql.Stmt
	deferEvent    *sql.Stmt
	releaseLeases *sql.Stmt
	dropRevoked   *sql.Stmt
	addRevoked    *sql.Stmt
}

// headEvent is true for the oldest undelivered event of its request, the
// only one of the request that may be claimed. It reads events as e.
var headEvent = headEventOf("e")

// claimable is true for an event Claim may take at $1: due, not leased
// (or its lease has run out), and its request's head. It reads events as
// e.
var claimable = claimableAs("e")

func headEventOf(a string) string {
	return `NOT EXISTS (
	SELECT 1 FROM events o
	WHERE o.request_id = ` + a + `.request_id AND o.delivered_at IS NULL AND o.seq < ` + a + `.seq)`
}

func claimableAs(a string) string {
	return a + `.delivered_at IS NULL AND ` + a + `.next_attempt_at <= $1
	AND (` + a + `.lease_until IS NULL OR ` + a + `.lease_until <= $1)
	AND ` + headEventOf(a)
}

// notAnnouncementAs is true for an event (read as a) that is not one of
// approval.Announcements. The kinds are the domain's constants, so they
// are written into the statement as literals.
func notAnnouncementAs(a string) string {
	quoted := make([]string, 0, len(approval.Announcements()))
	for _, k := range approval.Announcements() {
		quoted = append(quoted, "'"+string(k)+"'")
	}
	return a + ".kind NOT IN (" + strings.Join(quoted, ", ") + ")"
}

func (st *statements) list(d Dialect) []struct {
	dst **sql.Stmt
	q   string
} {
	return []struct {
		dst **sql.Stmt
		q   string
	}{
		{&st.insertRequest, insertRequest},
		{&st.updateRequest, updateRequest},
		// A write that changes nothing: it proves the request exists and,
		// on PostgreSQL, locks its row until the transaction ends.
		{&st.touchRequest, `UPDATE requests SET version = version WHERE id = $1`},
		{&st.existsRequest, `SELECT 1 FROM requests WHERE id = $1`},
		{&st.getRequest, selectRequests + ` WHERE id = $1`},
		{&st.getMessages, `SELECT kind, channel, ts, extension FROM messages WHERE request_id = $1 ORDER BY id`},
		{&st.insertMessage, `INSERT INTO messages (request_id, kind, channel, ts, extension) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (request_id, channel, ts) DO NOTHING`},
		{&st.insertEvent, `INSERT INTO events (request_id, at, kind, actor, detail, notify, delivered_at, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`},
		{&st.due, `SELECT id FROM requests WHERE next_due IS NOT NULL AND next_due <= $1
			ORDER BY next_due, id LIMIT $2`},
		{&st.wakeDue, `SELECT next_due FROM requests WHERE next_due IS NOT NULL ORDER BY next_due, id LIMIT 1`},
		// The earliest of: an unleased head event's next attempt, and a
		// lease's end (a leased event is always its request's head). Each
		// side walks an index and stops at its first row, so a backlog of
		// undelivered events costs no scan.
		{&st.wakeEvents, `SELECT MIN(t) FROM (
			SELECT * FROM (SELECT e.next_attempt_at AS t FROM events e
				WHERE e.delivered_at IS NULL AND e.lease_until IS NULL AND ` + headEvent + `
				ORDER BY e.next_attempt_at, e.seq LIMIT 1) unleased
			UNION ALL
			SELECT * FROM (SELECT e.lease_until AS t FROM events e
				WHERE e.delivered_at IS NULL AND e.lease_until IS NOT NULL
				ORDER BY e.lease_until LIMIT 1) leased) w`},
		// $1 now, $2 owner, $3 lease end, $4 limit. Ordered by due time,
		// so the outbox index yields the first rows without sorting the
		// backlog; per request the head rule keeps notices in order. With
		// a limit of 2 or more, one event is taken from the other end of
		// the index, the latest due that is not an announcement or, when
		// there is none, the latest due (see Store.Claim). Each walk stops
		// at its first row; the "none" test sits in the last LIMIT, so that
		// walk does not even start when there is such an event.
		{&st.claim, `UPDATE events SET lease_owner = $2, lease_until = $3, attempts = attempts + 1
			WHERE seq IN (
				SELECT e.seq FROM events e
				WHERE ` + claimable + `
				ORDER BY e.next_attempt_at, e.seq
				LIMIT CASE WHEN CAST($4 AS BIGINT) >= 2 THEN CAST($4 AS BIGINT) - 1 ELSE CAST($4 AS BIGINT) END ` + d.ClaimLock + `)
			OR seq IN (
				SELECT e.seq FROM events e
				WHERE ` + claimable + ` AND ` + notAnnouncementAs("e") + `
				ORDER BY e.next_attempt_at DESC, e.seq DESC
				LIMIT CASE WHEN CAST($4 AS BIGINT) >= 2 THEN 1 ELSE 0 END ` + d.ClaimLock + `)
			OR seq IN (
				SELECT e.seq FROM events e
				WHERE ` + claimable + `
				ORDER BY e.next_attempt_at DESC, e.seq DESC
				LIMIT CASE WHEN CAST($4 AS BIGINT) >= 2 AND NOT EXISTS (
					SELECT 1 FROM events n WHERE ` + claimableAs("n") + ` AND ` + notAnnouncementAs("n") + `)
					THEN 1 ELSE 0 END ` + d.ClaimLock + `)
			RETURNING ` + eventCols},
		{&st.delivered, `UPDATE events SET delivered_at = $3, lease_until = NULL
			WHERE seq = $1 AND lease_owner = $2 AND delivered_at IS NULL`},
		{&st.retry, `UPDATE events SET next_attempt_at = $3, last_error = $4, lease_owner = NULL, lease_until = NULL
			WHERE seq = $1 AND lease_owner = $2 AND delivered_at IS NULL`},
		{&st.giveUp, `UPDATE events SET delivered_at = $3, last_error = $4, lease_until = NULL
			WHERE seq = $1 AND lease_owner = $2 AND delivered_at IS NULL`},
		// Claim counted an attempt that Defer takes back.
		{&st.deferEvent, `UPDATE events SET next_attempt_at = $3, attempts = attempts - 1, lease_owner = NULL, lease_until = NULL
			WHERE seq = $1 AND lease_owner = $2 AND delivered_at IS NULL`},
		{&st.releaseLeases, `UPDATE events SET lease_owner = NULL, lease_until = NULL
			WHERE delivered_at IS NULL AND lease_owner IS NOT NULL`},
		{&st.dropRevoked, `DELETE FROM revocations WHERE request_id = $1`},
		{&st.addRevoked, `INSERT INTO revocations (request_id, until) VALUES ($1, $2)`},
	}
}

func (st *statements) prepare(ctx context.Context, db *sql.DB, d Dialect) error {
	for _, s := range st.list(d) {
		stmt, err := db.PrepareContext(ctx, s.q)
		if err != nil {
			return errors.Join(fmt.Errorf("%s: %w", s.q, err), st.close())
		}
		*s.dst = stmt
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, s := range st.list(Dialect{}) {
		if *s.dst != nil {
			errs = append(errs, (*s.dst).Close())
			*s.dst = nil
		}
	}
	return errors.Join(errs...)
}
