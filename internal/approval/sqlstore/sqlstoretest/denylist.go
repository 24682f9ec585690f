package sqlstoretest

import (
	"slices"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
)

// TestDenyList checks the deny list of a store: the revocations rows
// follow Request.CutUntil in the request's own writes, DenyList and
// SaveDenyList round-trip, and LockDenyList excludes other holders, also
// those of a second store on the same database (another replica). open
// returns a new store on the database named by its argument: equal names,
// one database.
func TestDenyList(t *testing.T, open func(t *testing.T, db string) *sqlstore.Store) {
	t.Run("Mirror", func(t *testing.T) { testDenyListMirror(t, open(t, "mirror")) })
	t.Run("Save", func(t *testing.T) { testDenyListSave(t, open(t, "save")) })
	t.Run("Lock", func(t *testing.T) { testDenyListLock(t, open(t, "lock"), open(t, "lock")) })
}

func at0(d time.Duration) time.Time { return approvaltest.T0.Add(d) }

// entries returns the deny list at now as "ID until covered" lines.
func entries(t *testing.T, s *sqlstore.Store, now time.Time) []sqlstore.Revocation {
	t.Helper()
	dl, err := s.DenyList(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	return dl.Entries
}

func testDenyListMirror(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	a, b := approvaltest.ID("deny-a"), approvaltest.ID("deny-b")
	ra, _ := approvaltest.Approved(a, "UREQ")
	rb, _ := approvaltest.Approved(b, "UREQ")
	rb.CutUntil = at0(3 * time.Hour) // created already on the list
	approvaltest.MustCreate(t, s, ra)
	approvaltest.MustCreate(t, s, rb)
	want := []sqlstore.Revocation{{RequestID: b, Until: at0(3 * time.Hour)}}
	if got := entries(t, s, approvaltest.T0); !slices.Equal(got, want) {
		t.Fatalf("after create: %+v; want %+v", got, want)
	}

	set := func(id string, until time.Time) {
		t.Helper()
		_, _, err := s.Update(ctx, id, func(r *approval.Request) ([]approval.Event, error) {
			r.CutUntil = until
			return []approval.Event{{At: approvaltest.T0, Kind: approval.EventCutSessions}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	set(a, at0(2*time.Hour))
	want = []sqlstore.Revocation{{RequestID: b, Until: at0(3 * time.Hour)}, {RequestID: a, Until: at0(2 * time.Hour)}}
	slices.SortFunc(want, func(x, y sqlstore.Revocation) int { return compare(x.RequestID, y.RequestID) })
	if got := entries(t, s, approvaltest.T0); !slices.Equal(got, want) {
		t.Fatalf("after update: %+v; want %+v", got, want)
	}
	// Entries whose sessions have all ended are not on the list any more.
	if got := entries(t, s, at0(2*time.Hour)); len(got) != 1 || got[0].RequestID != b {
		t.Errorf("at a's until: %+v; want only b", got)
	}

	// Covered by a cut-off, then written again: no longer covered.
	if err := s.SaveDenyList(ctx, "digest", at0(time.Hour), at0(3*time.Hour), at0(time.Hour), entries(t, s, approvaltest.T0)); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries(t, s, approvaltest.T0) {
		if !e.Covered {
			t.Errorf("%s not covered after SaveDenyList", e.RequestID)
		}
	}
	set(a, at0(4*time.Hour))
	for _, e := range entries(t, s, approvaltest.T0) {
		if e.Covered != (e.RequestID == b) {
			t.Errorf("after a later session of a: %+v; want only b covered", e)
		}
	}
	// Lifted: gone.
	set(a, time.Time{})
	set(b, time.Time{})
	if got := entries(t, s, approvaltest.T0); len(got) != 0 {
		t.Errorf("after lifting both: %+v; want none", got)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testDenyListSave(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	dl, err := s.DenyList(ctx, approvaltest.T0)
	if err != nil || dl.Applied != "" || !dl.Cutoff.IsZero() || !dl.CutoffUntil.IsZero() || len(dl.Entries) != 0 {
		t.Fatalf("fresh deny list = %+v, %v; want empty", dl, err)
	}
	if err := s.SaveDenyList(ctx, "one", at0(time.Hour), at0(2*time.Hour), approvaltest.T0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDenyList(ctx, "two", time.Time{}, time.Time{}, at0(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	dl, err = s.DenyList(ctx, approvaltest.T0)
	if err != nil || dl.Applied != "two" || !dl.Cutoff.IsZero() || !dl.CutoffUntil.IsZero() {
		t.Errorf("deny list = %+v, %v; want applied two and no cut-off", dl, err)
	}
	if err := s.SaveDenyList(ctx, "three", at0(time.Hour+time.Millisecond), at0(2*time.Hour), approvaltest.T0, nil); err != nil {
		t.Fatal(err)
	}
	if dl, _ = s.DenyList(ctx, approvaltest.T0); !dl.Cutoff.Equal(at0(time.Hour+time.Millisecond)) || !dl.CutoffUntil.Equal(at0(2*time.Hour)) {
		t.Errorf("cut-off = %v until %v", dl.Cutoff, dl.CutoffUntil)
	}
}

func testDenyListLock(t *testing.T, s1, s2 *sqlstore.Store) {
	ctx := t.Context()
	unlock, err := s1.LockDenyList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		u, err := s2.LockDenyList(ctx)
		if err != nil {
			t.Error(err)
			got <- time.Time{}
			return
		}
		got <- time.Now()
		u()
	}()
	time.Sleep(200 * time.Millisecond)
	released := time.Now()
	unlock()
	select {
	case at := <-got:
		if at.Before(released) {
			t.Errorf("second holder got the lock %v before the first released it", released.Sub(at))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second holder never got the lock")
	}
	// Released for good: taken again at once.
	u, err := s1.LockDenyList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u()
}
