// Package pgstore opens an approval store in PostgreSQL through pgx, for
// deployments with several replicas: they share the store, updates are
// compare-and-swap, and each event is claimed by one replica at a time
// (SELECT … FOR UPDATE SKIP LOCKED).
//
// Replicas wake each other: every write that may bring work forward (a
// new request, a decision, new events, a released or finished lease) sends
// a notification (pg_notify, on commit) on a channel named after the
// store's schema, and a Listener, on a connection of its own, hears those
// of every replica sharing the schema, so a due time written by one
// replica is seen by the others at once.
package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// schemaLockKey names the advisory lock each migration's transaction
// holds, so replicas starting together apply each migration once. It is
// one lock for the whole database, whatever the schema: replicas of
// different deployments sharing a database only wait for each other's
// migrations.
const schemaLockKey = 0x73686172652d62 // "share-b"

// dialect is what PostgreSQL needs beyond the shared statements.
var dialect = sqlstore.Dialect{
	Name:              "postgres",
	AutoID:            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
	SchemaLock:        fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", schemaLockKey),
	ClaimLock:         "FOR UPDATE OF e SKIP LOCKED",
	Lock:              "SELECT pg_advisory_lock($1)",
	Unlock:            "SELECT pg_advisory_unlock($1)",
	IsUniqueViolation: isUniqueViolation,
}

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" // unique_violation
}

// Pool limits: the bot's load is light, and several replicas must stay well
// inside the server's max_connections.
const (
	maxConns        = 5
	maxConnLifetime = 30 * time.Minute
)

// Open connects to the PostgreSQL database at dsn (a URL or key=value
// string as pgx accepts) and returns the store, creating or migrating its
// tables in the connection's current schema (the first of search_path).
// The pool holds at most 5 connections.
//
// Open returns an error if dsn does not parse, the server cannot be
// reached within ctx, or the schema cannot be migrated. For a schema that
// a newer share-bucket migrated, the error wraps a
// *sqlstore.NewerSchemaError and nothing is written.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(maxConnLifetime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgstore: current schema: %w", err)
	}
	d := dialect
	d.Notify = fmt.Sprintf("SELECT pg_notify('%s', '')", notifyChannel(schema))
	s, err := sqlstore.New(ctx, db, d)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return s, nil
}

// notifyChannel is the notification channel of the store in schema:
// replicas of one deployment share it, other deployments (schemas) in the
// same database do not. It is a hash, so any schema name makes a valid,
// short channel name that needs no quoting.
func notifyChannel(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return "share_bucket_" + hex.EncodeToString(h[:8])
}
