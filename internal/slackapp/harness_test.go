package slackapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jonboulle/clockwork"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/approval/sqlitestore"
	"github.com/share-bucket/share-bucket/internal/bot"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// The in-process harness wires the bot with bot.New, as cmd/bot does, to
// the fake Slack and an in-memory SQLite store, with a fake issuer in
// place of AWS (cmd/bot's end-to-end tests use the real one against
// MinIO).

const (
	requester = "UREQ"
	approver1 = "UAPP1"
	approver2 = "UAPP2"
	stranger  = "UOTHER"
	channel   = "CAPPROVALS"
	goodCmd   = "collab-bucket/myfolder/ 2h write quarterly numbers"
)

// fakeIssuer mints links without AWS and counts them: sign-in links for
// folders, presigned-looking ones for objects.
type fakeIssuer struct {
	mu     sync.Mutex
	grants []approval.Grant
	delay  time.Duration
	err    error
	// late is how long after the request STS issues the session, so it
	// ends that much later.
	late time.Duration
	// urlLen, if set, pads each link to that many characters, as long as
	// AWS's can be.
	urlLen int
}

func (f *fakeIssuer) Issue(ctx context.Context, g approval.Grant) (approval.Link, error) {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return approval.Link{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return approval.Link{}, f.err
	}
	f.grants = append(f.grants, g)
	if g.Scope.Object() {
		return approval.Link{
			URL:         f.pad(fmt.Sprintf("https://%s.s3.example/%s?X-Amz-Signature=PRESIGNED-SECRET-%d", g.Bucket, g.Key, len(f.grants))),
			SessionEnds: time.Now().Add(g.Session),
		}, nil
	}
	return approval.Link{
		URL:         f.pad(fmt.Sprintf("https://signin.example/federation?Action=login&SigninToken=SIGNIN-SECRET-%d", len(f.grants))),
		SessionEnds: time.Now().Add(g.Session + f.late),
	}, nil
}

// pad lengthens url to urlLen characters with more of its last parameter.
func (f *fakeIssuer) pad(url string) string {
	if n := f.urlLen - len(url); n > 0 {
		url += strings.Repeat("x", n)
	}
	return url
}

func (f *fakeIssuer) issuedFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, g := range f.grants {
		if g.RequestID == id {
			n++
		}
	}
	return n
}

func (f *fakeIssuer) issued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.grants)
}

type harness struct {
	t       testing.TB
	slack   *fakeslack.Server
	svc     *approval.Service
	issuer  *fakeIssuer
	logs    *observer.ObservedLogs
	socket  *slackapp.Socket
	metrics *metrics.Metrics
	groups  []string // the approver groups made in the fake, in order
}

type harnessOpt func(*harnessConfig)

// harnessConfig is what options may change before the harness starts.
type harnessConfig struct {
	bot       bot.Config
	slackOpts []fakeslack.Option
	clock     clockwork.Clock
	log       *zap.Logger       // nil: record logs for h.logs
	dialer    *websocket.Dialer // nil: slack-go's own
	cutter    approval.Cutter   // nil: sessions are not cut
	groups    [][]string        // approver groups to make: handle, members…
}

// withReminder reminds approvers of undecided requests every d.
func withReminder(d time.Duration) harnessOpt {
	return func(c *harnessConfig) { c.bot.Policy.ApprovalReminder = d }
}

// withApproverGroup makes a user group with members in the fake Slack,
// whose members approve.
func withApproverGroup(handle string, members ...string) harnessOpt {
	return func(c *harnessConfig) { c.groups = append(c.groups, append([]string{handle}, members...)) }
}

// withCutter turns cutting sessions on, through c.
func withCutter(c approval.Cutter) harnessOpt {
	return func(cfg *harnessConfig) {
		cfg.cutter = c
		cfg.bot.Policy.RevokeSessions = true
	}
}

func withRequired(n int) harnessOpt {
	return func(c *harnessConfig) { c.bot.Policy.ApprovalsRequired = n }
}

func withDMApprovers() harnessOpt {
	return func(c *harnessConfig) { c.bot.ApprovalChannel = "" }
}

func withSlack(o ...fakeslack.Option) harnessOpt {
	return func(c *harnessConfig) { c.slackOpts = append(c.slackOpts, o...) }
}

// withLogger logs to log instead of recording; h.logs is then empty.
func withLogger(log *zap.Logger) harnessOpt {
	return func(c *harnessConfig) { c.log = log }
}

// withDialer has the bot dial Socket Mode through d.
func withDialer(d *websocket.Dialer) harnessOpt {
	return func(c *harnessConfig) { c.dialer = d }
}

// withClock drives the service and the worker (not Slack) by clock.
func withClock(clock clockwork.Clock) harnessOpt {
	return func(c *harnessConfig) { c.clock = clock }
}

func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	allowed, _ := approval.ParseAllowEntry("collab-bucket/myfolder/")
	cfg := harnessConfig{
		bot: bot.Config{
			Policy: approval.Policy{
				Approvers: []string{approver1, approver2, requester}, ApprovalsRequired: 1,
				Allowed: approval.AllowList{allowed}, MaxDuration: 12 * time.Hour,
				ExpiryWarning: 10 * time.Minute, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
				MaxExtended: 24 * time.Hour,
			},
			ApprovalChannel: channel,
			DefaultDuration: time.Hour,
			Example:         "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors",
			PostInterval:    time.Millisecond,
		},
		slackOpts: []fakeslack.Option{
			fakeslack.WithUsers(requester, approver1, approver2, stranger),
			fakeslack.WithChannels(channel),
		},
		clock: clockwork.NewRealClock(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	fs := fakeslack.New(t, cfg.slackOpts...)
	for _, g := range cfg.groups {
		cfg.bot.ApproverGroups = append(cfg.bot.ApproverGroups, fs.CreateUserGroup(g[0], g[1:]...))
	}

	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	if cfg.log != nil {
		log = cfg.log
	}
	m := metrics.New()
	store, err := sqlitestore.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	issuer := &fakeIssuer{}
	var smOpts []socketmode.Option
	if cfg.dialer != nil {
		smOpts = append(smOpts, socketmode.OptionDialer(cfg.dialer))
	}
	b := bot.New(cfg.bot, bot.Parts{
		Store: store, Issuer: issuer, Cutter: cfg.cutter,
		Slack:         slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken())),
		SocketOptions: smOpts,
		Clock:         cfg.clock, Log: log, Metrics: m, Owner: "test",
	})

	// Groups are read again on every decision, not every few seconds, and
	// Homes published as fast as they change.
	b.Approvers.MinRefresh = time.Nanosecond
	b.App.Homes.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = b.Shutdown(context.Background())
		store.Close()
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx, 1); err != nil {
		t.Fatalf("bot never connected: %v", err)
	}
	return &harness{t: t, slack: fs, svc: b.Service, issuer: issuer, logs: logs, socket: b.Socket, metrics: m, groups: cfg.bot.ApproverGroups}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// command runs a slash command and returns the text of its ack.
func (h *harness) command(user, text string) string {
	h.t.Helper()
	ack, err := h.slack.SlashCommand(h.ctx(), user, text)
	if err != nil {
		h.t.Fatalf("slash command %q: %v", text, err)
	}
	var p struct {
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	if len(ack.Payload) > 0 {
		if err := json.Unmarshal(ack.Payload, &p); err != nil {
			h.t.Fatalf("ack payload %s: %v", ack.Payload, err)
		}
		if p.ResponseType != "ephemeral" {
			h.t.Errorf("ack response_type = %q; want ephemeral", p.ResponseType)
		}
	}
	return p.Text
}

// request submits goodCmd (or text) as user and returns the approval
// message once posted.
func (h *harness) request(user, text string) (id string, msg fakeslack.Message) {
	h.t.Helper()
	ack := h.command(user, text)
	if !strings.Contains(ack, "sent to the approvers") {
		h.t.Fatalf("ack = %q; want a confirmation", ack)
	}
	id = strings.Fields(strings.TrimPrefix(ack, ":inbox_tray: Request "))[0]
	msg = h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.Text, id)
	})
	h.waitRemembered(id, msg)
	return id, msg
}

// waitRemembered waits until the bot has stored its ref to msg, which it
// does a few milliseconds after Slack accepts the message: a person
// cannot click on a message that fast, and neither should a test.
func (h *harness) waitRemembered(id string, msg fakeslack.Message) {
	h.t.Helper()
	h.eventually("message "+msg.TS+" remembered", func() bool {
		r, err := h.svc.Get(context.Background(), id)
		return err == nil && r.HasMessage(msg.Channel, msg.TS)
	})
}

func (h *harness) waitMessage(match func(fakeslack.Message) bool) fakeslack.Message {
	h.t.Helper()
	m, err := h.slack.WaitMessage(h.ctx(), match)
	if err != nil {
		h.t.Fatalf("expected message never came: %v", err)
	}
	return m
}

func (h *harness) waitEphemeral(user, contains string) fakeslack.Message {
	h.t.Helper()
	m, err := h.slack.WaitEphemeral(h.ctx(), user, func(m fakeslack.Message) bool { return strings.Contains(m.AllText(), contains) })
	if err != nil {
		var got []string
		for _, e := range h.slack.Ephemerals(user) {
			got = append(got, e.AllText())
		}
		h.t.Fatalf("no ephemeral for %s containing %q (got %q): %v", user, contains, got, err)
	}
	return m
}

// waitDM waits for a DM to user containing text.
func (h *harness) waitDM(user, contains string) fakeslack.Message {
	h.t.Helper()
	dm := fakeslack.DMOf(user)
	return h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == dm && strings.Contains(m.AllText(), contains)
	})
}

// click clicks a button of msg as it was when msg was read. Like a person,
// it clicks only once the bot has had its few milliseconds to remember the
// message it posted.
func (h *harness) click(user string, msg fakeslack.Message, action string) {
	h.t.Helper()
	c := msg.ClickOn(user, action)
	if approval.ValidID(c.Value) {
		h.waitRemembered(c.Value, msg)
	}
	if _, err := h.slack.Click(h.ctx(), c); err != nil {
		h.t.Fatalf("click %s: %v", action, err)
	}
}

// current returns the message as it is now.
func (h *harness) current(msg fakeslack.Message) fakeslack.Message {
	m, ok := h.slack.MessageAt(msg.Channel, msg.TS)
	if !ok {
		h.t.Fatalf("message %s/%s vanished", msg.Channel, msg.TS)
	}
	return m
}

// eventually polls cond for up to 5 s.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) state(id string) approval.State {
	r, err := h.svc.Get(context.Background(), id)
	if err != nil {
		h.t.Fatalf("get %s: %v", id, err)
	}
	return r.State
}

func buttons(m fakeslack.Message) []string {
	var ids []string
	for _, b := range m.Buttons() {
		ids = append(ids, b.ActionID)
	}
	return ids
}

func hasButton(m fakeslack.Message, action string) bool {
	for _, b := range m.Buttons() {
		if b.ActionID == action {
			return true
		}
	}
	return false
}

// settle waits until nothing is due: every event due now is delivered.
// (An event in flight is leased, so the store reports it due at its lease's
// end, in the future; settle then also waits a moment for it.)
func (h *harness) settle() {
	h.t.Helper()
	h.eventually("nothing due", func() bool {
		at, ok, err := h.svc.Store.Wake(context.Background())
		return err == nil && (!ok || at.After(h.svc.Now()))
	})
	time.Sleep(20 * time.Millisecond)
}
