package slackapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
	"github.com/share-bucket/share-bucket/internal/testenv"
)

// ackBatch is how many slash commands one benchmark iteration sends; a
// tenth under -race, which slows everything about twentyfold.
func ackBatch() int {
	if testenv.Race {
		return 100
	}
	return 1000
}

// badCmd parses but names a folder the policy does not allow, so the
// handler refuses it in Check and there is no after-ack work.
const badCmd = "collab-bucket/elsewhere/ 2h write quarterly numbers"

// BenchmarkAckLatency sends batches of 1,000 slash commands through the
// fake Slack to the real Socket and App, and WebSocket PINGs on the same
// connection, and reports in microseconds:
//
//   - ack-p50-us, ack-p99-us: from the fake's write of the envelope to its
//     read of the ack, as Slack would measure it;
//   - ping-p50-us, ping-p99-us: a PING's round trip, the floor an ack
//     cannot beat (slack-go answers it in its read loop), and
//     ack/ping-p50, the ratio the target (3×) is about;
//   - bot-p50-us, bot-p99-us: from the bot's socket read of the envelope
//     to its socket write of the ack (see tap), the bot's own share, and
//     wire/ping-p50 = (bot-p50 + ping-p50) / ping-p50, what the ratio would
//     be if the fake did not share the bot's process (see quiet);
//   - handler-us: the mean of the bot's ack metric (envelope taken from
//     slack-go → ack queued), the part spent in our code.
//
// Each iteration of the benchmark loop is one batch. The modes:
//
//   - busy: valid requests back to back, each followed by a PING; the
//     after-ack work (a SQLite insert) and the worker's posting of approval
//     messages run while later commands are acked, as in a burst.
//   - mixed: as busy, but every fourth command is refused by the policy
//     (no after-ack work).
//   - quiet: valid requests, each sent once the previous one's work and
//     notices are done and the bot has been idle for a moment, with a PING
//     taken the same way: the common case of an occasional command. Here
//     the after-ack work and the notice it triggers keep both CPUs busy
//     right after the ack, so the fake's own reader gets to the ack late:
//     ack-p50-us overstates what Slack would see, bot-p50-us does not.
//   - seen10k: as busy, after 10,000 other envelopes (Events API callbacks,
//     acked and ignored) have been seen within the deduplication window.
//   - slackgo: no bot; a loop reading slack-go's Events channel acks each
//     command at once with a canned payload, which isolates what slack-go's
//     goroutines add to the round trip.
//   - burst50: valid requests 50 at once, as when a team all asks
//     together: the fake writes 50 envelopes back to back on the one
//     connection while the previous ones' after-ack work (database
//     writes, posts) runs. ack-p50-us and ack-p99-us are measured by the
//     fake for each envelope, from its own write to its read of the ack:
//     the time Slack would see, queueing behind the other 49 included.
//     The PINGs are taken between bursts, the bot idle. bot-* are not
//     reported (the tap sees one envelope at a time).
//   - burst50-overlap: as burst50, but each burst comes 5 ms after the
//     one before was acked, while that one's after-ack work and posts
//     run; the PINGs too.
//   - slackgo-burst50: burst50 without the bot, as slackgo: the floor
//     slack-go's own pipeline sets for a burst.
func BenchmarkAckLatency(b *testing.B) {
	for _, mode := range []struct {
		name    string
		bad     int // every bad-th command is refused; 0 for none
		quiet   bool
		prefill int // envelopes seen before the batches
		bare    bool
		burst   int  // commands sent at once; 0 for one at a time
		overlap bool // bursts back to back, into the previous one's work
	}{
		{name: "busy"},
		{name: "mixed", bad: 4},
		{name: "quiet", quiet: true},
		{name: "seen10k", prefill: 10_000},
		{name: "slackgo", bare: true},
		{name: "burst50", burst: 50},
		{name: "burst50-overlap", burst: 50, overlap: true},
		{name: "slackgo-burst50", bare: true, burst: 50},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var h *benchHarness
			if mode.bare {
				h = newBareHarness(b)
			} else {
				h = newBenchHarness(b)
			}
			h.prefill(b, mode.prefill)
			h.handlerMark()
			var acks, bots, pings []time.Duration
			command := func(text string, valid bool) {
				fake, bot := h.command(b, text, valid)
				acks = append(acks, fake)
				if bot >= 0 {
					bots = append(bots, bot)
				}
			}
			for b.Loop() {
				if mode.burst > 0 {
					for range max(ackBatch()/mode.burst, 2) {
						if mode.overlap {
							pings = append(pings, h.ping(b))
							acks = append(acks, h.burst(b, mode.burst)...)
							time.Sleep(5 * time.Millisecond)
							continue
						}
						h.idle(b)
						pings = append(pings, h.ping(b))
						h.idle(b)
						acks = append(acks, h.burst(b, mode.burst)...)
					}
					h.settle(b)
					continue
				}
				for i := range ackBatch() {
					text, valid := goodCmd, true
					if mode.bad > 0 && i%mode.bad == mode.bad-1 {
						text, valid = badCmd, false
					}
					if mode.quiet {
						h.idle(b)
						pings = append(pings, h.ping(b))
						h.idle(b)
						command(text, valid)
						continue
					}
					command(text, valid)
					pings = append(pings, h.ping(b))
				}
				h.settle(b) // the next batch starts from an idle bot
			}
			ackP50, ackP99 := percentile(acks, 50), percentile(acks, 99)
			pingP50, pingP99 := percentile(pings, 50), percentile(pings, 99)
			b.ReportMetric(us(ackP50), "ack-p50-us")
			b.ReportMetric(us(ackP99), "ack-p99-us")
			b.ReportMetric(us(pingP50), "ping-p50-us")
			b.ReportMetric(us(pingP99), "ping-p99-us")
			b.ReportMetric(float64(ackP50)/float64(pingP50), "ack/ping-p50")
			if len(bots) > 0 {
				botP50 := percentile(bots, 50)
				b.ReportMetric(us(botP50), "bot-p50-us")
				b.ReportMetric(us(percentile(bots, 99)), "bot-p99-us")
				b.ReportMetric(float64(botP50+pingP50)/float64(pingP50), "wire/ping-p50")
			}
			b.ReportMetric(h.handlerMean()*1e6, "handler-us")
			b.ReportMetric(0, "ns/op") // a batch's wall time says nothing here
			if mode.burst == 0 && h.tapMissed > len(acks)/100 {
				b.Errorf("the tap missed %d of %d envelopes", h.tapMissed, len(acks))
			}
			if n := h.slack.Unacked(); n > 0 {
				b.Errorf("%d envelopes were not acked in time", n)
			}
			if errs := h.slack.ProtocolErrors(); len(errs) > 0 {
				b.Errorf("protocol errors: %q", errs)
			}
		})
	}
}

// benchHarness is the harness for benchmarks: the real Socket, App,
// Notifier, Service, SQLite store and worker against the fake Slack. It
// logs as cmd/bot does (JSON with callers, info level), into io.Discard, so
// encoding costs what it costs in production without the benchmark's
// memory growing with every log line.
type benchHarness struct {
	ctx     context.Context
	slack   *fakeslack.Server
	svc     *approval.Service
	socket  *slackapp.Socket
	metrics *metrics.Metrics

	markSum   float64
	markCount uint64
	valid     int // valid requests sent
	tap       *tap
	tapMissed int
}

// tap watches the bot's end of the Socket Mode connection: when the bytes
// of the latest envelope were read from the socket, and when the latest
// ack was written to it. Their difference is the ack latency as the bot's
// socket sees it, free of the fake's own scheduling: the fake runs in the
// same process, so the after-ack work also delays the goroutine that reads
// the ack, which Slack's servers would not suffer. Envelopes are sent one
// at a time, so a text frame read is the envelope and a text frame written
// is its ack.
type tap struct {
	read, written atomic.Int64 // unix nanoseconds
}

// dialer is slack-go's default WebSocket dialer, with the tap on its
// connections.
func (t *tap) dialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 45 * time.Second,
		WriteBufferSize:  32 * 1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &tapConn{Conn: c, tap: t}, nil
		},
	}
}

// last returns the latest envelope read to ack write span, or false if
// there is none since since.
func (t *tap) last(since time.Time) (time.Duration, bool) {
	r, w := t.read.Load(), t.written.Load()
	if r < since.UnixNano() || w < r {
		return 0, false
	}
	return time.Duration(w - r), true
}

type tapConn struct {
	net.Conn
	tap *tap
}

// finText is the first byte of an unfragmented text frame.
const finText = 0x81

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && p[0] == finText {
		c.tap.read.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0] == finText {
		c.tap.written.Store(time.Now().UnixNano())
	}
	return c.Conn.Write(p)
}

func newBenchHarness(b *testing.B) *benchHarness {
	b.Helper()
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(io.Discard)), zap.InfoLevel),
		zap.AddCaller())
	t := &tap{}
	h := newHarness(b, withLogger(log), withDialer(t.dialer()),
		withSlack(fakeslack.WithLogf(func(string, ...any) {}))) // not b.Logf: thousands of lines
	return &benchHarness{ctx: context.Background(), slack: h.slack, svc: h.svc, socket: h.socket, metrics: h.metrics, tap: t}
}

// newBareHarness connects a slack-go Socket Mode client to the fake Slack
// and acks every slash command at once with a canned payload the size of a
// real one, without the bot.
func newBareHarness(b *testing.B) *benchHarness {
	b.Helper()
	fs := fakeslack.New(b, fakeslack.WithUsers(requester), fakeslack.WithChannels(channel),
		fakeslack.WithLogf(func(string, ...any) {}))
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken()))
	t := &tap{}
	sm := socketmode.New(api, socketmode.OptionDialer(t.dialer()))
	payload := map[string]any{"response_type": "ephemeral", "text": slackapp.Submitted("ABCDEFGHIJ",
		approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite}, 2*time.Hour)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sm.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sm.Events:
				if ev.Type == socketmode.EventTypeSlashCommand {
					_ = sm.Ack(*ev.Request, payload)
				}
			}
		}
	})
	b.Cleanup(func() { cancel(); wg.Wait() })
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx, 1); err != nil {
		b.Fatalf("client never connected: %v", err)
	}
	return &benchHarness{ctx: ctx, slack: fs, metrics: metrics.New(), tap: t}
}

// command sends one slash command and returns its ack latency as the fake
// measured it and as the bot's socket saw it. It fails the benchmark if the
// ack is not the answer the command deserves.
func (h *benchHarness) command(b *testing.B, text string, valid bool) (fake, bot time.Duration) {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	ack, err := h.slack.SlashCommand(ctx, requester, text)
	if err != nil {
		b.Fatalf("slash command %q: %v", text, err)
	}
	var p struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(ack.Payload, &p); err != nil {
		b.Fatalf("ack payload %s: %v", ack.Payload, err)
	}
	if got := strings.Contains(p.Text, "sent to the approvers"); got != valid {
		b.Fatalf("ack for %q = %q; want a confirmation: %t", text, p.Text, valid)
	}
	if valid {
		h.valid++
	}
	bot, ok := h.tap.last(start)
	if !ok {
		// The envelope shared a read with one of the fake's periodic
		// PINGs, so its frame did not start the read: rare; no sample.
		h.tapMissed++
		return ack.Latency, -1
	}
	return ack.Latency, bot
}

// burst sends n valid slash commands at once, each from its own
// goroutine, and returns their ack latencies as the fake measured them.
func (h *benchHarness) burst(b *testing.B, n int) []time.Duration {
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	start := make(chan struct{})
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ack, err := h.slack.SlashCommand(ctx, requester, goodCmd)
			if err == nil && !strings.Contains(string(ack.Payload), "sent to the approvers") {
				err = fmt.Errorf("ack %s is no confirmation", ack.Payload)
			}
			lat[i], errs[i] = ack.Latency, err
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("burst: %v", err)
	}
	h.valid += n
	return lat
}

// ping returns the round trip of one WebSocket PING.
func (h *benchHarness) ping(b *testing.B) time.Duration {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	rtt, err := h.slack.Ping(ctx)
	if err != nil {
		b.Fatalf("ping: %v", err)
	}
	return rtt
}

// prefill sends n Events API envelopes, which the bot acks and ignores
// but remembers for deduplication.
func (h *benchHarness) prefill(b *testing.B, n int) {
	payload := json.RawMessage(`{"token":"t","team_id":"T_FAKE","api_app_id":"A_FAKE","type":"event_callback",` +
		`"event_id":"Ev1","event_time":1700000000,"event":{"type":"app_home_opened","user":"UREQ","channel":"DREQ",` +
		`"event_ts":"1700000000.000001","tab":"home"}}`)
	for range n {
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		_, err := h.slack.Send(ctx, fakeslack.Envelope{Type: "events_api", Payload: payload})
		cancel()
		if err != nil {
			b.Fatalf("events_api envelope: %v", err)
		}
	}
}

// idle settles the bot, then leaves it alone for a moment so that its
// threads are asleep when the next frame comes, as between two commands
// people type.
func (h *benchHarness) idle(b *testing.B) {
	h.settle(b)
	time.Sleep(2 * time.Millisecond)
}

// settle waits until every valid request sent so far has been stored and
// announced (one chat.postMessage each) and no notice is left to deliver.
// (Socket.Wait is for shutdown: it must not race with Run's Add.)
func (h *benchHarness) settle(b *testing.B) {
	if h.socket == nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	for {
		if h.slack.Calls("chat.postMessage") >= h.valid {
			at, ok, err := h.svc.Store.Wake(ctx)
			if err != nil {
				b.Fatalf("after-ack work and notices not done: %v", err)
			}
			if !ok || at.After(time.Now()) {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("after-ack work and notices not done: %d of %d announced", h.slack.Calls("chat.postMessage"), h.valid)
		case <-time.After(time.Millisecond):
		}
	}
}

// handlerMark starts the span handlerMean reports on.
func (h *benchHarness) handlerMark() { h.markSum, h.markCount = h.handlerTotals() }

// handlerMean returns the mean of the bot's ack latency metric since
// handlerMark, in seconds.
func (h *benchHarness) handlerMean() float64 {
	sum, count := h.handlerTotals()
	if count == h.markCount {
		return 0
	}
	return (sum - h.markSum) / float64(count-h.markCount)
}

func (h *benchHarness) handlerTotals() (sum float64, count uint64) {
	var m dto.Metric
	if err := h.metrics.AckLatency.Write(&m); err != nil {
		return 0, 0
	}
	return m.Histogram.GetSampleSum(), m.Histogram.GetSampleCount()
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (len(s)*p + 99) / 100 // ceil(len*p/100)
	return s[max(rank, 1)-1]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkSlashHandler measures App.Slash alone, the part of the ack that
// is our code: parse, policy check and the ack payload, without the work
// that follows the ack.
func BenchmarkSlashHandler(b *testing.B) {
	allowed, _ := approval.ParseAllowEntry("collab-bucket/myfolder/")
	policy := approval.Policy{
		Approvers: []string{approver1, approver2, requester}, ApprovalsRequired: 1,
		Allowed: approval.AllowList{allowed}, MaxDuration: 12 * time.Hour,
		ExpiryWarning: 10 * time.Minute, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(io.Discard)), zap.InfoLevel),
		zap.AddCaller())
	app := &slackapp.App{Service: approval.NewService(nil, policy, nil, nil), Log: log, Metrics: metrics.New(),
		DefaultDuration: time.Hour, Example: "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers"}
	cmd := slack.SlashCommand{TeamID: "T_FAKE", UserID: requester, Command: "/share-bucket", Text: goodCmd,
		TriggerID: "1000001.4242424242.0123456789abcdef0123456789abcdef"}
	for b.Loop() {
		if payload, w := app.Slash(cmd); payload == nil || w == nil {
			b.Fatal("no ack payload or no work for a valid request")
		}
	}
}
