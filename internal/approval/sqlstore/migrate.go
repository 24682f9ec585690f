package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// migrationFiles are the schema's migrations, applied in order of their
// version (see the package documentation for how to add one).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// embeddedMigrations loads migrationFiles once; a test checks that they
// load.
var embeddedMigrations = sync.OnceValues(func() ([]migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return loadMigrations(sub)
})

// A migration is one numbered step from the schema at version-1 to the
// schema at version.
type migration struct {
	version int
	name    string   // from the file name, recorded beside the version
	stmts   []string // with {{Name}} placeholders left in
}

func (m migration) String() string { return fmt.Sprintf("migration %04d_%s", m.version, m.name) }

// createMigrations creates the table that records the migrations applied.
// It is the one statement outside the migrations, run (under the schema
// lock) before they are read, so it stays idempotent and never changes:
// every version of share-bucket must be able to read the table.
const createMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// A NewerSchemaError is what New returns for a database whose schema a
// newer share-bucket migrated past the migrations this one knows. New
// writes nothing to such a database: this binary cannot know what the
// newer schema means.
type NewerSchemaError struct {
	Version int // the database's schema version
	Known   int // the newest version this binary knows
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database schema is version %d, written by a newer share-bucket; this binary knows versions up to %d: "+
		"run the newer share-bucket, or restore a backup taken before it ran", e.Version, e.Known)
}

// migrationName is the form of a migration's file name: four digits of
// version, an underscore, a name in lower case.
var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// template matches a {{Name}} placeholder, or anything else between
// braces that looks like one.
var template = regexp.MustCompile(`\{\{[^}]*\}\}`)

// loadMigrations reads the migrations in the top directory of fsys and
// returns them in version order. It checks that every file is named as
// migrationName says, that versions run 1, 2, 3… without a gap or a
// duplicate, that each file holds statements ended by semicolons, and that
// its placeholders are known.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	known := Dialect{}.templates()
	var ms []migration
	for _, e := range entries { // sorted by name, so by version
		match := migrationName.FindStringSubmatch(e.Name())
		if match == nil || e.IsDir() {
			return nil, fmt.Errorf("migration %s: want a file named like 0001_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(match[1])
		if want := len(ms) + 1; version != want {
			return nil, fmt.Errorf("migration %s: version %d; want %d (versions run from 1 without gaps or duplicates)", e.Name(), version, want)
		}
		text, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		stmts, err := splitStatements(string(text))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		for _, q := range stmts {
			for _, p := range template.FindAllString(q, -1) {
				if _, ok := known[strings.Trim(p, "{}")]; !ok {
					return nil, fmt.Errorf("migration %s: unknown placeholder %s", e.Name(), p)
				}
			}
		}
		ms = append(ms, migration{version: version, name: match[2], stmts: stmts})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}

// splitStatements splits a migration file into statements. A statement
// ends with a semicolon at the end of a line; lines that are only a
// comment (--) are dropped. A semicolon elsewhere, as in a string, does not
// end a statement, and nothing may follow the last one.
func splitStatements(text string) ([]string, error) {
	var (
		stmts []string
		cur   []string
		start int
	)
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if (trimmed == "" && len(cur) == 0) || strings.HasPrefix(trimmed, "--") {
			continue
		}
		if len(cur) == 0 {
			start = i + 1
		}
		cur = append(cur, strings.TrimRight(line, " \t\r"))
		if strings.HasSuffix(trimmed, ";") {
			q := strings.TrimSpace(strings.Join(cur, "\n"))
			if q = strings.TrimSpace(strings.TrimSuffix(q, ";")); q == "" {
				return nil, fmt.Errorf("line %d: empty statement", i+1)
			}
			stmts = append(stmts, q)
			cur = nil
		}
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("line %d: statement does not end with a semicolon at the end of a line", start)
	}
	if len(stmts) == 0 {
		return nil, errors.New("no statements")
	}
	return stmts, nil
}

// migrate brings the schema of db up to the last of ms, applying each
// migration it lacks in a transaction of its own, together with the row
// that records it. It returns a *NewerSchemaError, having written nothing,
// if db records a version beyond the last of ms.
func migrate(ctx context.Context, db *sql.DB, d Dialect, ms []migration) error {
	for {
		done, err := migrateStep(ctx, db, d, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the first migration db lacks, or reports that it
// lacks none.
//
// On PostgreSQL, replicas starting together serialise here: each takes the
// schema lock as the first statement of its transaction and holds it until
// commit, and only then reads which migrations are applied. At READ
// COMMITTED every statement sees what was committed before it began, so a
// replica that waited for the lock sees the migration the replica before
// it committed (or, if that one failed, not) and moves on to the next one.
// No two transactions therefore apply the same migration, and the primary
// key on version would refuse the second row if they did. READ COMMITTED
// is asked for explicitly: under a stricter default the transaction's
// snapshot would date from the lock statement, before the commit it waited
// for. On SQLite the transaction begins IMMEDIATE, taking the write lock
// before it reads, which serialises the same way.
func migrateStep(ctx context.Context, db *sql.DB, d Dialect, ms []migration) (done bool, err error) {
	var opts *sql.TxOptions
	if d.SchemaLock != "" {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || done {
			if rerr := tx.Rollback(); !errors.Is(rerr, sql.ErrTxDone) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if d.SchemaLock != "" {
		if _, err := tx.ExecContext(ctx, d.SchemaLock); err != nil {
			return false, fmt.Errorf("lock schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrations); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	version, err := appliedVersion(ctx, tx, ms)
	if err != nil {
		return false, err
	}
	if version == len(ms) {
		return true, nil
	}
	m := ms[version]
	for i, q := range m.stmts {
		if _, err := tx.ExecContext(ctx, d.render(q)); err != nil {
			return false, fmt.Errorf("%v, statement %d (%s): %w", m, i+1, firstLine(q), err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("%v: record: %w", m, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("%v: commit: %w", m, err)
	}
	return false, nil
}

// appliedVersion returns the schema version of the database: the number
// of migrations recorded, which must be the first ones of ms, by version
// and name. A version beyond ms is a *NewerSchemaError.
func appliedVersion(ctx context.Context, tx *sql.Tx, ms []migration) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var applied []migration
	for rows.Next() {
		var m migration
		if err := rows.Scan(&m.version, &m.name); err != nil {
			return 0, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied = append(applied, m)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	if n := len(applied); n > 0 && applied[n-1].version > len(ms) {
		return 0, &NewerSchemaError{Version: applied[n-1].version, Known: len(ms)}
	}
	for i, a := range applied {
		if a.version != i+1 {
			return 0, fmt.Errorf("schema_migrations lacks version %d but has %d: the database was changed by hand", i+1, a.version)
		}
		if a.name != ms[i].name {
			return 0, fmt.Errorf("schema_migrations records version %d as %q, but this binary's is %v: "+
				"the database was migrated by another build of share-bucket", a.version, a.name, ms[i])
		}
	}
	return len(applied), nil
}

func firstLine(q string) string {
	q, _, _ = strings.Cut(q, "\n")
	return strings.TrimSpace(strings.TrimSuffix(q, "("))
}
