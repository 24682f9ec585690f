package slackapp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// Rate limits: a call answered with 429 is retried after Retry-After,
// while acks and other requests carry on; posts are paced per channel so a
// burst does not hit the limit at all.

// maxAck is the most an ack may take here: Slack allows 3 s, the bot
// should need milliseconds, and the retries under test wait a whole second.
const maxAck = 400 * time.Millisecond

// quickCommand sends a command and fails t unless it is acked fast.
func quickCommand(t *testing.T, h *harness, user, text string) string {
	t.Helper()
	start := time.Now()
	ack := h.command(user, text)
	if d := time.Since(start); d > maxAck {
		t.Errorf("ack of %q took %v while a Slack call waited out a rate limit; want under %v", text, d, maxAck)
	}
	return ack
}

// idOf returns the request ID in a confirmation ack.
func idOf(t *testing.T, ack string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(ack, ":inbox_tray: Request ")
	if !ok {
		t.Fatalf("ack = %q; want a confirmation", ack)
	}
	return strings.Fields(rest)[0]
}

// seenAt polls for a message matching match and returns when it was
// first seen.
func seenAt(t *testing.T, h *harness, match func(fakeslack.Message) bool) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.slack.WaitMessage(ctx, match); err != nil {
		t.Fatalf("message never came: %v", err)
	}
	return time.Now()
}

// TestRateLimitedPost: a 429 on a post pauses that channel for its
// Retry-After and nothing else. A request made meanwhile waits behind the
// refused one, and both go out in order once the pause is over; a DM to
// someone else goes out at once.
func TestRateLimitedPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Turns 100 ms apart (the harness paces at 1 ms), so that the order of
	// posts is the order of their turns, not of goroutines waking.
	h.socket.App.Web.PostInterval = 100 * time.Millisecond
	_, msg0 := h.request(requester, goodCmd)
	h.settle()
	h.slack.FailNext("chat.postMessage", fakeslack.Fault{Status: 429, RetryAfter: 1, Channel: channel})
	start := time.Now()
	id1 := idOf(t, quickCommand(t, h, approver2, goodCmd))
	h.eventually("the first post refused", func() bool { return h.slack.RateLimited("chat.postMessage") == 1 })

	// While the approval channel waits, a decision DMs its requester.
	id2 := idOf(t, quickCommand(t, h, stranger, goodCmd))
	h.click(approver1, msg0, "approve")
	dm := seenAt(t, h, func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(requester) && strings.Contains(m.AllText(), "was approved by <@UAPP1>")
	})
	if d := dm.Sub(start); d > 900*time.Millisecond {
		t.Errorf("the grant DM came %v after the 429: it waited behind the rate-limited channel", d)
	}
	at := seenAt(t, h, func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id1) })
	if d := at.Sub(start); d < time.Second || d > 3*time.Second {
		t.Errorf("rate-limited message posted after %v; want Retry-After (1s) or a little more", d)
	}
	at2 := seenAt(t, h, func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id2) })
	if d := at2.Sub(start); d < time.Second {
		t.Errorf("a post to the paused channel went out after %v, within the Retry-After", d)
	}
	m1, _ := h.slack.WaitMessage(h.ctx(), func(m fakeslack.Message) bool { return strings.Contains(m.Text, id1) })
	m2, _ := h.slack.WaitMessage(h.ctx(), func(m fakeslack.Message) bool { return strings.Contains(m.Text, id2) })
	if m2.TS <= m1.TS {
		t.Errorf("the later request's message %s posted before the rate-limited one %s", m2.TS, m1.TS)
	}
	h.settle()
	if n := len(h.slack.Messages(channel)); n != 3 {
		t.Errorf("%d approval messages; want 3", n)
	}
	if n := len(h.logs.FilterMessage("slack rate limited; retrying").FilterField(zap.String("method", "chat.postMessage")).All()); n != 1 {
		t.Errorf("%d rate-limit retries logged; want 1", n)
	}
}

func TestRateLimitedUpdate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id, msg := h.request(requester, goodCmd)
	h.settle()
	h.slack.FailNext("chat.update", fakeslack.Fault{Status: 429, RetryAfter: 1})
	start := time.Now()
	h.click(approver1, msg, "approve")
	h.eventually("the update refused", func() bool { return h.slack.RateLimited("chat.update") == 1 })
	id2 := idOf(t, quickCommand(t, h, approver2, goodCmd))
	h.waitMessage(func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id2) })
	h.eventually("approval shown", func() bool { return !hasButton(h.current(msg), "approve") })
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("rate-limited update done after %v; want Retry-After (1s) or a little more", d)
	}
	h.waitDM(requester, "was approved by <@UAPP1>")
	h.settle()
	if n := dmsAbout(h, requester, id); n != 1 {
		t.Errorf("%d DMs; want 1", n)
	}
	if cur := h.current(msg); cur.Updated != 1 {
		t.Errorf("approval message updated %d times; want 1", cur.Updated)
	}
}

func TestRateLimitedConversationsOpen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id, msg := h.request(requester, goodCmd)
	h.settle()
	h.slack.FailNext("conversations.open", fakeslack.Fault{Status: 429, RetryAfter: 1})
	start := time.Now()
	h.click(approver1, msg, "approve")
	h.eventually("the DM refused", func() bool { return h.slack.RateLimited("conversations.open") == 1 })
	quickCommand(t, h, approver2, goodCmd)
	at := seenAt(t, h, func(m fakeslack.Message) bool {
		return m.Channel == fakeslack.DMOf(requester) && strings.Contains(m.AllText(), "was approved by <@UAPP1>")
	})
	if d := at.Sub(start); d < time.Second || d > 3*time.Second {
		t.Errorf("DM after a rate-limited conversations.open came after %v; want Retry-After (1s) or a little more", d)
	}
	h.settle()
	if n := dmsAbout(h, requester, id); n != 1 || h.issuer.issuedFor(id) != 1 {
		t.Errorf("%d DMs, %d links; want 1 and 1", n, h.issuer.issuedFor(id))
	}
}

// TestRateLimitedReply has the refusal of a click wait out a 429 on its
// response_url: the user still gets it.
func TestRateLimitedReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, msg := h.request(requester, goodCmd)
	h.slack.FailNext("response_url", fakeslack.Fault{Status: 429, RetryAfter: 1})
	start := time.Now()
	h.click(stranger, msg, "approve")
	h.waitEphemeral(stranger, "only approvers can approve or deny")
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("reply after a rate-limited response_url came after %v; want Retry-After (1s) or a little more", d)
	}
}

// TestRateLimitedWithoutRetryAfter answers a post with a bare 429: the
// notice is retried later rather than dropped.
func TestRateLimitedWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.FailNext("chat.postMessage", fakeslack.Fault{Status: 429, RetryAfter: -1})
	id := idOf(t, quickCommand(t, h, requester, goodCmd))
	h.waitMessage(func(m fakeslack.Message) bool { return m.Channel == channel && strings.Contains(m.Text, id) })
	h.settle()
	if n := len(h.slack.Messages(channel)); n != 1 {
		t.Errorf("%d approval messages; want 1", n)
	}
}

// TestPacedBurst sends a burst of requests to a Slack that allows one post
// per 150 ms per channel: paced at 300 ms, none is refused or dropped.
func TestPacedBurst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSlack(fakeslack.WithPostMessageLimit(150*time.Millisecond, 1)))
	// The harness paces at 1 ms for speed; pace as in production, scaled
	// to the fake's limit.
	h.socket.App.Web.PostInterval = 300 * time.Millisecond
	const n = 5
	ids := map[string]bool{}
	for range n {
		ids[idOf(t, quickCommand(t, h, requester, goodCmd))] = true
	}
	h.eventually("every request posted", func() bool { return len(h.slack.Messages(channel)) >= n })
	h.settle()
	got := map[string]int{}
	for _, m := range h.slack.Messages(channel) {
		got[strings.Fields(strings.TrimPrefix(m.Text, "Access request "))[0]]++
	}
	for id := range ids {
		if got[id] != 1 {
			t.Errorf("request %s posted %d times; want 1", id, got[id])
		}
	}
	if r := h.slack.RateLimited("chat.postMessage"); r > 1 {
		t.Errorf("%d posts refused with 429; pacing should avoid them", r)
	}
}

// TestUnpacedBurst is the control: without pacing, a burst hits Slack's
// limit (one post per second per channel, bursts of two here), and every
// message still arrives.
func TestUnpacedBurst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSlack(fakeslack.WithPostMessageLimit(time.Second, 2)))
	const n = 3
	for range n {
		quickCommand(t, h, requester, goodCmd)
	}
	h.eventually("every request posted", func() bool { return len(h.slack.Messages(channel)) >= n })
	h.settle()
	if got := len(h.slack.Messages(channel)); got != n {
		t.Errorf("%d approval messages; want %d", got, n)
	}
	if h.slack.RateLimited("chat.postMessage") == 0 {
		t.Error("an unpaced burst was never rate limited; the control shows nothing")
	}
}

// TestPostPacing checks the default pace: one post per second per
// channel, other channels unaffected.
func TestPostPacing(t *testing.T) {
	api := &recordingAPI{}
	w := slackapp.NewWeb(api, zap.NewNop(), metrics.New())
	ctx := context.Background()
	if _, _, err := w.Post(ctx, "C1", "first", nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := w.Post(ctx, "C2", "other channel", nil); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("post to another channel: %v after %v; want at once", err, time.Since(start))
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, _, err := w.Post(short, "C1", "second", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second post to C1 within a second: %v; want it to wait (and run out of time)", err)
	}
	if n := len(api.all()); n != 2 {
		t.Errorf("%d posts sent; want 2", n)
	}
}
