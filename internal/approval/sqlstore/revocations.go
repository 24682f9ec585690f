package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// The deny list is the set of ended grants whose cloud sessions may still
// run (table revocations, one row per grant), and what the cloud was last
// told about it (table deny_list, one row). The revocations rows mirror
// Request.CutUntil: write and create keep them in step in the request's
// own transaction, so the list always matches the requests.

// Revocation is a grant on the deny list.
type Revocation struct {
	RequestID string
	Until     time.Time // when the grant's last session has ended, with a margin
	// Covered is set once a role-wide cut-off stands in for the grant's
	// ID: every session of the grant was issued before it.
	Covered bool
}

// DenyList is the list as the store holds it.
type DenyList struct {
	// Entries are the grants whose sessions may still run at the time
	// asked, by request ID.
	Entries []Revocation
	// Applied is the digest the last successful write recorded (see
	// SaveDenyList); "" if none.
	Applied string
	// Cutoff is the role-wide cut-off the cloud holds, if any: every
	// session issued before it is denied. After CutoffUntil no session it
	// stands for can still run.
	Cutoff, CutoffUntil time.Time
}

// mirrorRevocation keeps r's row in revocations in step with r.CutUntil,
// which was was before this write. A row written again loses Covered.
func (s *Store) mirrorRevocation(ctx context.Context, tx *sql.Tx, was time.Time, r *approval.Request) error {
	if stored(was).Equal(stored(r.CutUntil)) {
		return nil
	}
	if !was.IsZero() {
		if _, err := tx.StmtContext(ctx, s.st.dropRevoked).ExecContext(ctx, r.ID); err != nil {
			return fmt.Errorf("deny list: %w", err)
		}
	}
	if !r.CutUntil.IsZero() {
		if _, err := tx.StmtContext(ctx, s.st.addRevoked).ExecContext(ctx, r.ID, r.CutUntil.UnixMilli()); err != nil {
			return fmt.Errorf("deny list: %w", err)
		}
	}
	return nil
}

// LockDenyList takes the lock that serialises writes of the deny list to
// the cloud across replicas, so an older list never lands after a newer
// one, and returns its release. It holds a database connection until
// released (PostgreSQL); on SQLite, which serves one replica, a lock in
// the Store stands in.
func (s *Store) LockDenyList(ctx context.Context) (unlock func(), err error) {
	if s.d.Lock == "" {
		s.denyListMu.Lock()
		return s.denyListMu.Unlock, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock deny list: %w", err)
	}
	if _, err := conn.ExecContext(ctx, s.d.Lock, denyListLockKey); err != nil {
		return nil, errors.Join(fmt.Errorf("lock deny list: %w", err), conn.Close())
	}
	return func() {
		// A fresh context: the lock must go even when ctx has ended. If
		// the unlock fails, closing the connection ends the session and
		// with it the lock.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, s.d.Unlock, denyListLockKey)
		_ = conn.Close()
	}, nil
}

// denyListLockKey names the deny list's lock among the database's advisory
// locks.
const denyListLockKey = 0x73622d64656e79 // "sb-deny"

// DenyList returns the grants on the deny list whose Until is after now,
// by request ID, and what the cloud was last told.
func (s *Store) DenyList(ctx context.Context, now time.Time) (DenyList, error) {
	var dl DenyList
	rows, err := s.db.QueryContext(ctx, `SELECT request_id, until, covered FROM revocations WHERE until > $1 ORDER BY request_id`, now.UnixMilli())
	if err != nil {
		return DenyList{}, fmt.Errorf("deny list: %w", err)
	}
	for rows.Next() {
		var (
			e     Revocation
			until sql.NullInt64
		)
		if err := rows.Scan(&e.RequestID, &until, &e.Covered); err != nil {
			rows.Close()
			return DenyList{}, fmt.Errorf("deny list: %w", err)
		}
		e.Until = fromMillis(until)
		dl.Entries = append(dl.Entries, e)
	}
	// Close before the next query: a SQLite pool has a single connection.
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return DenyList{}, fmt.Errorf("deny list: %w", err)
	}
	var cutoff, until sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT applied, cutoff, cutoff_until FROM deny_list WHERE id = 1`).Scan(&dl.Applied, &cutoff, &until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return DenyList{}, fmt.Errorf("deny list: %w", err)
	}
	dl.Cutoff, dl.CutoffUntil = fromMillis(cutoff), fromMillis(until)
	return dl, nil
}

// SaveDenyList records what the cloud was told at now: applied, a digest
// of the list written, and the cut-off it holds (zero: none) with the time
// after which no session it stands for can still run. The entries of
// covered (matched by request ID and Until, so a row written again since
// is left alone) are marked as covered by the cut-off.
func (s *Store) SaveDenyList(ctx context.Context, applied string, cutoff, cutoffUntil, now time.Time, covered []Revocation) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save deny list: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO deny_list (id, applied, applied_at, cutoff, cutoff_until) VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET applied = $1, applied_at = $2, cutoff = $3, cutoff_until = $4`,
		applied, now.UnixMilli(), millis(cutoff), millis(cutoffUntil)); err != nil {
		return fmt.Errorf("save deny list: %w", err)
	}
	for _, e := range covered {
		if _, err := tx.ExecContext(ctx, `UPDATE revocations SET covered = TRUE WHERE request_id = $1 AND until = $2`,
			e.RequestID, e.Until.UnixMilli()); err != nil {
			return fmt.Errorf("save deny list: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save deny list: %w", err)
	}
	return nil
}
