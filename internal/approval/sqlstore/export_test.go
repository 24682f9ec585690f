package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
)

// UpdateAttempts is how many times Update tries before ErrConflict.
const UpdateAttempts = updateAttempts

// SplitStatements splits a migration file into statements.
var SplitStatements = splitStatements

// LoadMigrations loads the migrations in fsys and returns their names
// (0001_baseline) in order.
func LoadMigrations(fsys fs.FS) ([]string, error) {
	ms, err := loadMigrations(fsys)
	var names []string
	for _, m := range ms {
		names = append(names, m.String()[len("migration "):])
	}
	return names, err
}

// EmbeddedStatements returns the statements of the embedded migrations,
// rendered for d, by migration.
func EmbeddedStatements(d Dialect) (map[string][]string, error) {
	ms, err := embeddedMigrations()
	out := map[string][]string{}
	for _, m := range ms {
		for _, q := range m.stmts {
			out[m.String()] = append(out[m.String()], d.render(q))
		}
	}
	return out, err
}

// Migrate applies the migrations in fsys to db, as New applies the
// embedded ones.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	return migrate(ctx, db, d, ms)
}

// RequestColumns returns the names of requestColumns, and the statements
// built from them.
func RequestColumns() (names []string, insert, update, sel string) {
	for _, c := range requestColumns {
		names = append(names, c.name)
	}
	return names, insertRequest, updateRequest, selectRequests
}
