package main_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// TestEndToEndExtend: the requester asks for more time; the approvers
// decide it like a request; approved, the requester hears the new end and
// the original approval message shows it. Someone else cannot ask.
func TestEndToEndExtend(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h short")
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "Request "+id+". Need the console")

	w.command(stranger, "extend "+id+" 1h me too")
	w.waitEphemeral(stranger, "only the requester can ask to extend this access")
	w.command(requester, "extend "+id+" 3h still auditing")
	w.waitEphemeral(requester, "Request "+id+": asked the approvers for 3h more")
	ext := w.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.AllText(), "asks for 3h more on their access to `collab-bucket/myfolder/`")
	})
	w.waitRemembered(ext)
	w.click(approver2, ext, "approve_extension")
	dm := w.waitDM(requester, "was extended by 3h, approved by <@UAPP2>: it now ends <!date^")
	if !strings.Contains(dm.AllText(), "(request "+id+")") {
		t.Errorf("extended DM = %q", dm.AllText())
	}
	w.eventually("the approval message shows the new end", 10*time.Second, func() bool {
		end := between(dm.Text, "it now ends ", " (request")
		return end != "" && strings.Contains(w.current(msg).AllText(), "Access until "+end)
	})
	if got := auditKinds(t, w, id); !strings.Contains(got, "extension_requested:UREQ extended:UAPP2") {
		t.Errorf("audit = %s", got)
	}
}

// between returns the text between before and after in s, or "".
func between(s, before, after string) string {
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		return ""
	}
	out, _, ok := strings.Cut(rest, after)
	if !ok {
		return ""
	}
	return out
}

// TestEndToEndReminder: with APPROVAL_REMINDER=10s an undecided request
// reminds the approvers in its message's thread after 10 s, and no more
// once decided.
func TestEndToEndReminder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "APPROVAL_REMINDER=10s")
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h remind me")
	asked := time.Now()
	rem, err := w.slack.WaitReply(w.ctx(), channel, msg.TS, func(m fakeslack.Message) bool { return strings.Contains(m.Text, ":bell: Reminder") })
	if err != nil {
		t.Fatal(err)
	}
	if after := time.Since(asked); after < 9*time.Second || after > 20*time.Second {
		t.Errorf("reminder came %v after the request; want about 10 s", after)
	}
	if !strings.Contains(rem.Text, "request "+id+" from <@UREQ>") {
		t.Errorf("reminder = %q", rem.Text)
	}
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "was approved by")
	n := len(w.slack.Replies(channel, msg.TS))
	time.Sleep(12 * time.Second)
	if got := len(w.slack.Replies(channel, msg.TS)); got != n {
		t.Errorf("%d reminders after the decision; want none", got-n)
	}
}

// TestEndToEndHome: opening the Home tab publishes the user's grant with
// its buttons, and the approvers' pending requests with Approve and Deny.
func TestEndToEndHome(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h home")
	if _, err := w.slack.AppHomeOpened(w.ctx(), approver1, "home"); err != nil {
		t.Fatal(err)
	}
	v, err := w.slack.WaitHome(w.ctx(), approver1, func(v fakeslack.View) bool { return strings.Contains(string(v.Blocks), "Request "+id) })
	if err != nil {
		t.Fatal(err)
	}
	if b := homeButtons(v); !slices.Contains(b, "approve") || !slices.Contains(b, "deny") {
		t.Errorf("approver's home buttons = %v", b)
	}
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "Request "+id+". Need the console")
	if _, err := w.slack.AppHomeOpened(w.ctx(), requester, "home"); err != nil {
		t.Fatal(err)
	}
	v, err = w.slack.WaitHome(w.ctx(), requester, func(v fakeslack.View) bool {
		b := homeButtons(v)
		return strings.Contains(string(v.Blocks), "Request "+id) && slices.Contains(b, "open_console") && slices.Contains(b, "end_access")
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(v.Blocks), "SigninToken") {
		t.Errorf("the Home tab holds a sign-in link")
	}
	// The approver's Home follows: nothing waits any more.
	if _, err := w.slack.WaitHome(w.ctx(), approver1, func(v fakeslack.View) bool {
		return strings.Contains(string(v.Blocks), "Nothing waits for your decision")
	}); err != nil {
		t.Fatal(err)
	}
}

func homeButtons(v fakeslack.View) []string {
	var out []string
	for _, b := range v.Buttons() {
		out = append(out, b.ActionID)
	}
	return out
}

// TestEndToEndGroupApprovers: a member of a user group named in APPROVERS
// approves; once taken out of the group, they cannot.
func TestEndToEndGroupApprovers(t *testing.T) {
	t.Parallel()
	setup(t)
	w := newWorld(t)
	group := w.slack.CreateUserGroup("security", stranger)
	w.env["APPROVERS"] = approver1 + "," + group
	w.start()
	_, msg := w.request(requester, "collab-bucket/myfolder/ 1h group")
	w.click(stranger, msg, "approve")
	w.waitDM(requester, "was approved by <@UOTHER>")

	id2, msg2 := w.request(requester, "collab-bucket/myfolder/ 1h group again")
	if err := w.slack.SetUserGroupMembers(group, approver2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // a click reads the group at most every 5 s
	w.click(stranger, msg2, "approve")
	w.waitEphemeral(stranger, "only approvers can approve or deny")
	w.click(approver2, msg2, "approve")
	w.waitDM(requester, "Request "+id2+". Need the console")
}
