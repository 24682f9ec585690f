package sqlstore

import (
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
	// Migrations write it as {{AutoID}}.
	AutoID string
	// SchemaLock, if set, is the first statement of every migration's
	// transaction and holds until it ends, so that replicas starting
	// together apply each migration once: a PostgreSQL advisory lock. Those
	// transactions then run at READ COMMITTED, so what a replica reads
	// after the lock includes what the replica before it committed. SQLite
	// needs none: a transaction that begins IMMEDIATE already excludes
	// other writers, and sees everything committed before it.
	SchemaLock string
	// ClaimLock is appended to the subquery that picks events to claim, so
	// concurrent claimers never pick the same event: "FOR UPDATE OF e SKIP
	// LOCKED" on PostgreSQL. It is empty on SQLite, where a write statement
	// already excludes other writers.
	ClaimLock string
	// IsUniqueViolation reports whether err is the driver's unique-key
	// violation.
	IsUniqueViolation func(err error) bool
	// Lock and Unlock, if set, take and release a lock shared by every
	// replica, given its key as $1, on one connection held meanwhile:
	// PostgreSQL's pg_advisory_lock and pg_advisory_unlock. Without them
	// (SQLite, one replica) a lock inside the Store stands in.
	Lock, Unlock string
	// Notify, if set, tells the other processes sharing the database that
	// work may have come forward, so they look at once instead of at their
	// next planned wake: a PostgreSQL pg_notify, which pgstore's Listener
	// hears. The Store runs it in each transaction that writes requests or
	// events (Create, Update, Append), and with each write that releases
	// or finishes a claimed event (Delivered, Retry, Defer, ReleaseLeases:
	// the next event of a request becomes claimable), so the notification
	// goes out when the write commits, and not at all if it rolls back.
	// Empty on SQLite, where one process owns the database.
	Notify string
}

// templates are the {{Name}} placeholders migrations may use and what d
// replaces them with. Adding a field that migrations need means adding it
// here, documenting it on the field, and setting it in every dialect.
func (d Dialect) templates() map[string]string {
	return map[string]string{
		"AutoID": d.AutoID,
	}
}

// render replaces the {{Name}} placeholders in q. loadMigrations has
// checked that q names only known ones.
func (d Dialect) render(q string) string {
	for name, v := range d.templates() {
		q = strings.ReplaceAll(q, "{{"+name+"}}", v)
	}
	return q
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
