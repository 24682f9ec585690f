package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/share-bucket/share-bucket/internal/approval/pgstore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// storeKind splits DATABASE_URL into the driver and its address.
func storeKind(databaseURL string) (kind, addr string, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		addr = strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
		if addr == "" {
			return "", "", fmt.Errorf("DATABASE_URL: %q names no file; write sqlite:share-bucket.db", databaseURL)
		}
		return "sqlite", addr, nil
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return "postgres", databaseURL, nil
	}
	return "", "", fmt.Errorf("DATABASE_URL: must start with sqlite: or postgres:// (got a value starting %q)", prefixOf(databaseURL))
}

// prefixOf shows the scheme of a URL without any password that follows.
func prefixOf(s string) string {
	if i := strings.Index(s, ":"); i >= 0 && i < 20 {
		return s[:i+1]
	}
	if len(s) > 10 {
		return s[:10] + "…"
	}
	return s
}

// openStore opens the store DATABASE_URL names. Errors name the variable
// but never repeat a PostgreSQL URL, which may hold a password.
func openStore(ctx context.Context, databaseURL string) (*sqlstore.Store, error) {
	kind, addr, err := storeKind(databaseURL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "sqlite":
		s, err := sqlitestore.Open(addr)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: cannot open SQLite file %s: %w", addr, err)
		}
		return s, nil
	default:
		s, err := pgstore.Open(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: cannot open PostgreSQL: %w", err)
		}
		return s, nil
	}
}

// takeOver prepares the store for the bot that runs on it. A SQLite file
// serves one process, so any event lease in it was left by a bot that
// died while delivering: releasing them delivers those events at once
// instead of when the lease runs out. PostgreSQL leases may belong to a
// live replica and run out on their own.
func takeOver(ctx context.Context, store *sqlstore.Store, databaseURL string) error {
	if kind, _, _ := storeKind(databaseURL); kind != "sqlite" {
		return nil
	}
	if _, err := store.ReleaseLeases(ctx); err != nil {
		return fmt.Errorf("DATABASE_URL: release the leases of the last run: %w", err)
	}
	return nil
}

// storeListener returns a listener for the other replicas' writes when
// DATABASE_URL names PostgreSQL, or nil: a SQLite store serves one
// process, whose own writes wake its worker.
func storeListener(databaseURL string) (*pgstore.Listener, error) {
	kind, addr, err := storeKind(databaseURL)
	if err != nil || kind != "postgres" {
		return nil, err
	}
	l, err := pgstore.NewListener(addr)
	if err != nil {
		// Not err: it could repeat the URL, password and all.
		return nil, errors.New("DATABASE_URL: cannot parse the PostgreSQL URL")
	}
	return l, nil
}
