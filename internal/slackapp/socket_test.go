package slackapp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// TestReconnect has Slack refresh the connection, or the network drop it:
// the bot reconnects, and a command sent afterwards is handled once.
func TestReconnect(t *testing.T) {
	for _, tt := range []struct {
		name string
		cut  func(*fakeslack.Server) int
	}{
		{"warning", func(fs *fakeslack.Server) int { return fs.Disconnect("warning") }},
		{"refresh_requested", func(fs *fakeslack.Server) int { return fs.Disconnect("refresh_requested") }},
		{"dropped", (*fakeslack.Server).DropConnections},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for round := 1; round <= 2; round++ {
				opens := h.slack.ConnectCount()
				if n := tt.cut(h.slack); n != 1 {
					t.Fatalf("cut %d connections; want 1", n)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := h.slack.WaitConnected(ctx, 1)
				cancel()
				if err != nil {
					t.Fatalf("round %d: no reconnect: %v", round, err)
				}
				if h.slack.ConnectCount() <= opens {
					t.Fatalf("round %d: %d opens, %d before; want a new connection", round, h.slack.ConnectCount(), opens)
				}
				id, _ := h.request(requester, fmt.Sprintf("collab-bucket/myfolder/ 2h write after %s %d", tt.name, round))
				h.settle()
				if n := countEvents(t, h, id, approval.EventRequested); n != 1 {
					t.Errorf("round %d: request %s recorded %d times", round, id, n)
				}
			}
			if rs := requestsOf(t, h, requester); len(rs) != 2 {
				t.Errorf("%d requests; want 2", len(rs))
			}
			if n := len(h.slack.Messages(channel)); n != 2 {
				t.Errorf("%d approval messages; want 2", n)
			}
			h.eventually("ready again", h.socket.Connected)
			if errs := h.slack.ProtocolErrors(); len(errs) != 0 {
				t.Errorf("protocol errors: %q", errs)
			}
		})
	}
}

// TestEnvelopeAroundRefresh delivers commands right around connection
// refreshes and drops. Slack drops envelopes while no connection is open
// and, having no ack, would deliver them again under the same envelope
// ID; the test does the same until an ack comes. Each command must result
// in exactly one request.
func TestEnvelopeAroundRefresh(t *testing.T) {
	h := newHarness(t, withSlack(fakeslack.WithAckTimeout(500*time.Millisecond)))
	resp := newResponses(t)
	const rounds = 6
	redelivered := 0
	for round := range rounds {
		e := slashEnvelope(t, h.slack, fmt.Sprintf("env-refresh-%d", round), requester,
			fmt.Sprintf("collab-bucket/myfolder/ 2h write refresh round %d", round), fmt.Sprintf("3333.4444.r%d", round), resp.url("r"))
		cut := make(chan struct{})
		go func() {
			defer close(cut)
			time.Sleep(time.Duration(round%3) * time.Millisecond)
			if round%2 == 0 {
				h.slack.Disconnect("refresh_requested")
			} else {
				h.slack.DropConnections()
			}
		}()
		if round%3 == 0 {
			<-cut
		}
		deadline := time.Now().Add(5 * time.Second)
		attempt := 0
		for ; ; attempt++ {
			e.RetryAttempt = attempt
			if attempt > 0 {
				e.RetryReason = "timeout"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := h.slack.Send(ctx, e)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: envelope never acked: %v", round, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		redelivered += min(attempt, 1)
		<-cut
	}
	t.Logf("%d of %d commands needed a redelivery", redelivered, rounds)
	h.eventually("every request posted", func() bool { return len(h.slack.Messages(channel)) >= rounds })
	h.settle()
	rs := requestsOf(t, h, requester)
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.Reason]++
	}
	for round := range rounds {
		if n := seen[fmt.Sprintf("refresh round %d", round)]; n != 1 {
			t.Errorf("round %d: %d requests; want 1", round, n)
		}
	}
	if len(rs) != rounds || len(h.slack.Messages(channel)) != rounds {
		t.Errorf("%d requests, %d approval messages; want %d of each", len(rs), len(h.slack.Messages(channel)), rounds)
	}
	if n := len(h.logs.FilterMessage("request submitted").All()); n != rounds {
		t.Errorf("%d submissions logged; want %d", n, rounds)
	}
}

// TestFatalAuth revokes the app token and refreshes the connection: Run
// returns a *FatalError naming the problem and the variable to check,
// whichever way Slack words the refusal; other errors are retried.
func TestFatalAuth(t *testing.T) {
	for _, code := range []string{"invalid_auth", "token_revoked", "account_inactive", "not_authed", "missing_scope", "token_expired", "not_allowed_token_type", "team_disabled"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			fs, sock, errc := runSocket(t)
			fs.RevokeAppToken(code)
			fs.Disconnect("warning")
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Fatalf("Run still running after the app token was refused with %s", code)
			}
			fe, ok := errors.AsType[*slackapp.FatalError](err)
			if !ok || !strings.Contains(fe.Error(), code) || !strings.Contains(fe.Error(), "SLACK_APP_TOKEN") {
				t.Fatalf("Run = %v (%T); want a *FatalError naming %s and SLACK_APP_TOKEN", err, err, code)
			}
			if sock.Connected() {
				t.Error("Connected() after a fatal error")
			}
		})
	}
	t.Run("recoverable", func(t *testing.T) {
		t.Parallel()
		fs, sock, errc := runSocket(t)
		fs.RevokeAppToken("internal_error")
		fs.Disconnect("warning")
		waitFor(t, "a refused reconnect", func() bool { return fs.Calls("apps.connections.open") >= 3 })
		select {
		case err := <-errc:
			t.Fatalf("Run returned %v on a transient error", err)
		default:
		}
		fs.RevokeAppToken("")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fs.WaitConnected(ctx, 1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "ready", sock.Connected)
	})
}

// TestReconnectBackoffBounded: Slack refuses every connection for a
// while, as in an outage, then accepts again. The bot keeps trying, never
// waits longer than ReconnectMax between attempts (slack-go alone waits
// longer and longer), says it is down meanwhile, and is back within
// ReconnectMax of Slack's return.
func TestReconnectBackoffBounded(t *testing.T) {
	t.Parallel()
	// slack-go alone waits 3.2 s before its sixth attempt; an attempt
	// itself may take a few hundred milliseconds on a loaded machine.
	const max, slack = 300 * time.Millisecond, 700 * time.Millisecond
	fs, sock, errc := runSocket(t, func(s *slackapp.Socket) { s.ReconnectMin, s.ReconnectMax = 50*time.Millisecond, max })
	const outage = 6 * time.Second
	fs.FailAlways("apps.connections.open", fakeslack.Fault{Status: 503, For: outage})
	start := time.Now()
	if n := fs.DropConnections(); n != 1 {
		t.Fatalf("dropped %d connections; want 1", n)
	}
	waitFor(t, "down", func() bool { return !sock.Connected() })
	ctx, cancel := context.WithTimeout(context.Background(), outage+5*time.Second)
	defer cancel()
	time.Sleep(outage / 2)
	if sock.Connected() {
		t.Error("Connected() during the outage")
	}
	if err := fs.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", sock.Connected)
	if back := time.Since(start.Add(outage)); back > max+slack {
		t.Errorf("ready %v after Slack came back; want within %v", back, max)
	}
	var attempts []time.Time
	for _, at := range fs.CallTimes("apps.connections.open") {
		if at.After(start) {
			attempts = append(attempts, at)
		}
	}
	if len(attempts) < int(outage/(max+slack)) {
		t.Errorf("%d connection attempts in a %v outage; want at least one per %v", len(attempts), outage, max+slack)
	}
	for i := 1; i < len(attempts); i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap > max+slack {
			t.Errorf("attempt %d came %v after the one before; want at most %v", i, gap, max)
		}
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned %v during an outage", err)
	default:
	}
}

// runSocket runs a bare Socket, set up further by configure, against a
// fresh fake Slack and returns Run's result channel.
func runSocket(t *testing.T, configure ...func(*slackapp.Socket)) (*fakeslack.Server, *slackapp.Socket, <-chan error) {
	t.Helper()
	fs := fakeslack.New(t)
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()), slack.OptionAppLevelToken(fs.AppToken()))
	log := zap.New(zapcore.NewNopCore())
	m := metrics.New()
	app := &slackapp.App{Service: &approval.Service{Policy: fuzzPolicy()}, Web: slackapp.NewWeb(api, log, m), Log: log, Metrics: m,
		DefaultDuration: time.Hour, Example: fuzzExample}
	sock := &slackapp.Socket{Client: socketmode.New(api), App: app, Log: log, Metrics: m}
	for _, c := range configure {
		c(sock)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- sock.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return fs, sock, errc
}

// TestReadyAfterUnreadableFrame sends a frame that is not JSON. slack-go
// reports it and keeps the connection, so the bot must still say it is
// connected (for /readyz) and keep serving. The same report can also come
// late from a connection already replaced by a refresh.
func TestReadyAfterUnreadableFrame(t *testing.T) {
	h := newHarness(t)
	h.eventually("ready", h.socket.Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.slack.Send(ctx, fakeslack.Envelope{Raw: []byte(`{"envelope_id": "x", "type": not json}`)}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the frame reported", func() bool {
		return len(h.logs.FilterMessage("slack connection problem").All()) > 0
	})
	if !h.socket.Connected() {
		t.Error("Connected() = false after an unreadable frame on a working connection")
	}
	if h.slack.ConnectCount() != 1 {
		t.Errorf("%d connections opened; want the first one kept", h.slack.ConnectCount())
	}
	h.request(requester, goodCmd)
}
