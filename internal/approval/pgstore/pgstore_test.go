package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for the admin connection

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/pgstore"
	"github.com/share-bucket/share-bucket/internal/approval/pgstore/pgtest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// NewSchema gives each test a schema of its own.
var NewSchema = pgtest.NewSchema

// MustOpen opens a store at dsn and closes it when the test ends.
func MustOpen(tb testing.TB, dsn string) *sqlstore.Store {
	tb.Helper()
	s, err := pgstore.Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	pgtest.AdminDSN(t) // skip (or fail under CI) once, not in every subtest
	approvaltest.TestStore(t, func(t *testing.T) approval.Store {
		return MustOpen(t, NewSchema(t))
	})
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := pgstore.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "pgstore: connect") {
		t.Errorf("Open of an unreachable server = %v; want a connect error", err)
	}
	if _, err := pgstore.Open(ctx, "postgres://[bad"); err == nil {
		t.Error("Open of a malformed DSN succeeded; want an error")
	}
}

// TestOpenConcurrently starts replicas together on an empty schema: every
// replica opens, and each migration is applied once (a second application
// would fail on the primary key of schema_migrations, failing its Open).
func TestOpenConcurrently(t *testing.T) {
	dsn := NewSchema(t)
	const n = 6
	errs := make([]error, n)
	stores := make([]*sqlstore.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer func() {
			if err := stores[i].Close(); err != nil {
				t.Errorf("Close %d: %v", i, err)
			}
		}()
	}
	if t.Failed() {
		return
	}
	rows, err := stores[0].DB().QueryContext(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 {
		t.Error("schema_migrations is empty; want every migration recorded")
	}
	for i, v := range versions {
		if v != i+1 {
			t.Errorf("schema_migrations versions = %v; want 1 to %d, each once", versions, len(versions))
			break
		}
	}
}

// TestReplicas runs several stores (replicas) on one schema: an approval
// race across them has one winner, and each notice is delivered once.
func TestReplicas(t *testing.T) {
	dsn := NewSchema(t)
	const replicas = 3
	var stores []approval.Store
	for range replicas {
		stores = append(stores, MustOpen(t, dsn))
	}

	t.Run("UpdateRace", func(t *testing.T) {
		r, ev := approvaltest.Pending(approvaltest.ID("replica-race"), "UREQ")
		ev.Notify = false // leave the outbox to the Claim test
		approvaltest.MustCreate(t, stores[0], r, ev)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 15 {
			s := stores[i%replicas]
			wg.Go(func() {
				_, _, err := s.Update(t.Context(), r.ID, func(r *approval.Request) ([]approval.Event, error) {
					if r.State != approval.StatePending {
						return nil, &approval.StateError{Action: "approve", State: r.State}
					}
					r.State = approval.StateApproved
					return []approval.Event{{RequestID: r.ID, At: approvaltest.T0, Kind: approval.EventApproved}}, nil
				})
				if err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Errorf("%d updates won; want 1", got)
		}
		evs := approvaltest.MustAudit(t, stores[1], approval.AuditFilter{RequestID: r.ID})
		if len(evs) != 2 {
			t.Errorf("Audit has %d events; want 2", len(evs))
		}
	})

	t.Run("Claim", func(t *testing.T) {
		const requests, perReq = 40, 3
		total := 0
		for i := range requests {
			r, ev := approvaltest.Pending(approvaltest.ID(fmt.Sprintf("replica-claim-%d", i)), "UREQ")
			r.State = approval.StateDenied
			evs := []approval.Event{ev}
			for range perReq - 1 {
				evs = append(evs, approval.Event{RequestID: r.ID, At: approvaltest.T0, Kind: approval.EventWarned, Notify: true})
			}
			approvaltest.MustCreate(t, stores[i%replicas], r, evs...)
			total += perReq
		}
		before, err := stores[0].Audit(t.Context(), approval.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu        sync.Mutex
			delivered = map[int64]int{}
			done      atomic.Int64
			wg        sync.WaitGroup
		)
		now := approvaltest.T0.Add(time.Hour)
		deadline := time.Now().Add(30 * time.Second)
		for i := range 2 * replicas {
			s, owner := stores[i%replicas], fmt.Sprintf("owner-%d", i)
			wg.Go(func() {
				for done.Load() < int64(total) && time.Now().Before(deadline) {
					evs, err := s.Claim(t.Context(), owner, now, time.Hour, 4)
					if err != nil {
						t.Errorf("Claim: %v", err)
						return
					}
					for _, e := range evs {
						mu.Lock()
						delivered[e.Seq]++
						mu.Unlock()
						if err := s.Delivered(t.Context(), e.Seq, owner, now); err != nil {
							t.Errorf("Delivered(%d): %v", e.Seq, err)
						}
						done.Add(1)
					}
				}
			})
		}
		wg.Wait()
		for seq, n := range delivered {
			if n != 1 {
				t.Errorf("event %d claimed %d times; want 1", seq, n)
			}
		}
		if got := int(done.Load()); got != total {
			t.Errorf("%d events delivered; want %d (of %d in the store)", got, total, len(before))
		}
	})
}
