package main_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", to read the bot's database
	_ "modernc.org/sqlite"             // "sqlite", likewise

	"github.com/share-bucket/share-bucket/internal/approval/pgstore/pgtest"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// On time under load: a notice goes out within a second of its due time,
// whatever backlog other channels have.

// onTime is how late a notice may reach Slack after its due time.
const onTime = time.Second

// approvalIDRE finds the request ID in an approval message's text.
var approvalIDRE = regexp.MustCompile(`^Access request ([A-Z2-7]{10}) `)

// TestEndToEndFairDelivery: a burst of 200 requests queues 200 approval
// posts in one channel, which Slack takes at one a second (the fake
// enforces it, as Slack does, with 429s). Meanwhile:
//   - an expiry warning that comes due in the middle of the burst reaches
//     its requester within a second of its due time;
//   - a grant DM and the update of its approval message go out within a
//     second of the approval;
//   - an expiry warning due while Slack answers 429 with a long
//     Retry-After to every post in the approval channel reaches its
//     requester within a second of its due time.
//
// Then the backlog drains: every request is posted exactly once, however
// long it waited for its turn.
func TestEndToEndFairDelivery(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, []fakeslack.Option{fakeslack.WithPostMessageLimit(time.Second, 3)}, "EXPIRY_WARNING=14m40s")
	b := w.start()

	id0, msg0 := w.request(requester, "collab-bucket/myfolder/ 15m warned under load")
	// Another requester: a DM channel of its own, not paced behind the
	// first requester's DMs.
	id1, msg1 := w.request(stranger, "other-bucket/r1/ 15m approved under load")
	w.click(approver1, msg0, "approve")
	w.waitDM(requester, "Request "+id0+".")
	_, due0 := w.times(id0)

	// The burst: 200 people ask at once (ten at a time on the wire), just
	// before the warning comes due, so that it comes due behind 200
	// approval posts not even looked at yet.
	time.Sleep(time.Until(due0.Add(-time.Second)))
	warned0 := make(chan time.Time, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		_, err := w.slack.WaitMessage(ctx, func(m fakeslack.Message) bool {
			return m.Channel == fakeslack.DMOf(requester) && strings.Contains(m.AllText(), ":warning: Your access to `collab-bucket/myfolder/`")
		})
		if err != nil {
			t.Errorf("warning for %s: %v", id0, err)
		}
		warned0 <- time.Now()
	}()
	const burst = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	for g := range 10 {
		wg.Go(func() {
			for i := g; i < burst; i += 10 {
				user := fmt.Sprintf("UBURST%03d", i)
				ack, err := w.slack.SlashCommand(w.ctx(), user, fmt.Sprintf("collab-bucket/myfolder/ 1h burst %d", i))
				if err != nil {
					t.Errorf("slash command of %s: %v", user, err)
					return
				}
				m := requestIDRE.FindStringSubmatch(ack.Text())
				if m == nil {
					t.Errorf("ack %q does not confirm a request", ack.Text())
					return
				}
				mu.Lock()
				ids = append(ids, m[1])
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("burst of %d requests acked; %d approval messages posted so far", burst, len(w.slack.Messages(channel)))

	// A decision while the approval channel has its backlog.
	w.click(approver1, msg1, "approve")
	decided, due1 := w.times(id1)
	dm := w.arrival("grant DM for "+id1, 4*time.Minute, func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(stranger) && strings.Contains(m.AllText(), "Request "+id1+".")
	})
	upd := w.arrival("approval message of "+id1+" updated", 4*time.Minute, func(m fakeslack.Message) bool {
		return m.Channel == msg1.Channel && m.TS == msg1.TS && !hasButton(m, "approve")
	})
	w.checkOnTime("grant DM", decided, dm)
	w.checkOnTime("approval message update", decided, upd)

	w.checkOnTime("expiry warning due during the burst", due0, <-warned0)
	posted := len(w.slack.Messages(channel))
	t.Logf("by then %d of %d approval messages were posted", posted, burst+2)
	if posted > burst/2 {
		t.Errorf("%d of %d approval messages already posted: no backlog to test", posted, burst+2)
	}

	// Slack now refuses every post in the approval channel for a while.
	w.slack.FailAlways("chat.postMessage", fakeslack.Fault{Status: 429, RetryAfter: 10, Channel: channel, For: 15 * time.Second})
	w.eventually("a post refused", 4*time.Second, func() bool { return w.slack.RateLimited("chat.postMessage") > 0 })
	if time.Now().After(due1) {
		t.Fatalf("the second warning came due before Slack refused a post")
	}
	warn1 := w.arrival("warning for "+id1, 4*time.Minute, func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(stranger) && strings.Contains(m.AllText(), ":warning: Your access to `other-bucket/r1/`")
	})
	w.checkOnTime("expiry warning while the approval channel is rate limited", due1, warn1)

	// Every request reaches the channel once, however long it waited.
	all := append([]string{id0, id1}, ids...)
	w.eventually("the backlog drained", 6*time.Minute, func() bool { return len(w.slack.Messages(channel)) >= len(all) })
	time.Sleep(3 * time.Second)
	count := map[string]int{}
	for _, m := range w.slack.Messages(channel) {
		if r := approvalIDRE.FindStringSubmatch(m.Text); r != nil {
			count[r[1]]++
		}
	}
	for _, id := range all {
		if count[id] != 1 {
			t.Errorf("request %s posted %d times; want once", id, count[id])
		}
	}
	if n := len(w.slack.Messages(channel)); n != len(all) {
		t.Errorf("%d approval messages; want %d", n, len(all))
	}
	for _, l := range b.logLines() {
		if msg, _ := l["msg"].(string); strings.Contains(msg, "giving up") || strings.Contains(msg, "mark delivered") {
			t.Errorf("bot logged %q: %v", msg, l)
		}
	}
}

// arrival waits up to timeout for a message that match accepts and
// returns when it was seen: as soon as the fake Slack stored it, give or
// take the test's own scheduling, which can only make it look later.
func (w *world) arrival(what string, timeout time.Duration, match func(fakeslack.Message) bool) time.Time {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := w.slack.WaitMessage(ctx, match); err != nil {
		w.t.Fatalf("%s: never came within %v: %v", what, timeout, err)
	}
	return time.Now()
}

// checkOnTime fails the test if a notice due at due arrived more than
// onTime later.
func (w *world) checkOnTime(what string, due, arrived time.Time) {
	w.t.Helper()
	late := arrived.Sub(due)
	w.t.Logf("%s: %v after its due time", what, late.Round(time.Millisecond))
	if late > onTime {
		w.t.Errorf("%s came %v after its due time; want within %v", what, late.Round(time.Millisecond), onTime)
	}
}

// times returns when request id was decided and when its expiry warning
// is due, read from the database, once it has been decided. (Not through
// `bot audit`: on SQLite, opening the store releases the running bot's
// event leases.)
func (w *world) times(id string) (decided, warn time.Time) {
	w.t.Helper()
	kind, addr, ok := strings.Cut(w.env["DATABASE_URL"], ":")
	driver, dsn := "pgx", w.env["DATABASE_URL"]
	if ok && kind == "sqlite" {
		driver, dsn = "sqlite", "file:"+addr+"?mode=ro&_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	var d, wa sql.NullInt64
	w.eventually("decision of "+id+" stored", 10*time.Second, func() bool {
		err := db.QueryRow(`SELECT decided_at, warn_at FROM requests WHERE id = $1`, id).Scan(&d, &wa)
		if err != nil {
			w.t.Fatalf("read request %s: %v", id, err)
		}
		return d.Valid
	})
	if !wa.Valid {
		w.t.Fatalf("request %s has no warning time", id)
	}
	return time.UnixMilli(d.Int64), time.UnixMilli(wa.Int64)
}

// TestEndToEndFailover: two replicas on PostgreSQL; the one that records
// an approval is killed with SIGKILL as soon as it has sent the grant DM.
// The other sends the expiry warning within a second of its due time,
// although nothing it did itself told it of the approval.
func TestEndToEndFailover(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "DATABASE_URL="+pgtest.NewSchema(t), "EXPIRY_WARNING=14m40s")
	bots := []*bot{w.start(), w.start()}
	if err := w.slack.WaitConnected(w.ctx(), 2); err != nil {
		t.Fatal(err)
	}
	id, msg := w.request(requester, "collab-bucket/myfolder/ 15m failover")
	// Both replicas idle, each planning its next look at the store.
	time.Sleep(2 * time.Second)
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "Request "+id+".")
	var handler, survivor *bot
	w.eventually("the decision logged", 10*time.Second, func() bool {
		for i, b := range bots {
			if strings.Contains(b.logs.String(), `"msg":"decision recorded","user_id":"UAPP1","request_id":"`+id+`"`) {
				handler, survivor = b, bots[1-i]
				return true
			}
		}
		return false
	})
	w.eventually("the grant DM recorded", 10*time.Second, func() bool {
		for _, b := range bots {
			if strings.Contains(b.logs.String(), `"event delivered","request_id":"`+id+`","event":"approved"`) {
				return true
			}
		}
		return false
	})
	if code, _ := handler.stop(syscall.SIGKILL); code == 0 {
		t.Fatal("SIGKILL exit code 0")
	}
	_, due := w.times(id)
	warned := w.arrival("warning", 2*time.Minute, func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(requester) && strings.Contains(m.AllText(), ":warning:")
	})
	w.checkOnTime("expiry warning from the surviving replica", due, warned)
	w.eventually("the surviving replica logs the warning's delivery", 10*time.Second, func() bool {
		return strings.Contains(survivor.logs.String(), `"event delivered","request_id":"`+id+`","event":"warned"`)
	})
	time.Sleep(3 * time.Second)
	if n := w.dmCount(requester, ":warning:"); n != 1 {
		t.Errorf("%d warnings; want 1", n)
	}
}

// TestEndToEndSlackOutage: Slack refuses connections for three minutes
// after the socket drops. Meanwhile /readyz says the bot is not ready and
// the bot keeps trying, never more than 20 s apart; once Slack accepts
// again the bot is connected and ready within 30 s and serves commands.
func TestEndToEndSlackOutage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.start()
	const outage = 3 * time.Minute
	w.slack.FailAlways("apps.connections.open", fakeslack.Fault{Status: 503, For: outage})
	start := time.Now()
	if n := w.slack.DropConnections(); n != 1 {
		t.Fatalf("dropped %d connections; want 1", n)
	}
	w.eventually("not ready", 10*time.Second, func() bool { code, _ := b.get("/readyz"); return code == 503 })
	back := start.Add(outage)
	ctx, cancel := context.WithTimeout(context.Background(), outage+5*time.Minute)
	defer cancel()
	if err := w.slack.WaitConnected(ctx, 1); err != nil {
		t.Fatalf("never reconnected: %v", err)
	}
	w.eventually("ready", 10*time.Second, func() bool { code, _ := b.get("/readyz"); return code == 200 })
	ready := time.Since(back)
	t.Logf("ready %v after Slack came back", ready.Round(time.Millisecond))
	if ready > 30*time.Second {
		t.Errorf("ready %v after Slack came back; want within 30 s", ready.Round(time.Millisecond))
	}
	var attempts []time.Time
	for _, at := range w.slack.CallTimes("apps.connections.open") {
		if at.After(start) {
			attempts = append(attempts, at)
		}
	}
	var longest time.Duration
	for i := 1; i < len(attempts); i++ {
		longest = max(longest, attempts[i].Sub(attempts[i-1]))
	}
	t.Logf("%d connection attempts; the longest wait between two was %v", len(attempts), longest.Round(time.Millisecond))
	if longest > 20*time.Second {
		t.Errorf("waited %v between two connection attempts; want a bounded backoff (at most 20 s)", longest.Round(time.Millisecond))
	}
	w.request(requester, "collab-bucket/myfolder/ 1h after the outage")
}
