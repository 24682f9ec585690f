package sqlitestore_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/testenv"
)

// fill creates n approved grants ending a second apart from T0+2h, each
// with an audit-only event, through Create.
func fill(tb testing.TB, s *sqlstore.Store, n int) {
	tb.Helper()
	ctx := context.Background() // no cancellation to watch: a little faster
	for i := range n {
		r, ev := approvaltest.Approved(fmt.Sprintf("G%09d", i), "UREQ")
		r.EndsAt = r.EndsAt.Add(time.Duration(i) * time.Second)
		r.WarnAt = r.EndsAt.Add(-10 * time.Minute)
		if err := s.Create(ctx, r, []approval.Event{ev}); err != nil {
			tb.Fatalf("Create %d: %v", i, err)
		}
	}
}

// TestManyGrants stores 100,000 active grants with Create (under 10s; fewer
// with -short or -race) and checks that Due and Wake stay index lookups.
func TestManyGrants(t *testing.T) {
	n := 100_000
	switch {
	case testenv.Race:
		n = 2_000
	case testing.Short():
		n = 10_000
	}
	s := MustOpen(t, sqlitestore.Memory)
	start := time.Now()
	fill(t, s, n)
	t.Logf("%d Creates in %v", n, time.Since(start))

	start = time.Now()
	at, ok, err := s.Wake(t.Context())
	if want := approvaltest.T0.Add(110 * time.Minute); err != nil || !ok || !at.Equal(want) {
		t.Errorf("Wake = %v, %t, %v; want %v", at, ok, err, want)
	}
	ids, err := s.Due(t.Context(), approvaltest.T0.Add(110*time.Minute+2*time.Second), 100)
	if err != nil || len(ids) != 3 || ids[0] != "G000000000" {
		t.Errorf("Due = %v, %v; want the first 3 grants", ids, err)
	}
	t.Logf("Wake and Due in %v", time.Since(start))

	// The statements Due and Wake run (sqlstore/statements.go).
	for _, q := range []string{
		`SELECT id FROM requests WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due, id LIMIT $2`,
		`SELECT next_due FROM requests WHERE next_due IS NOT NULL ORDER BY next_due, id LIMIT 1`,
	} {
		plan := queryPlan(t, s, q, approvaltest.T0.UnixMilli(), 10)
		if !strings.Contains(plan, "requests_next_due") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan of %s:\n%s\nwant a walk of index requests_next_due", q, plan)
		}
	}
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// queryPlan returns SQLite's plan for q, binding as many of args as q has
// placeholders.
func queryPlan(tb testing.TB, s *sqlstore.Store, q string, args ...any) string {
	tb.Helper()
	n := 0
	for _, m := range placeholder.FindAllStringSubmatch(q, -1) {
		k, _ := strconv.Atoi(m[1])
		n = max(n, k)
	}
	rows, err := s.DB().QueryContext(tb.Context(), "EXPLAIN QUERY PLAN "+q, args[:n]...)
	if err != nil {
		tb.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatalf("explain: %v", err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}
