// Package pgtest gives tests a PostgreSQL schema of their own on the
// local test server.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for the admin connection
)

// DefaultDSN is the local test server.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// AdminDSN returns the test server's DSN. The tests skip when the server
// cannot be reached, unless CI is "true": there a missing server fails.
func AdminDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("APPROVAL_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = DefaultDSN
	}
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		_ = db.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL at APPROVAL_TEST_POSTGRES_DSN (or %s) is required under CI: %v", DefaultDSN, err)
		}
		tb.Skipf("skipping: PostgreSQL not reachable (set APPROVAL_TEST_POSTGRES_DSN; default %s): %v", DefaultDSN, err)
	}
	return dsn
}

var schemas atomic.Int64

// NewSchema creates a schema of its own for the test, dropped when the test
// ends, and returns a DSN whose search_path is that schema.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	dsn := AdminDSN(tb)
	name := fmt.Sprintf("approvaltest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, schemas.Add(1))
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("open admin connection: %v", err)
	}
	if _, err := db.ExecContext(tb.Context(), "CREATE SCHEMA "+name); err != nil {
		_ = db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withSearchPath(tb, dsn, name)
}

func withSearchPath(tb testing.TB, dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
