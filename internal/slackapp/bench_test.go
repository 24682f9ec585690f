package slackapp_test

import (
	"context"
	"encoding/json"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
	"github.com/share-bucket/share-bucket/internal/worker"
)

// ackBatch is how many slash commands one benchmark iteration sends; a
// tenth under -race, which slows everything about twentyfold.
func ackBatch() int {
	if raceEnabled() {
		return 100
	}
	return 1000
}

// raceEnabled reports whether the binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// badCmd parses but names a folder the policy does not allow, so the
// handler refuses it in Check and there is no after-ack work.
const badCmd = "collab-bucket/elsewhere/ 2h write quarterly numbers"

// BenchmarkAckLatency sends batches of 1,000 slash commands through the
// fake Slack to the real Socket and App, and WebSocket PINGs on the same
// connection. It reports the p50 and p99 of both, in microseconds from the
// fake's write of the frame to its read of the answer, and the ratio of the
// p50s; the PING round trip is the floor an ack cannot beat (slack-go
// answers it in its read loop). Each iteration of the benchmark loop is one
// batch.
//
//   - busy: valid requests back to back, each followed by a PING; the
//     after-ack work (a SQLite insert) and the worker's posting of approval
//     messages run while later commands are acked, as in a burst.
//   - mixed: as busy, but every fourth command is refused by the policy
//     (no after-ack work).
//   - quiet: valid requests, each sent once the previous one's work and
//     notices are done and the bot has been idle for a moment, with a PING
//     taken the same way, so acks are the only load (the common case of an
//     occasional command).
//   - seen10k: as busy, after 10,000 other envelopes (Events API callbacks,
//     acked and ignored) have been seen within the deduplication window.
//   - slackgo: no bot; a loop reading slack-go's Events channel acks each
//     command at once with a canned payload, which isolates what slack-go's
//     goroutines add to the round trip.
//
// handler-us is the mean of the bot's own ack metric (envelope taken from
// slack-go → ack queued), the part of the latency spent in our code.
func BenchmarkAckLatency(b *testing.B) {
	for _, mode := range []struct {
		name    string
		bad     int // every bad-th command is refused; 0 for none
		quiet   bool
		prefill int // envelopes seen before the batches
		bare    bool
	}{
		{name: "busy"},
		{name: "mixed", bad: 4},
		{name: "quiet", quiet: true},
		{name: "seen10k", prefill: 10_000},
		{name: "slackgo", bare: true},
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
			var acks, pings []time.Duration
			for b.Loop() {
				for i := range ackBatch() {
					text, valid := goodCmd, true
					if mode.bad > 0 && i%mode.bad == mode.bad-1 {
						text, valid = badCmd, false
					}
					if mode.quiet {
						h.idle(b)
						pings = append(pings, h.ping(b))
						h.idle(b)
						acks = append(acks, h.command(b, text, valid))
						continue
					}
					acks = append(acks, h.command(b, text, valid))
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
			b.ReportMetric(h.handlerMean()*1e6, "handler-us")
			b.ReportMetric(0, "ns/op") // a batch's wall time says nothing here
			if n := h.slack.Unacked(); n > 0 {
				b.Errorf("%d envelopes were not acked in time", n)
			}
			if errs := h.slack.ProtocolErrors(); len(errs) > 0 {
				b.Errorf("protocol errors: %q", errs)
			}
		})
	}
}

// benchHarness is newHarness for benchmarks (newHarness takes a *testing.T):
// the real Socket, App, Notifier, Service, SQLite store and worker against
// the fake Slack. It logs as cmd/bot does (JSON with callers, info level),
// into io.Discard, so encoding costs what it costs in production without
// the benchmark's memory growing with every log line.
type benchHarness struct {
	ctx     context.Context
	slack   *fakeslack.Server
	svc     *approval.Service
	socket  *slackapp.Socket
	metrics *metrics.Metrics

	markSum   float64
	markCount uint64
	valid     int // valid requests sent
}

func newBenchHarness(b *testing.B) *benchHarness {
	b.Helper()
	allowed, _ := approval.ParseAllowEntry("collab-bucket/myfolder/")
	policy := approval.Policy{
		Approvers: []string{approver1, approver2, requester}, ApprovalsRequired: 1,
		Allowed: approval.AllowList{allowed}, MaxDuration: 12 * time.Hour,
		ExpiryWarning: 10 * time.Minute, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
	}
	fs := fakeslack.New(b,
		fakeslack.WithUsers(requester, approver1, approver2, stranger),
		fakeslack.WithChannels(channel),
		fakeslack.WithLogf(func(string, ...any) {}), // not b.Logf: thousands of lines
	)
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(io.Discard)), zap.InfoLevel),
		zap.AddCaller())
	m := metrics.New()
	store, err := sqlitestore.Open(sqlitestore.Memory)
	if err != nil {
		b.Fatal(err)
	}
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken()))
	web := slackapp.NewWeb(api, log, m)
	web.PostInterval = time.Millisecond
	notifier := &slackapp.Notifier{Channel: channel, MaxSession: time.Hour, Web: web,
		Approvers: policy.Approvers, Required: policy.ApprovalsRequired, Log: log}
	svc := approval.NewService(store, policy, &fakeIssuer{}, notifier)
	app := &slackapp.App{Service: svc, Web: web, Log: log, Metrics: m, DefaultDuration: time.Hour,
		Example: "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors"}
	sock := &slackapp.Socket{Client: socketmode.New(api), App: app, Log: log, Metrics: m}
	w := &worker.Worker{Service: svc, Log: log, Metrics: m, Owner: "bench"}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = sock.Run(ctx, context.Background()) }()
	go func() { defer wg.Done(); _ = w.Run(ctx, context.Background()) }()
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = sock.Wait(context.Background())
		store.Close()
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx, 1); err != nil {
		b.Fatalf("bot never connected: %v", err)
	}
	return &benchHarness{ctx: ctx, slack: fs, svc: svc, socket: sock, metrics: m}
}

// newBareHarness connects a slack-go Socket Mode client to the fake Slack
// and acks every slash command at once with a canned payload the size of a
// real one, without the bot.
func newBareHarness(b *testing.B) *benchHarness {
	b.Helper()
	fs := fakeslack.New(b, fakeslack.WithUsers(requester), fakeslack.WithChannels(channel),
		fakeslack.WithLogf(func(string, ...any) {}))
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken()))
	sm := socketmode.New(api)
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
	return &benchHarness{ctx: ctx, slack: fs, metrics: metrics.New()}
}

// command sends one slash command and returns its ack latency. It fails
// the benchmark if the ack is not the answer the command deserves.
func (h *benchHarness) command(b *testing.B, text string, valid bool) time.Duration {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
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
	return ack.Latency
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
