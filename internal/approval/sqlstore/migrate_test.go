package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval/pgstore/pgtest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
		err        string
	}{
		{
			name: "two statements with comments",
			text: "-- a comment; not a statement\nCREATE TABLE a (\n\tx INTEGER -- why x\n);\n\n-- another\nCREATE INDEX a_x ON a (x);\n",
			want: []string{"CREATE TABLE a (\n\tx INTEGER -- why x\n)", "CREATE INDEX a_x ON a (x)"},
		},
		{
			name: "semicolon inside a line",
			text: "INSERT INTO a VALUES ('x;y');\nINSERT INTO a VALUES (';'\n);",
			want: []string{"INSERT INTO a VALUES ('x;y')", "INSERT INTO a VALUES (';'\n)"},
		},
		{
			name: "trailing spaces and CRLF",
			text: "DROP TABLE a; \r\nDROP TABLE b;\t\r\n",
			want: []string{"DROP TABLE a", "DROP TABLE b"},
		},
		{name: "last statement unterminated", text: "DROP TABLE a;\n\nDROP TABLE b\n", err: "line 3: statement does not end with a semicolon"},
		{name: "semicolon not at the end of the line", text: "DROP TABLE a; -- gone\n", err: "line 1: statement does not end"},
		{name: "empty statement", text: "DROP TABLE a;\n  ;\n", err: "line 2: empty statement"},
		{name: "only comments", text: "-- nothing yet\n", err: "no statements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqlstore.SplitStatements(tt.text)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("SplitStatements = %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("SplitStatements = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// files returns a migrations directory holding the given files.
func files(nameText ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i < len(nameText); i += 2 {
		fsys[nameText[i]] = &fstest.MapFile{Data: []byte(nameText[i+1])}
	}
	return fsys
}

func TestLoadMigrations(t *testing.T) {
	const ok = "CREATE TABLE a (x INTEGER);"
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string
		err  string
	}{
		{name: "in order", fsys: files("0002_b.sql", ok, "0001_a.sql", ok, "0003_c_d.sql", "CREATE TABLE t (id {{AutoID}});"),
			want: []string{"0001_a", "0002_b", "0003_c_d"}},
		{name: "none", fsys: files(), err: "no migrations"},
		{name: "gap", fsys: files("0001_a.sql", ok, "0003_c.sql", ok), err: "0003_c.sql: version 3; want 2"},
		{name: "not from 1", fsys: files("0002_b.sql", ok), err: "version 2; want 1"},
		{name: "duplicate", fsys: files("0001_a.sql", ok, "0001_b.sql", ok), err: "0001_b.sql: version 1; want 2"},
		{name: "bad name", fsys: files("0001_a.sql", ok, "0002-b.sql", ok), err: "0002-b.sql: want a file named like 0001_name.sql"},
		{name: "not sql", fsys: files("0001_a.sql", ok, "README", "x"), err: "README: want a file named"},
		{name: "short version", fsys: files("1_a.sql", ok), err: "1_a.sql: want a file named"},
		{name: "directory", fsys: files("0001_a.sql/x", ok), err: "0001_a.sql: want a file named"},
		{name: "unknown placeholder", fsys: files("0001_a.sql", "CREATE TABLE a (x {{Json}});"), err: "0001_a.sql: unknown placeholder {{Json}}"},
		{name: "unterminated", fsys: files("0001_a.sql", "CREATE TABLE a (x INTEGER)"), err: "0001_a.sql: line 1: statement does not end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqlstore.LoadMigrations(tt.fsys)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("LoadMigrations = %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("LoadMigrations = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The dialects of sqlitestore and pgstore, for migrating plain databases.
var (
	sqliteDialect = sqlstore.Dialect{
		Name: "sqlite", AutoID: "INTEGER PRIMARY KEY", IsUniqueViolation: func(error) bool { return false },
	}
	pgDialect = sqlstore.Dialect{
		Name: "postgres", AutoID: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		// A key of its own, so these tests do not wait for pgstore's.
		SchemaLock: "SELECT pg_advisory_xact_lock(7368617265)", IsUniqueViolation: func(error) bool { return false },
	}
)

// TestEmbeddedMigrations checks the migrations New applies: they load, the
// first is the stage-one baseline, and every placeholder is replaced.
func TestEmbeddedMigrations(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqliteDialect, pgDialect} {
		stmts, err := sqlstore.EmbeddedStatements(d)
		if err != nil {
			t.Fatalf("embedded migrations: %v", err)
		}
		if len(stmts["migration 0001_baseline"]) == 0 {
			t.Errorf("embedded migrations %v lack 0001_baseline", slices.Sorted(maps.Keys(stmts)))
		}
		for m, qs := range stmts {
			for _, q := range qs {
				if strings.Contains(q, "{{") || strings.Contains(q, "}}") {
					t.Errorf("%s for %s: placeholder left in %q", m, d.Name, q)
				}
			}
		}
	}
}

// openSQLite opens a plain SQLite file in dir as sqlitestore does: one
// connection, transactions that begin IMMEDIATE.
func openSQLite(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

type applied struct {
	version   int
	name      string
	appliedAt int64
}

func appliedMigrations(tb testing.TB, db *sql.DB) []applied {
	tb.Helper()
	rows, err := db.QueryContext(tb.Context(), "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		tb.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name, &a.appliedAt); err != nil {
			tb.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func versions(as []applied) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%d_%s ", a.version, a.name)
	}
	return strings.TrimSpace(b.String())
}

func tableExists(tb testing.TB, db *sql.DB, name string) bool {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(tb.Context(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1", name).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n == 1
}

// TestMigrate applies migrations in steps: each is applied once, in
// order, and recorded with its name and time.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	set := files(
		"0001_create.sql", "CREATE TABLE a (\n\tid {{AutoID}},\n\tx TEXT NOT NULL\n);\nINSERT INTO a (x) VALUES ('one');\n",
		"0002_add_column.sql", "ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 7;\n",
	)
	before := time.Now().UnixMilli()
	if err := sqlstore.Migrate(ctx, db, sqliteDialect, set); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	first := appliedMigrations(t, db)
	if got, want := versions(first), "1_create 2_add_column"; got != want {
		t.Errorf("applied %q; want %q", got, want)
	}
	for _, a := range first {
		if now := time.Now().UnixMilli(); a.appliedAt < before || a.appliedAt > now {
			t.Errorf("version %d applied at %d; want within [%d, %d]", a.version, a.appliedAt, before, now)
		}
	}

	// Again, and with one more: only the new one runs (a second run of
	// 0001 would insert a second row, or fail on CREATE TABLE).
	if err := sqlstore.Migrate(ctx, db, sqliteDialect, set); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	set["0003_more.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO a (x, y) VALUES ('two', 2);")}
	if err := sqlstore.Migrate(ctx, db, sqliteDialect, set); err != nil {
		t.Fatalf("Migrate with 0003: %v", err)
	}
	got := appliedMigrations(t, db)
	if v := versions(got); v != "1_create 2_add_column 3_more" {
		t.Errorf("applied %q; want 1 to 3", v)
	}
	if !slices.Equal(got[:2], first) {
		t.Errorf("records of 1 and 2 changed from %v to %v", first, got[:2])
	}
	var rows string
	if err := db.QueryRowContext(ctx, "SELECT group_concat(id || x || y, ',') FROM a").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := "1one7,2two2"; rows != want {
		t.Errorf("table a holds %q; want %q", rows, want)
	}
}

// TestMigrateFailure checks that a migration that fails is rolled back
// whole, its earlier statements too, and not recorded, while the ones
// before it stay applied.
func TestMigrateFailure(t *testing.T) {
	ctx := t.Context()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	set := files(
		"0001_ok.sql", "CREATE TABLE a (x INTEGER);",
		"0002_bad.sql", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);",
	)
	err := sqlstore.Migrate(ctx, db, sqliteDialect, set)
	if err == nil || !strings.Contains(err.Error(), "migration 0002_bad, statement 2 (INSERT INTO nowhere VALUES (1))") {
		t.Fatalf("Migrate = %v; want an error naming migration 0002_bad, statement 2", err)
	}
	if got := versions(appliedMigrations(t, db)); got != "1_ok" {
		t.Errorf("applied %q; want only 1_ok", got)
	}
	if !tableExists(t, db, "a") || tableExists(t, db, "b") {
		t.Errorf("tables a, b exist: %t, %t; want a only", tableExists(t, db, "a"), tableExists(t, db, "b"))
	}

	set["0002_bad.sql"].Data = []byte("CREATE TABLE b (x INTEGER);")
	if err := sqlstore.Migrate(ctx, db, sqliteDialect, set); err != nil {
		t.Fatalf("Migrate with 0002 fixed: %v", err)
	}
	if got := versions(appliedMigrations(t, db)); got != "1_ok 2_bad" || !tableExists(t, db, "b") {
		t.Errorf("applied %q, table b exists %t; want 1 and 2 applied", got, tableExists(t, db, "b"))
	}
}

// TestMigrateRefuses checks the databases that Migrate leaves alone: one
// a newer build migrated further, one whose record of a version names
// another migration, one with a version missing.
func TestMigrateRefuses(t *testing.T) {
	ctx := t.Context()
	one := files("0001_a.sql", "CREATE TABLE a (x INTEGER);")
	three := files("0001_a.sql", "CREATE TABLE a (x INTEGER);", "0002_b.sql", "CREATE TABLE b (x INTEGER);", "0003_c.sql", "CREATE TABLE c (x INTEGER);")
	tests := []struct {
		name  string
		setup string // run after migrating to three
		set   fstest.MapFS
		err   string
	}{
		{name: "newer", set: one,
			err: "the database schema is version 3, written by a newer share-bucket; this binary knows versions up to 1: " +
				"run the newer share-bucket, or restore a backup taken before it ran"},
		{name: "other build", setup: "UPDATE schema_migrations SET name = 'other' WHERE version = 2",
			set: three, err: `schema_migrations records version 2 as "other", but this binary's is migration 0002_b`},
		{name: "gap", setup: "DELETE FROM schema_migrations WHERE version = 2",
			set: three, err: "schema_migrations lacks version 2 but has 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
			if err := sqlstore.Migrate(ctx, db, sqliteDialect, three); err != nil {
				t.Fatal(err)
			}
			if tt.setup != "" {
				if _, err := db.ExecContext(ctx, tt.setup); err != nil {
					t.Fatal(err)
				}
			}
			before := appliedMigrations(t, db)
			err := sqlstore.Migrate(ctx, db, sqliteDialect, tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Migrate = %v; want %q", err, tt.err)
			}
			var newer *sqlstore.NewerSchemaError
			if got, want := errors.As(err, &newer), tt.name == "newer"; got != want {
				t.Errorf("errors.As(%v, *NewerSchemaError) = %t; want %t", err, got, want)
			} else if got && (newer.Version != 3 || newer.Known != 1) {
				t.Errorf("NewerSchemaError = %+v; want Version 3, Known 1", *newer)
			}
			if after := appliedMigrations(t, db); !slices.Equal(after, before) {
				t.Errorf("schema_migrations changed from %v to %v", before, after)
			}
		})
	}
}

// concurrentSet is three migrations that fail or leave extra rows if any
// is applied twice. pause, if given, is a statement that makes the first
// one slow, so that the others start while it runs.
func concurrentSet(pause string) fstest.MapFS {
	first := "CREATE TABLE counter (n INTEGER PRIMARY KEY);\nINSERT INTO counter VALUES (1);\n"
	if pause != "" {
		first += pause + ";\n"
	}
	return files(
		"0001_counter.sql", first,
		"0002_two.sql", "INSERT INTO counter VALUES (2);",
		"0003_three.sql", "INSERT INTO counter VALUES (3);",
	)
}

// migrateConcurrently runs Migrate on n handles at once and returns
// their errors.
func migrateConcurrently(t *testing.T, dbs []*sql.DB, d sqlstore.Dialect, set fstest.MapFS) []error {
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = sqlstore.Migrate(t.Context(), db, d, set) })
	}
	wg.Wait()
	return errs
}

func checkCounter(t *testing.T, db *sql.DB) {
	t.Helper()
	var got string
	if err := db.QueryRowContext(t.Context(), "SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(SUM(n) AS TEXT) FROM counter").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "3:6"; got != want {
		t.Errorf("counter rows:sum = %s; want %s (each migration once)", got, want)
	}
	if got, want := versions(appliedMigrations(t, db)), "1_counter 2_two 3_three"; got != want {
		t.Errorf("applied %q; want %q", got, want)
	}
}

// TestMigrateConcurrentSQLite has four processes' worth of handles migrate
// one file at once: BEGIN IMMEDIATE makes them take turns.
func TestMigrateConcurrentSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	var dbs []*sql.DB
	for range 4 {
		dbs = append(dbs, openSQLite(t, path))
	}
	for i, err := range migrateConcurrently(t, dbs, sqliteDialect, concurrentSet("")) {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	checkCounter(t, dbs[0])
}

// TestMigrateConcurrentPostgres has replicas migrate one schema at once.
// With the schema lock each migration is applied once. Without it (the
// control) they collide, which shows the test would catch a lock that
// did not work.
func TestMigrateConcurrentPostgres(t *testing.T) {
	const replicas = 8
	pgtest.AdminDSN(t)
	// open returns handles on a new schema, with the run-time parameter
	// setting, if given (key=value).
	open := func(t *testing.T, setting string) []*sql.DB {
		dsn := pgtest.NewSchema(t)
		switch {
		case setting == "":
		case strings.Contains(dsn, "://"):
			dsn += "&" + setting
		default:
			dsn += " " + setting
		}
		var dbs []*sql.DB
		for range replicas {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs = append(dbs, db)
		}
		return dbs
	}
	set := concurrentSet("SELECT pg_sleep(0.2)")

	t.Run("Locked", func(t *testing.T) {
		dbs := open(t, "")
		for i, err := range migrateConcurrently(t, dbs, pgDialect, set) {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		checkCounter(t, dbs[0])
	})
	// Statements after the lock must see what the replica before committed,
	// whatever isolation the server defaults to.
	t.Run("LockedSerializableDefault", func(t *testing.T) {
		dbs := open(t, "default_transaction_isolation=serializable")
		for i, err := range migrateConcurrently(t, dbs, pgDialect, set) {
			if err != nil {
				t.Errorf("Migrate %d: %v", i, err)
			}
		}
		checkCounter(t, dbs[0])
	})
	t.Run("UnlockedControl", func(t *testing.T) {
		unlocked := pgDialect
		unlocked.SchemaLock = ""
		failed := 0
		for _, err := range migrateConcurrently(t, open(t, ""), unlocked, set) {
			if err != nil {
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("%d replicas migrated at once without the lock and none failed; want collisions", replicas)
		}
	})
}
