// Package sqlitestore opens an approval store in an embedded SQLite
// database (modernc.org/sqlite, pure Go). SQLite allows one writer at a
// time, so a store serves one replica; use pgstore for several.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// dialect is what SQLite needs beyond the shared statements. It needs no
// locking clauses: the pool has one connection and every transaction
// begins IMMEDIATE, so writers take turns. Keys are plain rowids rather
// than AUTOINCREMENT, which would cost a write per insert: no row is ever
// deleted, so a new rowid is always the largest yet.
var dialect = sqlstore.Dialect{
	Name:              "sqlite",
	AutoID:            "INTEGER PRIMARY KEY",
	IsUniqueViolation: isUniqueViolation,
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// busyTimeout is how long a statement waits for another process's write
// lock, in milliseconds. Within the process writers queue for the single
// connection instead.
const busyTimeout = 5000

// Memory is the path of a private in-memory database, gone on Close.
const Memory = ":memory:"

// Open opens the store in the SQLite file at path, creating the file (mode
// 0600) if it does not exist and migrating its schema. The directory must exist. With
// path Memory (":memory:") the store lives in memory.
//
// The database runs in WAL mode with synchronous=NORMAL: a commit survives
// a crash of the process, though the last commits can be lost if the
// machine loses power. Foreign keys are enforced, and a write waits up to
// 5s for another process's lock. The pool has a single connection, which
// serialises writers as SQLite requires.
//
// A SQLite store serves a single replica: the bot that runs on it calls
// ReleaseLeases at start, since any lease it finds was left by a process
// that died while delivering. Open itself leaves leases alone, so a
// command that reads the file beside a running bot (audit, check) takes
// nothing from it.
//
// Open returns an error naming path if the file cannot be created or
// opened, or is not a SQLite database. For a database that a newer
// share-bucket migrated, the error wraps a *sqlstore.NewerSchemaError and
// nothing is written.
func Open(path string) (*sqlstore.Store, error) {
	ctx := context.Background()
	dsn, err := dataSource(path)
	if err != nil {
		return nil, err
	}
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	// One connection: SQLite has one writer anyway, and an in-memory
	// database is private to its connection, so it must never be closed
	// while the store is open.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s, err := open(ctx, db, path)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, db *sql.DB, path string) (*sqlstore.Store, error) {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, err
	}
	if path != Memory && mode != "wal" {
		return nil, fmt.Errorf("journal mode is %s; want wal", mode)
	}
	return sqlstore.New(ctx, db, dialect)
}

// dataSource creates the file at path if needed, so that it gets mode 0600
// (SQLite gives its -wal and -shm files the same mode), and returns the
// driver's URI for it.
func dataSource(path string) (string, error) {
	params := fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_txlock=immediate", busyTimeout)
	if path == Memory {
		return "file::memory:" + params, nil
	}
	if path == "" {
		return "", errors.New("sqlitestore: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("sqlitestore: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("sqlitestore: %w", err)
	}
	u := url.URL{Path: abs}
	return "file:" + u.EscapedPath() + params, nil
}
