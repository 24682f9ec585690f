//go:build unix

package worker_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/approval/sqlstore"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/testenv"
	"github.com/share-bucket/share-bucket/internal/worker"
)

var (
	benchGrants = flag.Int("sched.grants", 100_000, "active grants BenchmarkScheduler loads (a fiftieth under -race)")
	benchIdle   = flag.Duration("sched.idle", 10*time.Second, "idle window BenchmarkScheduler/idle measures CPU over")
	benchFile   = flag.Bool("sched.file", false, "BenchmarkScheduler: keep the grants in a SQLite file (as deployed) instead of in memory")
)

// BenchmarkScheduler loads 100,000 active grants (approved, announced,
// link minted, as the service leaves them) into a SQLite store, due one
// to seventy days ahead, and runs the real Worker on them with a real
// clock and a notifier that only takes the time.
//
// idle reports the memory the grants take (Go heap, resident set, database
// pages) and the scheduler's own share, then the process's CPU time over an
// idle window (-sched.idle, 10 s by default) and the wakeups in it. The
// window is shorter than a minute because idle CPU is linear in time: the
// worker sleeps until the next due time but at most MaxIdle (one minute),
// so a minute costs the Go runtime's background work plus at most one
// wakeup. The benchmark measures both terms, the runtime's rate over the
// window and one wakeup's cost (the Due, Claim and Wake queries of one loop,
// timed 100 times over the loaded store), and reports the minute as
// 60 s × rate + wakeups per minute × cost, beside the measured window.
// Run with -sched.idle=1m to measure a whole minute instead.
//
// burst-1000 and burst-10000 add that many grants (already warned) that all
// expire at the same instant, three seconds after they are loaded, and
// start the worker, which sleeps until then. They report how late each
// expiry notice reaches the notifier (notify time − end of grant): p50, p99
// and max in milliseconds; notices per second from the due instant to the
// last notice; and per notice the CPU time, and the calls of and time in
// Claim and Wake, which show where a burst's time goes.
//
// The grants are loaded by copying the rows the real service writes for one
// template grant (Submit, Decide, deliveries with messages remembered, link
// minted; for the burst also the warning), with only the ID, duration and
// what derives from the duration changed: several seconds of CPU for
// 100,000 grants instead of a minute or more of service calls, each a
// transaction. Three copies of every load are compared column by column
// with twins made through the service in a scratch store. The idle grants
// are loaded once per run of BenchmarkScheduler, by the first sub-benchmark,
// and shared by the others.
//
// The store is in memory unless -sched.file is given: an in-memory SQLite
// database holds every page in the process, a file only its page cache
// (2 MB by default), so the resident memory differs while the query costs
// barely do.
//
// Under -race everything is about twenty times slower, so the benchmark
// loads a fiftieth of the grants and bursts, over a two-second window.
func BenchmarkScheduler(b *testing.B) {
	grants, idle, bursts := *benchGrants, *benchIdle, []int{1000, 10_000}
	if testenv.Race {
		grants, idle, bursts = max(grants/50, 1), min(idle, 2*time.Second), []int{20, 200}
	}
	b.Cleanup(unload)
	b.Run("idle", func(b *testing.B) {
		for b.Loop() {
			benchIdleScheduler(b, grants, idle)
		}
	})
	for _, n := range bursts {
		b.Run(fmt.Sprintf("burst-%d", n), func(b *testing.B) {
			for b.Loop() {
				benchBurst(b, grants, n)
			}
		})
	}
}

// loaded is the store of idle grants, loaded by the first sub-benchmark
// that needs it and shared by the others, with the memory samples taken
// around the load. The bursts add their grants to it.
var loaded struct {
	sync.Mutex
	store          *sqlstore.Store
	dir            string // of the file, with -sched.file
	before, after  memSample
	grants         int
	loadedIn, cpus time.Duration
}

// loadedStore returns the shared store with grants idle grants.
func loadedStore(b *testing.B, grants int) *sqlstore.Store {
	b.Helper()
	loaded.Lock()
	defer loaded.Unlock()
	if loaded.store != nil && loaded.grants == grants {
		return loaded.store
	}
	unloadLocked()
	loaded.before = memNow()
	path := sqlitestore.Memory
	if *benchFile {
		dir, err := os.MkdirTemp("", "share-bucket-bench-")
		if err != nil {
			b.Fatal(err)
		}
		loaded.dir, path = dir, filepath.Join(dir, "grants.db")
	}
	s, err := sqlitestore.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	start, cpu := time.Now(), cpuTime()
	load(b, s, grants)
	loaded.loadedIn, loaded.cpus = time.Since(start), cpuTime()-cpu
	loaded.after = memNow()
	loaded.store, loaded.grants = s, grants
	b.Logf("loaded %d grants into %s in %v (%v CPU)", grants, path, loaded.loadedIn.Round(time.Millisecond), loaded.cpus.Round(time.Millisecond))
	return s
}

// unload closes the shared store and removes its file.
func unload() {
	loaded.Lock()
	defer loaded.Unlock()
	unloadLocked()
}

func unloadLocked() {
	if loaded.store != nil {
		loaded.store.Close()
	}
	if loaded.dir != "" {
		os.RemoveAll(loaded.dir)
	}
	loaded.store, loaded.dir, loaded.grants = nil, "", 0
}

func benchIdleScheduler(b *testing.B, grants int, window time.Duration) {
	ctx := context.Background()
	s := loadedStore(b, grants)
	var pages, pageSize int64
	if err := s.DB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		b.Fatal(err)
	}
	if err := s.DB().QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		b.Fatal(err)
	}

	base := memNow()
	sched := startWorker(b, s, &timingNotifier{})
	time.Sleep(200 * time.Millisecond) // its first look at the store, then sleep
	running := memNow()
	if sched.store.due.Load() == 0 {
		b.Fatal("the worker never looked at the store")
	}

	wakes := sched.store.due.Load()
	cpu0, t0 := cpuTime(), time.Now()
	time.Sleep(window)
	cpu, elapsed := cpuTime()-cpu0, time.Since(t0)
	wakes = sched.store.due.Load() - wakes

	// One wakeup's work: the worker's three queries on the loaded store.
	const loops = 100
	c0 := cpuTime()
	for range loops {
		now := time.Now()
		if _, err := s.Due(ctx, now, 100); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Claim(ctx, "bench", now, 2*time.Minute, 8); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Wake(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perWake := (cpuTime() - c0) / loops
	if sched.notifier.count.Load() != 0 {
		b.Fatalf("%d notices while idle; want none", sched.notifier.count.Load())
	}

	rate := float64(max(cpu-time.Duration(wakes)*perWake, 0)) / float64(elapsed)
	perMinute := time.Duration(rate*float64(time.Minute)) + time.Duration(float64(time.Minute)/float64(sched.w.MaxIdle))*perWake
	b.ReportMetric(mb(int64(loaded.after.heap)-int64(loaded.before.heap)), "store-heap-MB")
	b.ReportMetric(mb(int64(loaded.after.rss)-int64(loaded.before.rss)), "store-rss-MB")
	b.ReportMetric(mb(pages*pageSize), "db-MB")
	b.ReportMetric(float64(int64(running.heap)-int64(base.heap))/1024, "sched-heap-KB")
	b.ReportMetric(float64(running.goroutines-base.goroutines), "sched-goroutines")
	b.ReportMetric(ms(cpu), "idle-cpu-ms")
	b.ReportMetric(elapsed.Seconds(), "idle-s")
	b.ReportMetric(float64(wakes), "wakeups")
	b.ReportMetric(float64(perWake)/1e3, "wakeup-cpu-us")
	b.ReportMetric(ms(perMinute), "cpu-ms/idle-min")
	b.ReportMetric(0, "ns/op")
}

func benchBurst(b *testing.B, grants, n int) {
	const lead = 3 * time.Second
	s := loadedStore(b, grants)
	due := time.Now().Add(lead).Truncate(time.Millisecond)
	loadBurst(b, s, n, due)
	notifier := &timingNotifier{due: due, want: n, done: make(chan struct{})}
	cpu0 := cpuTime()
	sched := startWorker(b, s, notifier)
	if left := time.Until(due); left < lead/10 {
		b.Fatalf("the burst was loaded too late: due in %v", left)
	}
	select {
	case <-notifier.done:
	case <-time.After(lead + 5*time.Minute):
		b.Fatalf("%d of %d expiry notices after 5 minutes", notifier.count.Load(), n)
	}
	cpu := cpuTime() - cpu0

	late := notifier.lateness()
	if len(late) != n || notifier.other.Load() != 0 {
		b.Fatalf("%d expiry notices and %d others; want %d and none", len(late), notifier.other.Load(), n)
	}
	last := slices.Max(late)
	b.ReportMetric(ms(percentile(late, 50)), "late-p50-ms")
	b.ReportMetric(ms(percentile(late, 99)), "late-p99-ms")
	b.ReportMetric(ms(last), "late-max-ms")
	b.ReportMetric(ms(slices.Min(late)), "late-min-ms")
	b.ReportMetric(float64(n)/last.Seconds(), "notices/s")
	b.ReportMetric(float64(cpu)/float64(n)/1e3, "cpu-us/notice")
	b.ReportMetric(float64(sched.store.claims.Load())/float64(n), "claims/notice")
	b.ReportMetric(float64(sched.store.claimNS.Load())/1e3/float64(n), "claim-us/notice")
	b.ReportMetric(float64(sched.store.wakes.Load())/float64(n), "wakes/notice")
	b.ReportMetric(float64(sched.store.wakeNS.Load())/1e3/float64(n), "wake-us/notice")
	b.ReportMetric(0, "ns/op")
}

// benchPolicy allows the long grants the idle load needs.
var benchPolicy = approval.Policy{
	Approvers: []string{"UAPP"}, ApprovalsRequired: 1, Allowed: approval.AllowList{mustAllow("collab-bucket")},
	MaxDuration: 90 * 24 * time.Hour, ExpiryWarning: 10 * time.Minute, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
}

func mustAllow(entry string) approval.AllowEntry {
	e, err := approval.ParseAllowEntry(entry)
	if err != nil {
		panic(err)
	}
	return e
}

func openBenchStore(b *testing.B) *sqlstore.Store {
	b.Helper()
	s, err := sqlitestore.Open(sqlitestore.Memory)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// scheduler is a running worker and what it is watched through.
type scheduler struct {
	w        *worker.Worker
	store    *countingStore
	notifier *timingNotifier
}

// startWorker runs the real worker with a real clock until the benchmark
// ends. It logs as cmd/bot does (JSON, info level) into io.Discard.
func startWorker(b *testing.B, s approval.Store, n *timingNotifier) *scheduler {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(io.Discard)), zap.InfoLevel),
		zap.AddCaller())
	cs := &countingStore{Store: s}
	svc := approval.NewService(cs, benchPolicy, fixedIssuer(time.Now), n)
	w := &worker.Worker{Service: svc, Outbox: cs, Log: log, Metrics: metrics.New(), Owner: "bench", MaxIdle: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done; _ = w.Shutdown(context.Background()) })
	return &scheduler{w: w, store: cs, notifier: n}
}

// countingStore counts and times the worker's scheduling queries.
type countingStore struct {
	approval.Store
	due, claims, claimNS, wakes, wakeNS atomic.Int64
}

func (s *countingStore) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	s.due.Add(1)
	return s.Store.Due(ctx, now, limit)
}

func (s *countingStore) Wake(ctx context.Context) (time.Time, bool, error) {
	start := time.Now()
	at, ok, err := s.Store.Wake(ctx)
	s.wakes.Add(1)
	s.wakeNS.Add(int64(time.Since(start)))
	return at, ok, err
}

func (s *countingStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]approval.Event, error) {
	start := time.Now()
	evs, err := s.Store.Claim(ctx, owner, now, lease, limit)
	s.claims.Add(1)
	s.claimNS.Add(int64(time.Since(start)))
	return evs, err
}

// timingNotifier notes when each expiry notice arrives and does nothing
// else; done is closed once want of them have.
type timingNotifier struct {
	due   time.Time
	want  int
	done  chan struct{}
	count atomic.Int64
	other atomic.Int64

	mu sync.Mutex
	at []time.Time
}

func (n *timingNotifier) Notify(_ context.Context, no approval.Notice) error {
	now := time.Now()
	if no.Event.Kind != approval.EventExpired {
		n.other.Add(1)
		return nil
	}
	n.mu.Lock()
	n.at = append(n.at, now)
	n.mu.Unlock()
	if int(n.count.Add(1)) == n.want {
		close(n.done)
	}
	return nil
}

func (n *timingNotifier) lateness() []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	late := make([]time.Duration, len(n.at))
	for i, t := range n.at {
		late[i] = t.Sub(n.due)
	}
	return late
}

// fixedIssuer issues fake links on the given clock.
type fixedIssuer func() time.Time

func (f fixedIssuer) Issue(_ context.Context, g approval.Grant) (approval.Link, error) {
	return approval.Link{URL: "https://signin.example/login?t=secret", SessionEnds: f().Add(g.Session)}, nil
}

// rememberingNotifier stands in for the Slack notifier while grants are
// made: it remembers an approval message for each request and a DM for
// each grant, as the real one does.
type rememberingNotifier struct{}

func (rememberingNotifier) Notify(ctx context.Context, no approval.Notice) error {
	switch no.Event.Kind {
	case approval.EventRequested:
		return no.Remember(ctx, approval.MessageRef{Kind: approval.MessageApproval, Channel: "CAPPROVALS", TS: "1764244800.000100"})
	case approval.EventApproved:
		return no.Remember(ctx, approval.MessageRef{Kind: approval.MessageGrant, Channel: "DREQ", TS: "1764244801.000200"})
	}
	return nil
}

// grantSpec is one grant to load.
type grantSpec struct {
	ID       string
	Duration time.Duration
}

// loadEpoch is when the loaded idle grants were approved: a minute ago, on
// a whole millisecond as the store keeps times.
func loadEpoch() time.Time { return time.Now().Add(-time.Minute).Truncate(time.Millisecond) }

// load stores n active grants approved a minute ago for one day plus i
// minutes, so their warnings are due from about a day ahead and spread
// over seventy days.
func load(b *testing.B, s *sqlstore.Store, n int) {
	b.Helper()
	specs := make([]grantSpec, n)
	for i := range specs {
		specs[i] = grantSpec{ID: approval.NewID(fmt.Sprint("bench/idle/", i)), Duration: 24*time.Hour + time.Duration(i)*time.Minute}
	}
	copyGrants(b, s, specs, loadEpoch(), false)
}

// bursts numbers the bursts loaded into the shared store.
var bursts atomic.Int64

// loadBurst stores n active grants, already warned, that all end at due.
func loadBurst(b *testing.B, s *sqlstore.Store, n int, due time.Time) {
	b.Helper()
	const d = 2 * time.Hour
	burst := bursts.Add(1)
	specs := make([]grantSpec, n)
	for i := range specs {
		specs[i] = grantSpec{ID: approval.NewID(fmt.Sprint("bench/burst/", burst, "/", i)), Duration: d}
	}
	copyGrants(b, s, specs, due.Add(-d), true)
}

// makeGrant takes a grant through the service as the bot would: submitted
// and approved at decided, its notices delivered (remembering the messages
// posted) and its first link minted; if warned, also its expiry warning.
func makeGrant(ctx context.Context, s approval.Store, spec grantSpec, decided time.Time, warned bool) error {
	now := decided
	clock := func() time.Time { return now }
	svc := approval.NewService(s, benchPolicy, fixedIssuer(clock), rememberingNotifier{})
	svc.Now = clock
	if _, err := svc.Submit(ctx, approval.Draft{ID: spec.ID, Requester: "UREQ", Duration: spec.Duration, Reason: "benchmark",
		Scope: approval.Scope{Bucket: "collab-bucket", Prefix: "data/", Access: approval.AccessRead}}); err != nil {
		return err
	}
	if _, err := svc.Decide(ctx, spec.ID, "UAPP", approval.Approve); err != nil {
		return err
	}
	if err := deliverAll(ctx, svc, now); err != nil {
		return err
	}
	if !warned {
		return nil
	}
	r, err := s.Get(ctx, spec.ID)
	if err != nil {
		return err
	}
	now = r.WarnAt
	if evs, err := svc.Tick(ctx, spec.ID); err != nil || len(evs) != 1 || evs[0].Kind != approval.EventWarned {
		return fmt.Errorf("warn %s: %v, %v", spec.ID, evs, err)
	}
	return deliverAll(ctx, svc, now)
}

// deliverAll delivers every event due at now, as the worker would.
func deliverAll(ctx context.Context, svc *approval.Service, now time.Time) error {
	for {
		evs, err := svc.Store.Claim(ctx, "loader", now, time.Minute, 10)
		if err != nil || len(evs) == 0 {
			return err
		}
		for _, ev := range evs {
			if err := svc.Deliver(ctx, ev); err != nil {
				return err
			}
			if err := svc.Store.Delivered(ctx, ev.Seq, "loader", now); err != nil {
				return err
			}
		}
	}
}

// copyGrants makes the first spec through the service and copies its rows
// for the others, deriving what depends on the ID and the duration the way
// Decide does; then it checks three of the copies against twins made
// through the service.
func copyGrants(b *testing.B, s *sqlstore.Store, specs []grantSpec, decided time.Time, warned bool) {
	b.Helper()
	ctx := context.Background()
	if err := makeGrant(ctx, s, specs[0], decided, warned); err != nil {
		b.Fatalf("template grant: %v", err)
	}
	if len(specs) == 1 {
		return
	}
	tmpl, err := s.Get(ctx, specs[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	type derived struct {
		ID       string `json:"id"`
		Duration int64  `json:"d"`
		EndsAt   *int64 `json:"e"`
		WarnAt   *int64 `json:"w"`
		NextDue  *int64 `json:"n"`
		DurText  string `json:"dt"`
		EndsText string `json:"et"`
	}
	rows := make([]derived, len(specs)-1)
	for i, spec := range specs[1:] {
		r := tmpl.Clone()
		r.ID, r.Duration = spec.ID, spec.Duration
		r.EndsAt, r.WarnAt = r.DecidedAt.Add(spec.Duration), time.Time{}
		if w := benchPolicy.ExpiryWarning; w > 0 && w < spec.Duration {
			r.WarnAt = r.EndsAt.Add(-w)
		}
		rows[i] = derived{ID: r.ID, Duration: int64(r.Duration), EndsAt: millis(r.EndsAt), WarnAt: millis(r.WarnAt),
			NextDue: millis(r.NextDue()), DurText: approval.FormatDuration(r.Duration), EndsText: r.EndsAt.UTC().Format(time.RFC3339)}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		b.Fatal(err)
	}

	db := s.DB()
	copies := []struct{ table, key, skip string }{{"requests", "id", ""}, {"events", "request_id", "seq"}, {"messages", "request_id", "id"}}
	exprs := map[string]string{
		"id": "g.id", "duration_ns": "g.d", "ends_at": "g.e", "warn_at": "g.w", "next_due": "g.n", "request_id": "g.id",
		"detail": `CASE t.kind WHEN 'requested' THEN json_set(t.detail, '$.duration', g.dt)
			WHEN 'approved' THEN json_set(t.detail, '$.ends_at', g.et)
			WHEN 'warned' THEN json_set(t.detail, '$.ends_at', g.et) ELSE t.detail END`,
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DROP TABLE IF EXISTS temp.grants`,
		`CREATE TEMP TABLE grants (k INTEGER PRIMARY KEY, id TEXT, d INTEGER, e INTEGER, w INTEGER, n INTEGER, dt TEXT, et TEXT)`,
		`INSERT INTO temp.grants SELECT j.key, j.value->>'id', j.value->>'d', j.value->>'e', j.value->>'w', j.value->>'n',
			j.value->>'dt', j.value->>'et' FROM json_each($1) j`,
	} {
		if _, err := tx.ExecContext(ctx, q, string(js)); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	for _, c := range copies {
		cols := columns(b, tx, c.table)
		var names, values []string
		for _, col := range cols {
			if col == c.skip {
				continue
			}
			names = append(names, col)
			if e, ok := exprs[col]; ok && (col != "id" || c.table == "requests") {
				values = append(values, e)
			} else {
				values = append(values, "t."+col)
			}
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM temp.grants g, %s t WHERE t.%s = $1 ORDER BY g.k, t.rowid",
			c.table, strings.Join(names, ", "), strings.Join(values, ", "), c.table, c.key)
		if _, err := tx.ExecContext(ctx, q, specs[0].ID); err != nil {
			b.Fatalf("copy %s: %v", c.table, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE temp.grants`); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	// The copies must be what the service would have written.
	twins := openBenchStore(b)
	for _, i := range []int{1, len(specs) / 2, len(specs) - 1} {
		if i == 0 {
			continue
		}
		if err := makeGrant(ctx, twins, specs[i], decided, warned); err != nil {
			b.Fatalf("twin grant: %v", err)
		}
		for _, c := range copies {
			got, want := dump(b, db, c.table, c.key, c.skip, specs[i].ID), dump(b, twins.DB(), c.table, c.key, c.skip, specs[i].ID)
			if !slices.Equal(got, want) {
				b.Fatalf("copied %s rows of grant %d:\n%s\nwant, as the service writes them:\n%s",
					c.table, i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// columns returns the column names of table.
func columns(b *testing.B, tx *sql.Tx, table string) []string {
	rows, err := tx.Query("SELECT name FROM pragma_table_info($1) ORDER BY cid", table)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			b.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil || len(cols) == 0 {
		b.Fatalf("columns of %s: %v", table, err)
	}
	return cols
}

// dump renders the rows of table whose key is id, one line each, without
// the skip column (an auto-increment key).
func dump(b *testing.B, db *sql.DB, table, key, skip, id string) []string {
	rows, err := db.Query(fmt.Sprintf("SELECT * FROM %s WHERE %s = $1 ORDER BY rowid", table, key), id)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			b.Fatal(err)
		}
		var line []string
		for i, c := range cols {
			if c != skip {
				line = append(line, fmt.Sprintf("%s=%v", c, vals[i]))
			}
		}
		out = append(out, strings.Join(line, " "))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// memSample is the process's memory after a full GC.
type memSample struct {
	heap       uint64 // live Go heap
	rss        uint64 // resident set, including SQLite's C-heap
	goroutines int
}

func memNow() memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapAlloc, rss: rss(), goroutines: runtime.NumGoroutine()}
}

// rss returns the resident set size from /proc, or 0 where there is none.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// cpuTime returns the user plus system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (len(s)*p + 99) / 100
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(n int64) float64 { return float64(n) / (1 << 20) }
