package pgstore_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval/pgstore"
	"github.com/share-bucket/share-bucket/internal/approval/pgstore/pgtest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore/sqlstoretest"
)

func TestMigrations(t *testing.T) {
	pgtest.AdminDSN(t) // skip (or fail under CI) once, not in every subtest
	sqlstoretest.TestMigrations(t, sqlstoretest.Engine{
		AutoID: pgstore.Dialect.AutoID,
		New: func(t *testing.T) (*sql.DB, func() (*sqlstore.Store, error)) {
			dsn := NewSchema(t)
			return openPlain(t, dsn), func() (*sqlstore.Store, error) { return pgstore.Open(t.Context(), dsn) }
		},
		Schema: schema,
	})
}

// openPlain connects to dsn without the store.
func openPlain(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schema lists the columns (type, default, nullability, identity), the
// indexes with their definitions, the constraints and the sequences of
// the current schema. Each test has a schema of its own, whose name
// pg_indexes writes into every index definition; it is replaced by
// "SCHEMA", the only normalisation.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var name string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range []struct{ what, query string }{
		{"column", `SELECT table_name, column_name, ordinal_position, data_type, COALESCE(column_default, 'no default'),
				is_nullable, is_identity, COALESCE(identity_generation, ''), COALESCE(character_maximum_length, 0)
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`},
		{"index", `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname`},
		{"constraint", `SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY conrelid::regclass::text, conname`},
		{"sequence", `SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment, cycle_option
			FROM information_schema.sequences WHERE sequence_schema = current_schema() ORDER BY sequence_name`},
		{"table", `SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`},
	} {
		rows, err := db.QueryContext(t.Context(), q.query)
		if err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
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
			out = append(out, q.what+" "+strings.ReplaceAll(fmt.Sprint(vals), name+".", "SCHEMA."))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func TestDenyList(t *testing.T) {
	dsns := map[string]string{}
	sqlstoretest.TestDenyList(t, func(t *testing.T, name string) *sqlstore.Store {
		dsn, ok := dsns[name]
		if !ok {
			dsn = NewSchema(t)
			dsns[name] = dsn
		}
		s, err := pgstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
