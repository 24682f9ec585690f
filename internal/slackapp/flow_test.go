package slackapp_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func TestApproveFlow(t *testing.T) {
	h := newHarness(t)
	id, msg := h.request(requester, goodCmd)
	for _, want := range []string{"<@UREQ>", "collab-bucket/myfolder/", "write", "2h", "quarterly numbers", id} {
		if !strings.Contains(msg.AllText(), want) {
			t.Errorf("approval message lacks %q:\n%s", want, msg.AllText())
		}
	}
	if got := buttons(msg); strings.Join(got, ",") != "approve,deny" {
		t.Fatalf("approval buttons = %v; want approve, deny", got)
	}

	h.click(approver1, msg, "approve")
	dm := h.waitDM(requester, "was approved by <@UAPP1>")
	if got := dm.Links(); len(got) != 1 || !strings.Contains(got[0], "SigninToken=SIGNIN-SECRET-1") || !hasButton(dm, "open_console") || !hasButton(dm, "end_access") {
		t.Errorf("grant DM lacks the link or buttons:\n%s\nbuttons %v", dm.AllText(), buttons(dm))
	}
	h.eventually("approval message updated", func() bool { return !hasButton(h.current(msg), "approve") })
	got := h.current(msg)
	if !strings.Contains(got.AllText(), "Approved by <@UAPP1>") || !hasButton(got, "end_access") || hasButton(got, "deny") {
		t.Errorf("approval message after approval:\n%s\nbuttons %v", got.AllText(), buttons(got))
	}
	if h.issuer.issued() != 1 {
		t.Errorf("issued %d links; want 1", h.issuer.issued())
	}
	g := h.issuer.grants[0]
	if g.Requester != requester || g.Approver != approver1 || g.Bucket != "collab-bucket" || g.Prefix != "myfolder/" || g.Session.Hours() != 1 {
		t.Errorf("grant = %+v; want requester's scope, approver1, 1h session", g)
	}
	// The sign-in URL goes to the requester's DM only.
	for _, m := range h.slack.AllMessages() {
		if strings.Contains(m.AllText()+string(m.Blocks), "SIGNIN-SECRET") && m.Channel != fakeslack.DMOf(requester) {
			t.Errorf("sign-in link posted in %s", m.Channel)
		}
	}
}

func TestDeny(t *testing.T) {
	h := newHarness(t)
	id, msg := h.request(requester, goodCmd)
	h.click(approver2, msg, "deny")
	h.waitDM(requester, "was denied by <@UAPP2>")
	h.eventually("message shows denial", func() bool { return strings.Contains(h.current(msg).AllText(), "Denied by <@UAPP2>") })
	if b := buttons(h.current(msg)); len(b) != 0 {
		t.Errorf("buttons after denial = %v; want none", b)
	}
	if h.issuer.issued() != 0 || h.state(id) != approval.StateDenied {
		t.Errorf("issued %d, state %s; want 0, denied", h.issuer.issued(), h.state(id))
	}
	// A later approval changes nothing and says why.
	h.click(approver1, msg, "approve")
	h.waitEphemeral(approver1, "already denied by <@UAPP2>")
	if h.state(id) != approval.StateDenied || h.issuer.issued() != 0 {
		t.Errorf("late approval changed the request")
	}
}

func TestOnlyOtherApproversDecide(t *testing.T) {
	h := newHarness(t)
	// The requester is an approver too, but not for their own request.
	id, msg := h.request(requester, goodCmd)
	h.click(requester, msg, "approve")
	h.waitEphemeral(requester, "cannot decide on your own request")
	h.click(stranger, msg, "approve")
	h.waitEphemeral(stranger, "only approvers can approve or deny")
	h.click(stranger, msg, "deny")
	if h.state(id) != approval.StatePending || h.issuer.issued() != 0 {
		t.Fatalf("state %s, issued %d after refused clicks; want pending, 0", h.state(id), h.issuer.issued())
	}
	if !hasButton(h.current(msg), "approve") {
		t.Errorf("refused clicks removed the buttons")
	}
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP1>")
	h.click(approver2, msg, "approve")
	h.waitEphemeral(approver2, "already approved by <@UAPP1>")
	if h.issuer.issued() != 1 {
		t.Errorf("issued %d; want 1", h.issuer.issued())
	}
}

func TestInvalidCommandsAnsweredInAck(t *testing.T) {
	h := newHarness(t)
	tests := map[string]string{
		"collab-bucket/myfolder/ 2h write":                       "a reason is required",
		"collab-bucket/../etc why":                               "not an allowed folder",
		"other-bucket/x why":                                     "not shareable here",
		"collab-bucket/otherfolder/ why":                         "not shareable here",
		"collab-bucket/myfolder/ 5m why":                         "the shortest grant is 15m",
		"collab-bucket/myfolder/ 13h why":                        "the longest grant is 12h",
		"Not_A_Bucket/x why":                                     "not a valid bucket name",
		"collab-bucket/myfolder/ 1h " + strings.Repeat("x", 600): "the reason is at most 500 characters",
	}
	for text, want := range tests {
		got := h.command(requester, text)
		if !strings.Contains(got, want) || !strings.Contains(got, "Write it like this: `/share-bucket collab-bucket/myfolder/") {
			t.Errorf("ack for %q = %q; want it to say %q and show an example", text, got, want)
		}
	}
	if n := h.slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("%d messages posted for invalid commands; want 0", n)
	}
	if got := h.command(requester, "help"); !strings.Contains(got, "/share-bucket [s3://]BUCKET") {
		t.Errorf("help = %q", got)
	}
}

func TestMultipleApprovals(t *testing.T) {
	h := newHarness(t, withRequired(2))
	id, msg := h.request(requester, goodCmd)
	h.click(approver1, msg, "approve")
	h.eventually("first approval shown", func() bool { return strings.Contains(h.current(msg).AllText(), "(1 of 2)") })
	h.click(approver1, msg, "approve")
	h.waitEphemeral(approver1, "You already approved")
	if h.state(id) != approval.StatePending || h.issuer.issued() != 0 {
		t.Fatalf("one approver twice approved the request")
	}
	h.click(approver2, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP2>")
}

func TestApproversByDM(t *testing.T) {
	h := newHarness(t, withDMApprovers())
	h.command(requester, goodCmd)
	m1 := h.waitDM(approver1, "asks for write access")
	m2 := h.waitDM(approver2, "asks for write access")
	if dm := fakeslack.DMOf(requester); len(h.slack.Messages(dm)) != 0 {
		t.Errorf("the requester, also an approver, got their own request to approve")
	}
	h.click(approver2, m2, "approve")
	h.waitDM(requester, "was approved by <@UAPP2>")
	h.eventually("both approver DMs updated", func() bool {
		return !hasButton(h.current(m1), "approve") && !hasButton(h.current(m2), "approve")
	})
}

// TestConcurrentDecisions has approvers click at the same moment, again
// and again: exactly one decision, at most one link and one DM per request.
func TestConcurrentDecisions(t *testing.T) {
	h := newHarness(t)
	for range 5 {
		id, msg := h.request(requester, goodCmd)
		var wg sync.WaitGroup
		for _, c := range []struct{ user, action string }{{approver1, "approve"}, {approver2, "approve"}, {approver1, "approve"}, {approver2, "deny"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = h.slack.Click(h.ctx(), fakeslack.Click{User: c.user, Channel: msg.Channel, MessageTS: msg.TS, ActionID: c.action, Value: id})
			}()
		}
		wg.Wait()
		dms := func() int {
			n := 0
			for _, m := range h.slack.Messages(fakeslack.DMOf(requester)) {
				if strings.Contains(m.AllText(), id) {
					n++
				}
			}
			return n
		}
		h.eventually("the decision's DM", func() bool { return dms() > 0 })
		h.settle()
		st := h.state(id)
		wantLinks := 0
		if st == approval.StateApproved {
			wantLinks = 1
		}
		if st != approval.StateApproved && st != approval.StateDenied || dms() != 1 || h.issuer.issuedFor(id) != wantLinks {
			t.Errorf("request %s: state %s, %d DMs, %d links; want one decision, 1 DM, %d link", id, st, dms(), h.issuer.issuedFor(id), wantLinks)
		}
	}
}
