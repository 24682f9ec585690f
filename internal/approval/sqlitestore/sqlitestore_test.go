package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// MustOpen opens a store at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStoreFile(t *testing.T) {
	approvaltest.TestStore(t, func(t *testing.T) approval.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "approval.db"))
	})
}

func TestStoreMemory(t *testing.T) {
	approvaltest.TestStore(t, func(t *testing.T) approval.Store {
		return MustOpen(t, sqlitestore.Memory)
	})
}
