package slackapp_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// advancer moves a fake clock once the worker sleeps, as in
// TestGrantLifecycle.
func advancer(t *testing.T, h *harness, clock *clockwork.FakeClock) func(time.Duration) {
	return func(d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.settle()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("worker not asleep: %v", err)
		}
		clock.Advance(d)
	}
}

// TestExtendGrant: the requester asks for an hour more; the approvers get
// a message like a request's; approved, the grant's end moves, the
// requester is told, the original approval message shows the new end, and
// the warning and expiry come at the new times, once each.
func TestExtendGrant(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := newHarness(t, withClock(clock))
	advance := advancer(t, h, clock)
	id, msg := h.request(requester, "collab-bucket/myfolder/ 1h need it")
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP1>")

	// Only the requester, and only with a reason.
	if ack := h.command(approver2, "extend "+id+" 1h more please"); ack != "" {
		t.Fatalf("extend acked with %q; the answer comes after the ack", ack)
	}
	h.waitEphemeral(approver2, "only the requester can ask to extend this access")
	h.command(requester, "extend "+id+" 1h auditors need another hour")
	h.waitEphemeral(requester, "Request "+id+": asked the approvers for 1h more")
	h.command(requester, "extend "+id+" 1h again")
	h.waitEphemeral(requester, "An extension of this access is already waiting for the approvers.")

	ext := h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.AllText(), "asks for 1h more on their access to `collab-bucket/myfolder/`")
	})
	if !strings.Contains(ext.AllText(), "auditors need another hour") || !hasButton(ext, "approve_extension") {
		t.Fatalf("extension message = %q, buttons %v", ext.AllText(), buttons(ext))
	}
	h.click(requester, ext, "approve_extension")
	h.waitEphemeral(requester, "you cannot decide on your own extension")
	h.click(approver2, ext, "approve_extension")
	h.waitDM(requester, "was extended by 1h, approved by <@UAPP2>: it now ends")
	r, _ := h.svc.Get(context.Background(), id)
	if r.EndsAt.Sub(r.DecidedAt) != 2*time.Hour {
		t.Fatalf("grant now ends %v after approval; want 2h", r.EndsAt.Sub(r.DecidedAt))
	}
	h.eventually("messages show the new end", func() bool {
		a, e := h.current(msg).AllText(), h.current(ext).AllText()
		return strings.Contains(a, "Access until "+dateOf(r.EndsAt)) && strings.Contains(e, "Extended by <@UAPP2>") && !hasButton(h.current(ext), "approve_extension")
	})

	// The old warning time (50m) passes quietly; the new one (1h50m) warns.
	advance(55 * time.Minute)
	h.settle()
	if n := countDMs(h, requester, ":warning:"); n != 0 {
		t.Fatalf("%d warnings at the old warning time", n)
	}
	advance(55 * time.Minute)
	warn := h.waitDM(requester, ":warning: Your access to `collab-bucket/myfolder/` ends")
	if !hasButton(warn, "extend") {
		t.Errorf("warning has no Extend button: %v", buttons(warn))
	}
	advance(10 * time.Minute)
	h.waitDM(requester, ":lock: Your access to `collab-bucket/myfolder/` has ended")
	if n := countDMs(h, requester, ":warning:"); n != 1 {
		t.Errorf("%d warnings; want 1", n)
	}
	if n := countEvents(t, h, id, approval.EventExtended); n != 1 {
		t.Errorf("%d extended events; want 1", n)
	}
}

// TestExtendFromWarning: the warning's Extend button opens a form; a
// submission asks the approvers; a denial keeps the end and says so.
func TestExtendFromWarning(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := newHarness(t, withClock(clock))
	advance := advancer(t, h, clock)
	id, msg := h.request(requester, "collab-bucket/myfolder/ 1h need it")
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by")
	advance(50 * time.Minute)
	warn := h.waitDM(requester, ":warning:")
	h.click(approver1, warn, "extend") // someone else's DM: refused
	h.waitEphemeral(approver1, "only the requester can ask to extend this access")
	h.click(requester, warn, "extend")
	form, err := h.slack.WaitView(h.ctx(), requester, func(v fakeslack.View) bool { return v.CallbackID == "share_bucket_extend" })
	if err != nil {
		t.Fatal(err)
	}
	if form.PrivateMetadata != id {
		t.Fatalf("form carries %q; want the request ID", form.PrivateMetadata)
	}
	ack, err := h.slack.SubmitView(h.ctx(), requester, form.ID, map[string]map[string]string{
		"extra": {"extra": "soon"}, "reason": {"reason": "more"},
	})
	if err != nil || !strings.Contains(string(ack.Payload), "is not a duration") {
		t.Fatalf("bad duration: ack %s, %v; want the field error", ack.Payload, err)
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, form.ID, map[string]map[string]string{
		"extra": {"extra": "30m"}, "reason": {"reason": "finishing the export"},
	}); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "asked the approvers for 30m more")
	ext := h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.AllText(), "asks for 30m more")
	})
	h.click(approver2, ext, "deny_extension")
	h.waitDM(requester, "Your request for 30m more on your access to `collab-bucket/myfolder/` was denied by <@UAPP2>")
	h.eventually("extension message shows the denial", func() bool {
		return strings.Contains(h.current(ext).AllText(), "Denied by <@UAPP2>") && len(h.current(ext).Buttons()) == 0
	})
}

// TestReminders: an undecided request reminds the approvers in its
// message's thread at each interval, once, and stops once decided.
func TestReminders(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := newHarness(t, withClock(clock), withReminder(20*time.Minute))
	advance := advancer(t, h, clock)
	id, msg := h.request(requester, goodCmd)
	advance(20*time.Minute - time.Second)
	h.settle()
	if n := len(h.slack.Replies(channel, msg.TS)); n != 0 {
		t.Fatalf("%d reminders before the first is due", n)
	}
	advance(time.Second)
	rem, err := h.slack.WaitReply(h.ctx(), channel, msg.TS, func(m fakeslack.Message) bool { return strings.Contains(m.Text, "Reminder") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rem.Text, "request "+id+" from <@UREQ>") || !strings.Contains(rem.Text, "has waited 20m") {
		t.Errorf("reminder = %q", rem.Text)
	}
	advance(20 * time.Minute)
	h.eventually("second reminder", func() bool { return len(h.slack.Replies(channel, msg.TS)) == 2 })
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by")
	advance(time.Hour)
	h.settle()
	if n := len(h.slack.Replies(channel, msg.TS)); n != 2 {
		t.Errorf("%d reminders after the decision; want still 2", n)
	}
}

// TestRemindersByDM: without an approval channel, each approver who has
// not decided yet gets the reminder by DM.
func TestRemindersByDM(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := newHarness(t, withClock(clock), withReminder(20*time.Minute), withDMApprovers(), withRequired(2))
	advance := advancer(t, h, clock)
	h.command(requester, goodCmd)
	msg := h.waitMessage(func(m fakeslack.Message) bool { return m.Channel == fakeslack.DMOf(approver1) })
	h.click(approver1, msg, "approve")
	advance(20 * time.Minute)
	h.waitDM(approver2, ":bell: Reminder")
	h.settle()
	if n := countDMs(h, approver1, ":bell:"); n != 0 {
		t.Errorf("the approver who already approved was reminded %d times", n)
	}
	if n := countDMs(h, requester, ":bell:"); n != 0 {
		t.Errorf("the requester (also an approver) was reminded %d times", n)
	}
}

func countDMs(h *harness, user, contains string) int {
	n := 0
	for _, m := range h.slack.Messages(fakeslack.DMOf(user)) {
		if strings.Contains(m.AllText(), contains) {
			n++
		}
	}
	return n
}

// dateOf renders t as the messages do, for searching.
func dateOf(t time.Time) string {
	return "<!date^" + strconv.FormatInt(t.Unix(), 10) + "^"
}
