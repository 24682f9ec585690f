package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore/sqlstoretest"
)

func TestMigrations(t *testing.T) {
	sqlstoretest.TestMigrations(t, sqlstoretest.Engine{
		AutoID: sqlitestore.Dialect.AutoID,
		New: func(t *testing.T) (*sql.DB, func() (*sqlstore.Store, error)) {
			path := filepath.Join(t.TempDir(), "approval.db")
			return openPlain(t, path), func() (*sqlstore.Store, error) { return sqlitestore.Open(path) }
		},
		Schema: schema,
		Writes: dataVersion,
	})
}

// openPlain opens the SQLite file at path without the store, as stage
// one's store would have: WAL mode, foreign keys on. It keeps a single
// connection, so that dataVersion always asks the same one.
func openPlain(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	t.Cleanup(func() { db.Close() })
	return db
}

// schema lists the entries of sqlite_master and the columns of every
// table. SQLite keeps the text of each CREATE statement as it was written
// (less IF NOT EXISTS), and stage one's statements were indented
// differently from the migration's, so runs of white space are collapsed
// to one space. Root pages are left out: they number the b-trees in the
// order they were created, which is not part of the schema.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	query(t, db, `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`, func(v []string) {
		out = append(out, fmt.Sprintf("%s %s on %s: %s", v[0], v[1], v[2], strings.Join(strings.Fields(v[3]), " ")))
	})
	query(t, db, `SELECT m.name, p.cid, p.name, p.type, p."notnull", COALESCE(p.dflt_value, 'no default'), p.pk
		FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid`, func(v []string) {
		out = append(out, fmt.Sprintf("column %s.%s #%s %s notnull=%s default=%s pk=%s", v[0], v[2], v[1], v[3], v[4], v[5], v[6]))
	})
	return out
}

// query runs q and passes each row, as text, to fn.
func query(t *testing.T, db *sql.DB, q string, fn func([]string)) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fn(vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// dataVersion is SQLite's PRAGMA data_version, which changes when another
// connection commits a change to the database.
func dataVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRowContext(t.Context(), "PRAGMA data_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDenyList runs the deny-list suite. A SQLite file serves one
// process, so "another replica" is another user of the same store.
func TestDenyList(t *testing.T) {
	dir := t.TempDir()
	stores := map[string]*sqlstore.Store{}
	sqlstoretest.TestDenyList(t, func(t *testing.T, name string) *sqlstore.Store {
		if s, ok := stores[name]; ok {
			return s
		}
		s, err := sqlitestore.Open(filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[name] = s
		return s
	})
}
