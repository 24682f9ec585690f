package pgstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
)

// TestManyGrants stores 100,000 active grants, in bulk (this is about the
// indexes, not about Create), and checks that Due and Wake are index
// lookups.
func TestManyGrants(t *testing.T) {
	s := MustOpen(t, NewSchema(t))
	ctx := t.Context()
	t0 := approvaltest.T0.UnixMilli()
	// Grant i ends at T0+2h+i seconds and was warned, so that is its NextDue.
	_, err := s.DB().ExecContext(ctx, `INSERT INTO requests (id, requester, bucket, prefix, access, duration_ns, reason,
			state, created_at, approvals, decided_by, decided_at, ends_at, warned, ended_by, failure, version, next_due)
		SELECT 'G' || lpad(i::text, 9, '0'), 'U' || (i % 500), 'collab-bucket', '', 'write', 7200000000000, 'bulk',
			'approved', $1::bigint, 'null', 'UAPP1', $1::bigint, $1::bigint + 7200000 + i * 1000, true, '', '', 1, $1::bigint + 7200000 + i * 1000
		FROM generate_series(0, 99999) AS i`, t0)
	if err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE requests"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	at, ok, err := s.Wake(ctx)
	if want := approvaltest.T0.Add(2 * time.Hour); err != nil || !ok || !at.Equal(want) {
		t.Errorf("Wake = %v, %t, %v; want %v", at, ok, err, want)
	}
	ids, err := s.Due(ctx, approvaltest.T0.Add(2*time.Hour+2*time.Second), 100)
	if err != nil || len(ids) != 3 || ids[0] != "G000000000" {
		t.Errorf("Due = %v, %v; want the first 3 grants", ids, err)
	}
	t.Logf("Wake and Due in %v", time.Since(start))

	// The statements Due and Wake run (sqlstore/statements.go).
	for _, q := range []string{
		`SELECT id FROM requests WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due, id LIMIT $2`,
		`SELECT next_due FROM requests WHERE next_due IS NOT NULL ORDER BY next_due, id LIMIT 1`,
	} {
		args := []any{t0 + 7200000 + 5000, 10}[:strings.Count(q, "$")]
		rows, err := s.DB().QueryContext(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		if p := plan.String(); !strings.Contains(p, "requests_next_due") || strings.Contains(p, "Seq Scan") || strings.Contains(p, "Sort") {
			t.Errorf("plan of %s:\n%s\nwant an ordered scan of index requests_next_due", q, p)
		}
	}
}
