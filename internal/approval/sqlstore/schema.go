package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Dialect is everything that differs between the SQL engines a Store runs
// on. All other statements are shared: they use $N placeholders, which
// PostgreSQL binds natively and SQLite (modernc.org/sqlite) binds by number,
// so a placeholder may appear twice or out of order.
type Dialect struct {
	// Name names the engine in errors, such as "sqlite" or "postgres".
	Name string
	// AutoID is the column definition of an auto-incrementing primary key
	// whose values only ever grow: "INTEGER PRIMARY KEY" on SQLite (the
	// rowid; rows are never deleted, so each new one is the largest yet),
	// "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" on PostgreSQL.
	AutoID string
	// SchemaLock, if set, runs first in the transaction that creates the
	// schema, so replicas starting together do not race on CREATE TABLE (a
	// PostgreSQL advisory lock). SQLite needs none: its write transaction
	// already excludes other writers.
	SchemaLock string
	// ClaimLock is appended to the subquery that picks events to claim, so
	// concurrent claimers never pick the same event: "FOR UPDATE OF e SKIP
	// LOCKED" on PostgreSQL. It is empty on SQLite, where a write statement
	// already excludes other writers.
	ClaimLock string
	// IsUniqueViolation reports whether err is the driver's unique-key
	// violation.
	IsUniqueViolation func(err error) bool
}

func (d Dialect) check() error {
	var missing []string
	if d.Name == "" {
		missing = append(missing, "Name")
	}
	if d.AutoID == "" {
		missing = append(missing, "AutoID")
	}
	if d.IsUniqueViolation == nil {
		missing = append(missing, "IsUniqueViolation")
	}
	if len(missing) > 0 {
		return fmt.Errorf("sqlstore: dialect lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// schema creates the tables and indexes. Times are unix milliseconds (UTC)
// in BIGINT columns, NULL for the zero time; maps and lists are JSON text.
// Every statement is idempotent, so opening an existing store is a no-op.
//
// requests.next_due mirrors Request.NextDue() and is rewritten with every
// write of the request, so Due and Wake are range scans of one partial
// index however many requests are stored.
//
// events is both the audit log and the outbox. An undelivered event has
// delivered_at NULL; audit-only events are inserted delivered. The partial
// indexes cover only undelivered events, so they stay as small as the
// outbox.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS requests (
		id          TEXT PRIMARY KEY,
		requester   TEXT NOT NULL,
		bucket      TEXT NOT NULL,
		prefix      TEXT NOT NULL,
		access      TEXT NOT NULL,
		duration_ns BIGINT NOT NULL,
		reason      TEXT NOT NULL,
		state       TEXT NOT NULL,
		created_at  BIGINT,
		timeout_at  BIGINT,
		approvals   TEXT NOT NULL,
		decided_by  TEXT NOT NULL,
		decided_at  BIGINT,
		ends_at     BIGINT,
		warn_at     BIGINT,
		warned      BOOLEAN NOT NULL,
		ended_by    TEXT NOT NULL,
		ended_at    BIGINT,
		failure     TEXT NOT NULL,
		version     BIGINT NOT NULL,
		next_due    BIGINT
	)`,
	`CREATE INDEX IF NOT EXISTS requests_next_due ON requests (next_due, id) WHERE next_due IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS requests_requester ON requests (requester, created_at)`,
	`CREATE INDEX IF NOT EXISTS requests_state ON requests (state, created_at)`,

	`CREATE TABLE IF NOT EXISTS messages (
		id         {{AutoID}},
		request_id TEXT NOT NULL REFERENCES requests (id),
		kind       TEXT NOT NULL,
		channel    TEXT NOT NULL,
		ts         TEXT NOT NULL,
		UNIQUE (request_id, channel, ts)
	)`,

	`CREATE TABLE IF NOT EXISTS events (
		seq             {{AutoID}},
		request_id      TEXT NOT NULL REFERENCES requests (id),
		at              BIGINT,
		kind            TEXT NOT NULL,
		actor           TEXT NOT NULL,
		detail          TEXT NOT NULL,
		notify          BOOLEAN NOT NULL,
		delivered_at    BIGINT,
		next_attempt_at BIGINT NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		lease_owner     TEXT,
		lease_until     BIGINT,
		last_error      TEXT
	)`,
	// A request's events, for Audit and for finding the oldest undelivered
	// one (Claim, Wake): a request has a handful.
	`CREATE INDEX IF NOT EXISTS events_request ON events (request_id, seq)`,
	`CREATE INDEX IF NOT EXISTS events_at ON events (at)`,
	// The outbox: undelivered events in the order Claim takes them, and
	// leases by their end, for Wake.
	`DROP INDEX IF EXISTS events_due`,
	`CREATE INDEX IF NOT EXISTS events_outbox ON events (next_attempt_at, seq) WHERE delivered_at IS NULL`,
	`CREATE INDEX IF NOT EXISTS events_leased ON events (lease_until) WHERE delivered_at IS NULL AND lease_until IS NOT NULL`,
}

// migrate creates the schema in one transaction.
func (s *Store) migrate(ctx context.Context) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	if s.d.SchemaLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.SchemaLock); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
	}
	for _, q := range schema {
		q = strings.ReplaceAll(q, "{{AutoID}}", s.d.AutoID)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return tx.Commit()
}

func firstLine(q string) string {
	q, _, _ = strings.Cut(q, "\n")
	return strings.TrimSpace(strings.TrimSuffix(q, "("))
}
