package revocation_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/revocation"
)

// writer records what it is asked to write and answers as told.
type writer struct {
	mu       sync.Mutex
	calls    []call
	fallback time.Time // non-zero: fall back to a cut-off at this time
	err      error
}

type call struct {
	ids    []string
	cutoff time.Time
}

func (w *writer) Apply(ctx context.Context, ids []string, cutoff time.Time) (federation.Revocation, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call{slices.Clone(ids), cutoff})
	if w.err != nil {
		return federation.Revocation{}, w.err
	}
	if !w.fallback.IsZero() {
		return federation.Revocation{Fallback: true, Cutoff: w.fallback}, nil
	}
	if len(ids) == 0 && cutoff.IsZero() {
		return federation.Revocation{Deleted: true}, nil
	}
	return federation.Revocation{IDs: ids, Cutoff: cutoff}, nil
}

func (w *writer) last(t *testing.T) call {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.calls) == 0 {
		t.Fatal("nothing written")
	}
	return w.calls[len(w.calls)-1]
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls)
}

type bed struct {
	store *sqlstore.Store
	w     *writer
	sync  *revocation.Syncer
	now   time.Time
}

func newBed(t *testing.T) *bed {
	s, err := sqlitestore.Open(sqlitestore.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := &bed{store: s, w: &writer{}, now: approvaltest.T0}
	b.sync = b.syncer()
	return b
}

// syncer is a Syncer as a freshly started process has it.
func (b *bed) syncer() *revocation.Syncer {
	return &revocation.Syncer{Store: b.store, Writer: b.w, Now: func() time.Time { return b.now }}
}

// revoke puts a grant on the deny list until until.
func (b *bed) revoke(t *testing.T, name string, until time.Time) string {
	t.Helper()
	id := approvaltest.ID(name)
	r, _ := approvaltest.Approved(id, "UREQ")
	r.State, r.CutUntil, r.Cut = approval.StateRevoked, until, approval.CutPending
	approvaltest.MustCreate(t, b.store, r)
	return id
}

func (b *bed) mustSync(t *testing.T) approval.CutResult {
	t.Helper()
	res, err := b.sync.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return res
}

func TestSyncWritesTheStoresList(t *testing.T) {
	b := newBed(t)
	b.mustSync(t)
	if c := b.w.last(t); len(c.ids) != 0 || !c.cutoff.IsZero() {
		t.Fatalf("first sync of an empty list wrote %+v; want the empty list (a delete)", c)
	}
	b.mustSync(t)
	if n := b.w.count(); n != 1 {
		t.Errorf("%d writes for an unchanged list; want 1", n)
	}

	x := b.revoke(t, "x", b.now.Add(time.Hour))
	y := b.revoke(t, "y", b.now.Add(2*time.Hour))
	b.mustSync(t)
	want := []string{x, y}
	slices.Sort(want)
	if c := b.w.last(t); !slices.Equal(c.ids, want) || !c.cutoff.IsZero() {
		t.Errorf("wrote %+v; want %v", c, want)
	}
	// x's sessions have all ended: it leaves the list.
	b.now = b.now.Add(time.Hour)
	b.mustSync(t)
	if c := b.w.last(t); !slices.Equal(c.ids, []string{y}) {
		t.Errorf("after x's until wrote %v; want [%s]", c.ids, y)
	}

	// A new process writes once, even though the store says the cloud
	// holds the list: something may have removed it meanwhile.
	n := b.w.count()
	b.sync = b.syncer()
	b.mustSync(t)
	b.mustSync(t)
	if got := b.w.count() - n; got != 1 {
		t.Errorf("a restarted syncer wrote %d times; want once", got)
	}
}

// TestSyncFallback: when the list does not fit, the cut-off the writer
// fell back to stands for the grants listed until their sessions have all
// ended; grants revoked later are listed beside it; then it goes.
func TestSyncFallback(t *testing.T) {
	b := newBed(t)
	x := b.revoke(t, "x", b.now.Add(time.Hour))
	y := b.revoke(t, "y", b.now.Add(2*time.Hour))
	cutoff := b.now.Add(time.Second)
	b.w.fallback = cutoff
	res := b.mustSync(t)
	if !res.Cutoff.Equal(cutoff) {
		t.Fatalf("Sync = %+v; want the cut-off %v reported", res, cutoff)
	}
	b.w.fallback = time.Time{}
	b.mustSync(t)
	if n := b.w.count(); n != 1 {
		t.Errorf("%d writes; the cut-off in place needs no second", n)
	}

	z := b.revoke(t, "z", b.now.Add(3*time.Hour))
	b.mustSync(t)
	if c := b.w.last(t); !slices.Equal(c.ids, []string{z}) || !c.cutoff.Equal(cutoff) {
		t.Errorf("with z revoked after the cut-off, wrote %+v; want [%s] and the cut-off", c, z)
	}
	// Once x and y's sessions have all ended the cut-off goes.
	b.now = b.now.Add(2 * time.Hour)
	b.mustSync(t)
	if c := b.w.last(t); !slices.Equal(c.ids, []string{z}) || !c.cutoff.IsZero() {
		t.Errorf("after the cut-off's time wrote %+v; want only [%s]", c, z)
	}
	_, _ = x, y
}

func TestSyncErrors(t *testing.T) {
	b := newBed(t)
	b.revoke(t, "x", b.now.Add(time.Hour))
	b.w.err = &federation.IAMError{Op: "PutRolePolicy", Code: "AccessDenied", Reason: "the bot may not"}
	_, err := b.sync.Sync(context.Background())
	ce, ok := errors.AsType[*approval.CutError](err)
	if !ok || ce.Code != "AccessDenied" || ce.Temporary {
		t.Fatalf("Sync = %v; want a permanent CutError AccessDenied", err)
	}
	b.w.err = &federation.IAMError{Op: "PutRolePolicy", Code: "Throttling", Temporary: true}
	if _, err := b.sync.Sync(context.Background()); !isTemporary(err) {
		t.Fatalf("Sync = %v; want a temporary CutError", err)
	}
	// Nothing was recorded: the next sync writes the list.
	b.w.err = nil
	b.mustSync(t)
	if n := b.w.count(); n != 3 {
		t.Errorf("%d writes; want the failed two and one that worked", n)
	}
}

func isTemporary(err error) bool {
	ce, ok := errors.AsType[*approval.CutError](err)
	return ok && ce.Temporary
}

// TestSyncSerialised: syncs from several goroutines never run their writes
// at once.
func TestSyncSerialised(t *testing.T) {
	b := newBed(t)
	busy := &busyWriter{writer: b.w}
	b.sync.Writer = busy
	var wg sync.WaitGroup
	for i := range 8 {
		b.revoke(t, "g"+string(rune('a'+i)), b.now.Add(time.Hour))
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.sync.Sync(context.Background()) }()
	}
	wg.Wait()
	if busy.overlap {
		t.Error("two writes ran at once")
	}
}

type busyWriter struct {
	*writer
	mu      sync.Mutex
	active  bool
	overlap bool
}

func (b *busyWriter) Apply(ctx context.Context, ids []string, cutoff time.Time) (federation.Revocation, error) {
	b.mu.Lock()
	if b.active {
		b.overlap = true
	}
	b.active = true
	b.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	defer func() { b.mu.Lock(); b.active = false; b.mu.Unlock() }()
	return b.writer.Apply(ctx, ids, cutoff)
}
