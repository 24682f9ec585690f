package slackapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// These tests send hand-made envelopes through the fake Slack to the real
// bot: forged and malformed clicks, redelivered envelopes, racing
// approvers. Replies to a response_url in a hand-made payload land in a
// responses recorder, since only the fake knows the URLs it issues.

// responses records what the bot posts to response URLs it was given.
type responses struct {
	srv *httptest.Server

	mu      sync.Mutex
	got     map[string][]reply // by URL path
	changed chan struct{}
}

// reply is a message posted to a response_url.
type reply struct {
	Text            string `json:"text"`
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	DeleteOriginal  bool   `json:"delete_original"`
}

func newResponses(t *testing.T) *responses {
	r := &responses{got: map[string][]reply{}, changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m reply
		if err := json.Unmarshal(body, &m); err != nil {
			// slack-go may send a form instead.
			v, _ := url.ParseQuery(string(body))
			m = reply{Text: v.Get("text"), ResponseType: v.Get("response_type")}
		}
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], m)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// url returns a response_url whose replies are kept under name.
func (r *responses) url(name string) string { return r.srv.URL + "/" + url.PathEscape(name) }

func (r *responses) of(name string) []reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got["/"+name])
}

func (r *responses) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.got {
		n += len(g)
	}
	return n
}

// wait waits up to 5 s for a reply under name.
func (r *responses) wait(t *testing.T, name string) reply {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		got, ch := r.got["/"+name], r.changed
		r.mu.Unlock()
		if len(got) > 0 {
			return got[0]
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no reply to response_url %s", name)
		}
	}
}

// waitFor polls cond for up to 5 s; unlike harness.eventually it reports
// to the test it is given, so parallel subtests can use it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// send delivers a hand-made envelope and fails t unless it is acked.
func send(t *testing.T, fs *fakeslack.Server, e fakeslack.Envelope) fakeslack.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := fs.Send(ctx, e)
	if err != nil {
		t.Fatalf("envelope %s (%s): %v", e.ID, e.Type, err)
	}
	return ack
}

func clickEnvelope(t testing.TB, id string, p map[string]any) fakeslack.Envelope {
	return fakeslack.Envelope{ID: id, Type: "interactive", Payload: mustJSON(t, p)}
}

// slashEnvelope is a slash_commands envelope for user typing text, with a
// trigger ID of our choosing (request IDs derive from it).
func slashEnvelope(t testing.TB, fs *fakeslack.Server, id, user, text, trigger, responseURL string) fakeslack.Envelope {
	p := map[string]any{
		"token": "fakeslack-verification-token", "team_id": fs.TeamID(), "team_domain": "fake-team",
		"channel_id": channel, "channel_name": "approvals", "user_id": user, "user_name": strings.ToLower(user),
		"command": "/share-bucket", "text": text, "api_app_id": fs.AppID(), "response_url": responseURL, "trigger_id": trigger,
	}
	return fakeslack.Envelope{ID: id, Type: "slash_commands", Payload: mustJSON(t, p), AcceptsResponsePayload: true}
}

// logged reports whether the bot logged, at warn or above, a message
// containing msg for user with the given extra fields.
func logged(logs *observer.ObservedLogs, msg, user string, fields map[string]any) bool {
	for _, e := range logs.All() {
		if e.Level < zapcore.WarnLevel || !strings.Contains(e.Message, msg) {
			continue
		}
		ctx := e.ContextMap()
		if ctx["user_id"] != user {
			continue
		}
		match := true
		for k, v := range fields {
			if fmt.Sprint(ctx[k]) != fmt.Sprint(v) {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}

// requestsOf returns the requests stored for user.
func requestsOf(t *testing.T, h *harness, user string) []*approval.Request {
	t.Helper()
	rs, err := h.svc.Store.List(context.Background(), approval.Filter{Requester: user})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// countEvents counts the audit events of kind for request id.
func countEvents(t *testing.T, h *harness, id string, kinds ...approval.EventKind) int {
	t.Helper()
	evs, err := h.svc.Store.Audit(context.Background(), approval.AuditFilter{RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if slices.Contains(kinds, e.Kind) {
			n++
		}
	}
	return n
}

// dmsAbout counts the messages in user's DM that mention request id.
func dmsAbout(h *harness, user, id string) int {
	n := 0
	for _, m := range h.slack.Messages(fakeslack.DMOf(user)) {
		if strings.Contains(m.AllText(), id) {
			n++
		}
	}
	return n
}

// TestHostileClicks sends clicks that must all be refused: each gets an
// ephemeral explanation where the user can be told, a warn log entry with
// the user's ID, and changes nothing.
func TestHostileClicks(t *testing.T) {
	h := newHarness(t)
	resp := newResponses(t)
	id, msg := h.request(requester, goodCmd)
	id2, msg2 := h.request(approver2, goodCmd)
	h.settle()
	userMsg := h.slack.PostAsUser(channel, stranger, "a look-alike message: "+id)
	eph := h.slack.Ephemerals(requester)
	if len(eph) == 0 {
		t.Fatal("no ephemeral ack to click on")
	}
	unknownID := approval.NewID("no such request")
	version := map[string]int64{}
	for _, rid := range []string{id, id2} {
		r, err := h.svc.Get(context.Background(), rid)
		if err != nil {
			t.Fatal(err)
		}
		version[rid] = r.Version
	}

	type tc struct {
		name    string
		user    string
		payload map[string]any
		log     string         // part of the warn log message
		fields  map[string]any // more fields the log entry carries
		reply   string         // part of the ephemeral reply; "" for none
	}
	click := func(user, ch, ts, action, value, name string) map[string]any {
		return clickPayload(user, ch, ts, action, value, resp.url(name))
	}
	with := func(p map[string]any, f func(map[string]any)) map[string]any { f(p); return p }
	long := strings.Repeat("A", 5000)
	tests := []tc{
		{name: "unknown action", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "approve_all", id, "unknown action"),
			log: "unknown action", fields: map[string]any{"action_id": "approve_all"}, reply: "cannot be used: unknown action"},
		{name: "path value", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "approve", "../x", "path value"),
			log: "malformed request ID", fields: map[string]any{"value": "../x"}, reply: "malformed request ID"},
		{name: "empty value", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "deny", "", "empty value"),
			log: "malformed request ID", fields: map[string]any{"value": ""}, reply: "malformed request ID"},
		{name: "huge value", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "approve", long, "huge value"),
			log: "malformed request ID", fields: map[string]any{"value": long[:40] + "…"}, reply: "malformed request ID"},
		{name: "unknown request", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "approve", unknownID, "unknown request"),
			log: "no such request", fields: map[string]any{"request_id": unknownID}, reply: "no such request"},
		{name: "other request's ID", user: approver1, payload: click(approver1, msg.Channel, msg.TS, "approve", id2, "other request's ID"),
			log: "not on a message share-bucket posted", fields: map[string]any{"request_id": id2, "message_ts": msg.TS}, reply: "not on a message share-bucket posted"},
		{name: "user's message", user: approver1, payload: click(approver1, userMsg.Channel, userMsg.TS, "approve", id, "user's message"),
			log: "not on a message share-bucket posted", fields: map[string]any{"request_id": id, "message_ts": userMsg.TS}, reply: "not on a message share-bucket posted"},
		{name: "ephemeral", user: approver1, payload: with(click(approver1, eph[0].Channel, eph[0].TS, "approve", id, "ephemeral"), func(p map[string]any) {
			p["container"].(map[string]any)["is_ephemeral"] = true
		}), log: "not on a message share-bucket posted", fields: map[string]any{"request_id": id, "message_ts": eph[0].TS}, reply: "not on a message share-bucket posted"},
		{name: "view container", user: approver2, payload: with(click(approver2, msg.Channel, msg.TS, "approve", id, "view container"), func(p map[string]any) {
			p["container"] = map[string]any{"type": "view", "view_id": "V123"}
		}), log: "not on a message share-bucket posted", fields: map[string]any{"request_id": id, "message_ts": ""}, reply: "not on a message share-bucket posted"},
		{name: "no action", user: approver1, payload: with(click(approver1, msg.Channel, msg.TS, "approve", id, "no action"), func(p map[string]any) {
			p["actions"] = []any{}
		}), log: "expected exactly one action", fields: map[string]any{"actions": 0}, reply: "exactly one action"},
		{name: "two actions", user: approver1, payload: with(click(approver1, msg.Channel, msg.TS, "approve", id, "two actions"), func(p map[string]any) {
			deny := clickPayload(approver1, msg.Channel, msg.TS, "deny", id, "")["actions"].([]any)[0]
			p["actions"] = append(p["actions"].([]any), deny)
		}), log: "expected exactly one action", fields: map[string]any{"actions": 2}, reply: "exactly one action"},
		{name: "malformed user", user: "u<!channel>", payload: click("u<!channel>", msg.Channel, msg.TS, "approve", id, "malformed user"),
			log: "unknown user"},
		{name: "stranger", user: stranger, payload: click(stranger, msg.Channel, msg.TS, "approve", id, "stranger"),
			log: "refused approve", fields: map[string]any{"request_id": id}, reply: "only approvers can approve or deny"},
		{name: "own request", user: requester, payload: click(requester, msg.Channel, msg.TS, "approve", id, "own request"),
			log: "refused approve", fields: map[string]any{"request_id": id}, reply: "cannot decide on your own request"},
		{name: "own request, deny", user: approver2, payload: click(approver2, msg2.Channel, msg2.TS, "deny", id2, "own request, deny"),
			log: "refused deny", fields: map[string]any{"request_id": id2}, reply: "cannot decide on your own request"},
		{name: "console on approval message", user: requester, payload: click(requester, msg.Channel, msg.TS, "open_console", id, "console on approval message"),
			log: "not on the message that carries your access", fields: map[string]any{"request_id": id}, reply: "cannot be used"},
	}
	t.Run("group", func(t *testing.T) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				ack := send(t, h.slack, clickEnvelope(t, fmt.Sprintf("hostile-%d", i), tt.payload))
				if ack.Latency > time.Second {
					t.Errorf("ack took %v", ack.Latency)
				}
				waitFor(t, "warn log "+tt.log, func() bool { return logged(h.logs, tt.log, tt.user, tt.fields) })
				if tt.reply == "" {
					return
				}
				r := resp.wait(t, tt.name)
				if !strings.Contains(r.Text, tt.reply) || r.ResponseType != "ephemeral" || r.ReplaceOriginal || r.DeleteOriginal {
					t.Errorf("reply = %+v; want an ephemeral saying %q", r, tt.reply)
				}
			})
		}
	})

	h.settle()
	if got := resp.of("malformed user"); len(got) != 0 {
		t.Errorf("a user who cannot be identified was answered: %+v", got)
	}
	for _, r := range []struct {
		id  string
		msg fakeslack.Message
	}{{id, msg}, {id2, msg2}} {
		got, err := h.svc.Get(context.Background(), r.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != approval.StatePending || len(got.Approvals) != 0 || got.Version != version[r.id] {
			t.Errorf("request %s after hostile clicks: state %s, approvals %v, version %d", r.id, got.State, got.Approvals, got.Version)
		}
		if n := countEvents(t, h, r.id, approval.EventApproved, approval.EventDenied, approval.EventApprovalRecorded, approval.EventRevoked, approval.EventLinkMinted); n != 0 {
			t.Errorf("request %s has %d decision or link events after hostile clicks", r.id, n)
		}
		if cur := h.current(r.msg); cur.Updated != 0 || !hasButton(cur, "approve") {
			t.Errorf("approval message of %s edited by hostile clicks: %d edits, buttons %v", r.id, cur.Updated, buttons(cur))
		}
	}
	if n := h.issuer.issued(); n != 0 {
		t.Errorf("hostile clicks minted %d links", n)
	}
	for _, u := range []string{requester, approver2} {
		if ms := h.slack.Messages(fakeslack.DMOf(u)); len(ms) != 0 {
			t.Errorf("hostile clicks sent %d DMs to %s", len(ms), u)
		}
	}

	// The bot still works.
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP1>")
}

// TestSlashEnvelopeRedelivered delivers one slash command envelope twice,
// the second time as Slack's retry: one request, one approval message,
// one confirmation. A redelivery under a new envelope ID (as another
// replica would see it) is caught by the request ID derived from the
// trigger.
func TestSlashEnvelopeRedelivered(t *testing.T) {
	h := newHarness(t)
	resp := newResponses(t)
	e := slashEnvelope(t, h.slack, "env-slash-1", requester, goodCmd, "1111.2222.dup", resp.url("slash"))
	first := send(t, h.slack, e)
	e.RetryAttempt, e.RetryReason = 1, "timeout"
	second := send(t, h.slack, e)
	if !strings.Contains(string(first.Payload), "sent to the approvers") {
		t.Fatalf("first ack = %s; want the confirmation", first.Payload)
	}
	if second.Payload != nil {
		t.Errorf("redelivery acked with %s; want a bare ack", second.Payload)
	}
	var ack struct{ Text string }
	if err := json.Unmarshal(first.Payload, &ack); err != nil {
		t.Fatal(err)
	}
	id := idOf(t, ack.Text)
	h.waitMessage(func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id) })

	third := send(t, h.slack, slashEnvelope(t, h.slack, "env-slash-2", requester, goodCmd, "1111.2222.dup", resp.url("slash")))
	if !strings.Contains(string(third.Payload), id) {
		t.Errorf("ack of the same command under a new envelope = %s; want the same request %s", third.Payload, id)
	}
	h.settle()
	if rs := requestsOf(t, h, requester); len(rs) != 1 {
		t.Errorf("%d requests stored; want 1", len(rs))
	}
	if n := len(h.slack.Messages(channel)); n != 1 {
		t.Errorf("%d approval messages; want 1", n)
	}
	if n := countEvents(t, h, id, approval.EventRequested); n != 1 {
		t.Errorf("%d requested events; want 1", n)
	}
	if len(h.logs.FilterMessage("duplicate envelope acked and ignored").All()) != 1 ||
		len(h.logs.FilterMessage("duplicate delivery of a request ignored").All()) != 1 {
		t.Errorf("duplicates not logged as such: %v", messages(h.logs.All()))
	}
	if n := resp.total(); n != 0 {
		t.Errorf("%d replies to the command's response_url; want none", n)
	}
}

// TestClickEnvelopeRedelivered delivers an approval click twice under one
// envelope ID, then the approver clicks again: one decision, one link, one
// DM; the second click is told why nothing happened.
func TestClickEnvelopeRedelivered(t *testing.T) {
	h := newHarness(t)
	resp := newResponses(t)
	id, msg := h.request(requester, goodCmd)
	e := clickEnvelope(t, "env-click-1", clickPayload(approver1, msg.Channel, msg.TS, "approve", id, resp.url("first")))
	send(t, h.slack, e)
	e.RetryAttempt, e.RetryReason = 1, "timeout"
	send(t, h.slack, e)
	h.waitDM(requester, "was approved by <@UAPP1>")

	send(t, h.slack, clickEnvelope(t, "env-click-2", clickPayload(approver1, msg.Channel, msg.TS, "approve", id, resp.url("again"))))
	if r := resp.wait(t, "again"); !strings.Contains(r.Text, "already approved by <@UAPP1>") {
		t.Errorf("second click answered %q; want it to say the request is already approved", r.Text)
	}
	h.settle()
	if n := countEvents(t, h, id, approval.EventApproved); n != 1 {
		t.Errorf("%d approvals recorded; want 1", n)
	}
	if n := h.issuer.issuedFor(id); n != 1 {
		t.Errorf("%d links minted; want 1", n)
	}
	if n := dmsAbout(h, requester, id); n != 1 {
		t.Errorf("%d DMs to the requester; want 1", n)
	}
	if got := resp.of("first"); len(got) != 0 {
		t.Errorf("the approving click was answered %+v; want no reply", got)
	}
}

// TestRacingApprovers has two approvers click at the same instant, round
// after round: approver1 twice (a double click) plus a redelivery of the
// first, approver2 approving and denying. Exactly one decision, at most
// one link and exactly one DM per request; every other click is told why.
func TestRacingApprovers(t *testing.T) {
	h := newHarness(t)
	resp := newResponses(t)
	const rounds = 8
	for round := range rounds {
		id, msg := h.request(requester, goodCmd)
		name := func(s string) string { return fmt.Sprintf("r%d-%s", round, s) }
		a := clickEnvelope(t, name("a"), clickPayload(approver1, msg.Channel, msg.TS, "approve", id, resp.url(name("a"))))
		aRetry := a
		aRetry.RetryAttempt, aRetry.RetryReason = 1, "timeout"
		envs := []fakeslack.Envelope{
			a, aRetry,
			clickEnvelope(t, name("b"), clickPayload(approver1, msg.Channel, msg.TS, "approve", id, resp.url(name("b")))),
			clickEnvelope(t, name("c"), clickPayload(approver2, msg.Channel, msg.TS, "approve", id, resp.url(name("c")))),
			clickEnvelope(t, name("d"), clickPayload(approver2, msg.Channel, msg.TS, "deny", id, resp.url(name("d")))),
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, e := range envs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := h.slack.Send(ctx, e); err != nil {
					t.Errorf("send %s: %v", e.ID, err)
				}
			}()
		}
		close(start)
		wg.Wait()

		replies := func() int {
			n := 0
			for _, s := range []string{"a", "b", "c", "d"} {
				n += len(resp.of(name(s)))
			}
			return n
		}
		h.eventually("the decision's DM", func() bool { return dmsAbout(h, requester, id) > 0 })
		h.eventually("three refusals", func() bool { return replies() >= 3 })
		h.settle()
		st := h.state(id)
		wantLinks := 0
		if st == approval.StateApproved {
			wantLinks = 1
		}
		decisions := countEvents(t, h, id, approval.EventApproved, approval.EventDenied)
		if decisions != 1 || dmsAbout(h, requester, id) != 1 || h.issuer.issuedFor(id) != wantLinks || replies() != 3 {
			t.Errorf("round %d, request %s: state %s, %d decisions, %d DMs, %d links, %d refusals; want 1 decision, 1 DM, %d links, 3 refusals",
				round, id, st, decisions, dmsAbout(h, requester, id), h.issuer.issuedFor(id), replies(), wantLinks)
		}
		if n := len(resp.of(name("a"))); n > 1 {
			t.Errorf("round %d: the redelivered click was answered %d times", round, n)
		}
	}
}

// TestHostileCommands sends command texts that must be refused in the
// ack, through the real socket: each reply says what is wrong and shows
// a correct example, and nothing is stored or posted.
func TestHostileCommands(t *testing.T) {
	h := newHarness(t)
	const example = "Write it like this: `/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors`"
	tests := []struct{ text, want string }{
		{"collab-bucket/myfolder/../secret/ 2h why", "no . or .. parts"},
		{"collab-bucket/myfolder/%2e%2e/ 2h why", "percent-encoding is not allowed"},
		{"collab-bucket/myfolder/* 2h why", "wildcards"},
		{"collab-bucket/myfolder/? 2h why", "wildcards"},
		{"collab-bucket/myfolder\\..\\ 2h why", "backslashes are not allowed"},
		{"collab-bucket//myfolder/ 2h why", "does not start with /"},
		{"/collab-bucket/myfolder/ 2h why", "not a valid bucket name"},
		{"collab-bucket/my\u200bfolder/ 2h why", `"my\u200bfolder/"`},
		{"collab-bucket/myfolder\u0007/ 2h why", `"myfolder\u0007/"`},
		{"collab-bucket/${aws:username}/ 2h why", "$ is not allowed"},
		{"192.168.5.4/myfolder/ 2h why", "not formatted as an IP address"},
		{"xn--collab/myfolder/ 2h why", "does not start with xn--"},
		{"other-bucket/myfolder/ 2h why", "not shareable here"},
		{"collab-bucket/ 2h why", "not shareable here"},
		{"collab-bucket/myfolder/ 14m why", "the shortest grant is 15m"},
		{"collab-bucket/myfolder/ 12h1m why", "the longest grant is 12h"},
		{"collab-bucket/myfolder/ 2h write", "a reason is required"},
		{"collab-bucket/myfolder/ 2h " + strings.Repeat("why ", slackapp.MaxCommandLen/4), fmt.Sprintf("the limit is %d", slackapp.MaxCommandLen)},
		{"collab-bucket/myfolder/ 2h " + strings.Repeat("why ", 300), "the reason is at most 500 characters"},
		{"collab-bucket/myfolder/ 2h why \u202egnp.exe", "control or invisible characters"},
	}
	for _, tt := range tests {
		start := time.Now()
		got := h.command(stranger, tt.text)
		if d := time.Since(start); d > maxAck {
			t.Errorf("ack for %q took %v", tt.text, d)
		}
		if !strings.Contains(got, tt.want) || !strings.Contains(got, example) {
			t.Errorf("ack for %q = %q; want it to say %q and show the example", tt.text, got, tt.want)
		}
	}
	h.settle()
	if n := h.slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("%d messages posted for refused commands", n)
	}
	if rs := requestsOf(t, h, stranger); len(rs) != 0 {
		t.Errorf("%d requests stored for refused commands", len(rs))
	}
}
