package sqlitestore_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
)

func TestOpenSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approval.db")
	s := MustOpen(t, path)
	r, ev := approvaltest.Pending(approvaltest.ID("settings"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev) // so the WAL exists

	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %v; want -rw-------", filepath.Base(name), got)
		}
	}
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	} {
		var got string
		if err := s.DB().QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Errorf("PRAGMA %s: %v", tt.pragma, err)
		} else if got != tt.want {
			t.Errorf("PRAGMA %s = %s; want %s", tt.pragma, got, tt.want)
		}
	}
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "store 1.db")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s := MustOpen(t, path)
	r, ev := approvaltest.Pending(approvaltest.ID("special"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the path given: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       string
	}{
		{"missing directory", filepath.Join(dir, "missing", "approval.db"), "no such file or directory"},
		{"directory", dir, "is a directory"},
		{"not a database", garbage, "not a database"},
		{"empty path", "", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlitestore.Open(tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.path)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "sqlitestore: ") || !strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.want) {
				t.Errorf("Open(%q) = %q; want a sqlitestore error naming the path and %q", tt.path, msg, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the missing directory: %v", err)
	}
}

// TestReopen checks that a file store keeps its data, that opening it
// takes no lease from a process that may still run, and that a restarted
// bot's ReleaseLeases frees those of the process before it.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approval.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, ev := approvaltest.Pending(approvaltest.ID("reopen"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	now := approvaltest.T0.Add(time.Minute)
	claimed, err := s.Claim(t.Context(), "old-process", now, time.Hour, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim = %v, %v; want one event", claimed, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpen(t, path)
	got := approvaltest.MustGet(t, s, r.ID)
	if diff := approvaltest.DiffRequest(got, r); diff != nil {
		t.Errorf("after reopening: %v", diff)
	}
	if evs, err := s.Claim(t.Context(), "reader", now, time.Hour, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Claim after a plain Open = %+v, %v; want nothing (the lease still held)", evs, err)
	}
	if n, err := s.ReleaseLeases(t.Context()); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v; want 1", n, err)
	}
	if at, ok, err := s.Wake(t.Context()); err != nil || !ok || !at.Equal(approvaltest.T0) {
		t.Errorf("Wake = %v, %t, %v; want T0 (the lease released)", at, ok, err)
	}
	evs, err := s.Claim(t.Context(), "new-process", now, time.Hour, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != claimed[0].Seq || evs[0].Attempts != 2 {
		t.Errorf("Claim after restart = %+v, %v; want event %d on its second attempt", evs, err, claimed[0].Seq)
	}
	if err := s.Delivered(t.Context(), claimed[0].Seq, "old-process", now); err == nil {
		t.Error("Delivered by the dead process succeeded; want an error")
	}
}

// TestForeignKeys checks that the schema's references are enforced.
func TestForeignKeys(t *testing.T) {
	s := MustOpen(t, sqlitestore.Memory)
	_, err := s.DB().ExecContext(t.Context(),
		`INSERT INTO events (request_id, at, kind, actor, detail, notify, next_attempt_at) VALUES ('NOPE', 0, 'x', '', 'null', false, 0)`)
	if err == nil {
		t.Error("inserted an event for a missing request; want a foreign key error")
	}
}
