package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

func mustOpen(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(sqlitestore.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestPlaceholders checks what the shared statements rely on: SQLite binds
// $N by number, so a placeholder may repeat and come out of order.
func TestPlaceholders(t *testing.T) {
	s := mustOpen(t)
	var got string
	if err := s.DB().QueryRowContext(t.Context(), "SELECT $2 || $1 || $2 || $3", "a", "b", "c").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "babc"; got != want {
		t.Errorf("$2 || $1 || $2 || $3 with a, b, c = %q; want %q", got, want)
	}
}

// TestUpdateConflict has another writer change the request between every
// read and write of an Update, which gives up with ErrConflict.
func TestUpdateConflict(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t)
	r, ev := approvaltest.Pending(approvaltest.ID("conflict"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	bump := func(r *approval.Request) ([]approval.Event, error) {
		return []approval.Event{{RequestID: r.ID, At: approvaltest.T0, Kind: approval.EventApprovalRecorded}}, nil
	}
	calls := 0
	_, _, err := s.Update(ctx, r.ID, func(r *approval.Request) ([]approval.Event, error) {
		calls++
		// Modify functions must not do I/O; this one plays the other writer.
		if _, _, err := s.Update(ctx, r.ID, bump); err != nil {
			t.Fatalf("inner Update: %v", err)
		}
		r.Reason = "never written"
		return []approval.Event{{RequestID: r.ID, At: approvaltest.T0, Kind: approval.EventDenied}}, nil
	})
	if !errors.Is(err, approval.ErrConflict) {
		t.Fatalf("Update = %v; want ErrConflict", err)
	}
	if calls != sqlstore.UpdateAttempts {
		t.Errorf("modify function called %d times; want %d", calls, sqlstore.UpdateAttempts)
	}
	got := approvaltest.MustGet(t, s, r.ID)
	if got.Reason != r.Reason || got.Version != int64(calls) {
		t.Errorf("stored reason %q, version %d; want %q, %d", got.Reason, got.Version, r.Reason, calls)
	}
	for _, e := range approvaltest.MustAudit(t, s, approval.AuditFilter{}) {
		if e.Kind == approval.EventDenied {
			t.Errorf("event %d %s written by the Update that lost", e.Seq, e.Kind)
		}
	}
}

func TestUpdateChangedID(t *testing.T) {
	s := mustOpen(t)
	r, ev := approvaltest.Pending(approvaltest.ID("changed-id"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	_, _, err := s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
		r.ID = approvaltest.ID("other")
		return []approval.Event{{At: approvaltest.T0, Kind: approval.EventDenied}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "changed the ID") {
		t.Errorf("Update changing the ID = %v; want an error", err)
	}
}

func TestEventForAnotherRequest(t *testing.T) {
	s := mustOpen(t)
	r, ev := approvaltest.Pending(approvaltest.ID("mismatch"), "UREQ")
	ev.RequestID = approvaltest.ID("someone-else")
	if err := s.Create(t.Context(), r, []approval.Event{ev}); err == nil {
		t.Error("Create with an event for another request succeeded; want an error")
	}
	if _, err := s.Get(t.Context(), r.ID); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("Get after the failed Create = %v; want ErrNotFound", err)
	}
}

func TestNewIncompleteDialect(t *testing.T) {
	_, err := sqlstore.New(t.Context(), &sql.DB{}, sqlstore.Dialect{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "AutoID, IsUniqueViolation") {
		t.Errorf("New with an incomplete dialect = %v; want an error naming the missing fields", err)
	}
}

func TestCount(t *testing.T) {
	s := mustOpen(t)
	ctx := context.Background()
	for i, mk := range []func(string, string) (*approval.Request, approval.Event){approvaltest.Pending, approvaltest.Approved, approvaltest.Approved} {
		r, ev := mk(approvaltest.ID(fmt.Sprint("count", i)), "UREQ")
		approvaltest.MustCreate(t, s, r, ev)
	}
	for state, want := range map[approval.State]int{approval.StatePending: 1, approval.StateApproved: 2, approval.StateDenied: 0} {
		if got, err := s.Count(ctx, state); err != nil || got != want {
			t.Errorf("Count(%s) = %d, %v; want %d", state, got, err, want)
		}
	}
}

// TestRequestColumns checks that requestColumns names every column of
// requests as the migrations leave it, in table order, so a migration that
// adds a column without an entry (or an entry without its migration) fails
// here rather than storing nothing, and that the statements bind them all.
func TestRequestColumns(t *testing.T) {
	s := mustOpen(t)
	rows, err := s.DB().QueryContext(t.Context(), "SELECT name FROM pragma_table_info('requests') ORDER BY cid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var table []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		table = append(table, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	names, insert, update, sel := sqlstore.RequestColumns()
	if !slices.Equal(names, table) {
		t.Errorf("requestColumns = %v; want the columns of requests, %v", names, table)
	}
	n := len(names)
	for _, tt := range []struct {
		what, q, want string
	}{
		{"insert", insert, fmt.Sprintf("$%d)", n)},
		{"update", update, fmt.Sprintf("WHERE id = $1 AND version = $%d", n+1)},
		{"select", sel, "SELECT id, "},
	} {
		if !strings.Contains(tt.q, tt.want) {
			t.Errorf("%s statement %q lacks %q", tt.what, tt.q, tt.want)
		}
	}
	for _, c := range names {
		if !strings.Contains(insert, c) || (c != "id" && !strings.Contains(update, c+" = $")) {
			t.Errorf("column %s missing from the insert or update statement", c)
		}
	}
}
