package slackapp_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// In process, against the fake Slack and its limits: every message that
// can carry a link fits whatever the link's length; a grant DM Slack
// refuses for good is settled and shown on the approval message, and
// /share-bucket link ID still gets the requester in; flood limits; lists
// in pages.

// withMaxPending sets Policy.MaxPending (zero, the harness's default,
// turns the flood limits off).
func withMaxPending(n int) harnessOpt {
	return func(c *harnessConfig) { c.bot.Policy.MaxPending = n }
}

// longLinks makes the harness's issuer hand out links of n characters.
func (h *harness) longLinks(n int) {
	h.issuer.mu.Lock()
	h.issuer.urlLen = n
	h.issuer.mu.Unlock()
}

// linkIn returns the one link m carries in rich text, failing t unless
// there is exactly one, of want characters, and none outside rich text.
func linkIn(t *testing.T, m fakeslack.Message, want int) string {
	t.Helper()
	got := m.Links()
	if len(got) != 1 {
		t.Fatalf("message carries %d links; want 1:\n%s", len(got), m.AllText())
	}
	u := strings.TrimSuffix(strings.TrimPrefix(got[0], "curl -T FILE '"), "'")
	if len(u) != want {
		t.Errorf("link is %d characters; want %d", len(u), want)
	}
	if strings.Contains(m.Text, "SECRET") || strings.Contains(m.BlockText(), "SECRET") && !strings.Contains(m.BlockText(), "curl -T FILE") {
		t.Errorf("the link shows outside its rich text (notification text %q)", m.Text)
	}
	return u
}

// TestLinksFitSlack: with a 4,000-character link, the longest folder and
// the longest key, the grant DM, the fresh link of its button and the
// reply to /share-bucket link ID are all accepted by the fake Slack,
// which refuses what Slack refuses, and each carries the whole link.
func TestLinksFitSlack(t *testing.T) {
	folder := "myfolder/" + strings.Repeat("f", approval.MaxPrefixLen-len("myfolder/")-1) + "/"
	key := "myfolder/" + strings.Repeat("k", approval.MaxKeyLen-len("myfolder/"))
	if len(folder) != approval.MaxPrefixLen || len(key) != approval.MaxKeyLen {
		t.Fatalf("folder %d, key %d characters; want %d and %d", len(folder), len(key), approval.MaxPrefixLen, approval.MaxKeyLen)
	}
	const urlLen = 4000
	tests := []struct {
		name, cmd, button, fresh string
	}{
		{"folder", "collab-bucket/" + folder + " 2h write long folder", "open_console", "Here is a fresh sign-in link"},
		{"get", "get collab-bucket/" + key + " 2h longest key", "new_link", "Here is a new link to download"},
		{"put", "put collab-bucket/" + key + " 2h longest key", "new_link", "Here is a new link to upload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.longLinks(urlLen)
			id, msg := h.request(requester, tt.cmd)
			h.click(approver1, msg, "approve")
			dm := h.waitDM(requester, "was approved by <@UAPP1>")
			first := linkIn(t, dm, urlLen)

			h.click(requester, dm, tt.button)
			second := linkIn(t, h.waitEphemeral(requester, tt.fresh), urlLen)

			if ack := h.command(requester, "link "+strings.ToLower(id)); ack != "" {
				t.Errorf("link acked %q; want nothing until the link is minted", ack)
			}
			var third string
			h.eventually("the link reply", func() bool {
				for _, m := range h.slack.Ephemerals(requester) {
					if strings.Contains(m.AllText(), tt.fresh) && len(m.Links()) == 1 {
						if u := linkIn(t, m, urlLen); u != second {
							third = u
						}
					}
				}
				return third != ""
			})
			if first == second || second == third || first == third {
				t.Errorf("the three links are not three fresh ones")
			}
			if r, err := h.svc.Get(context.Background(), id); err != nil || r.Undelivered != "" {
				t.Errorf("grant %v, Undelivered %q; want its DM delivered", err, r.Undelivered)
			}
			if errs := h.slack.ProtocolErrors(); len(errs) > 0 {
				t.Errorf("protocol errors: %v", errs)
			}
		})
	}
}

// TestGrantDMRefused: a grant DM that Slack refuses for good (the
// blocks, a deactivated requester, a bot) is not retried: the approval
// message says the link was not delivered and why, and the requester can
// still get one with /share-bucket link ID.
func TestGrantDMRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		code  string
	}{
		{"invalid_blocks", func(h *harness) {
			h.slack.FailNext("chat.postMessage", fakeslack.Fault{Channel: requester, Error: "invalid_blocks"})
		}, "invalid_blocks: Slack refused the message's layout"},
		{"deactivated", func(h *harness) {
			h.slack.SetUser(fakeslack.User{ID: requester, Deleted: true})
		}, "user_disabled: the requester's Slack account is deactivated"},
		{"bot", func(h *harness) {
			h.slack.SetUser(fakeslack.User{ID: requester, IsBot: true})
		}, "cannot_dm_bot: the requester is a bot user, which cannot get DMs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			id, msg := h.request(requester, goodCmd)
			tt.setup(h)
			h.click(approver1, msg, "approve")
			want := fmt.Sprintf("The link could not be sent to <@UREQ> (%s). They can get one with `/share-bucket link %s`", tt.code, id)
			h.eventually("the approval message says the link was not delivered", func() bool {
				return strings.Contains(h.current(msg).AllText(), want)
			})
			if got := h.current(msg); !hasButton(got, "end_access") || !strings.Contains(got.AllText(), "Approved by <@UAPP1>") {
				t.Errorf("approval message lost its state:\n%s", got.AllText())
			}
			if n := countEvents(t, h, id, approval.EventLinkUndelivered); n != 1 {
				t.Errorf("%d link_undelivered events; want 1", n)
			}
			if n := len(h.slack.Messages(fakeslack.DMOf(requester))); n != 0 {
				t.Errorf("%d DMs to the requester; want none", n)
			}
			if tt.name != "invalid_blocks" {
				return
			}
			h.command(requester, "link "+id)
			m := h.waitEphemeral(requester, "Here is a fresh sign-in link")
			if u := m.Links(); len(u) != 1 || !strings.Contains(u[0], "SIGNIN-SECRET-2") {
				t.Errorf("link reply carries %v; want the second link", u)
			}
		})
	}
}

// TestLinkCommandRules: /share-bucket link ID follows the fresh-link
// button's rules: the requester of an active grant only, in a reply only
// they see.
func TestLinkCommandRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id, msg := h.request(requester, goodCmd)
	h.command(requester, "link "+id)
	h.waitEphemeral(requester, "This request is still waiting for the approvers")
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by")

	h.command(approver2, "link "+id)
	h.waitEphemeral(approver2, "only the requester can open the console for this grant")
	h.command(stranger, "link "+id)
	h.waitEphemeral(stranger, "only the requester can open the console for this grant")
	h.command(requester, "link AAAAAAAAAA")
	h.waitEphemeral(requester, "There is no request with that ID.")
	h.command(requester, "link "+id)
	h.waitEphemeral(requester, "Here is a fresh sign-in link")
	if n := h.issuer.issuedFor(id); n != 2 {
		t.Errorf("%d links minted; want 2 (the first, the requester's)", n)
	}
	for _, u := range []string{approver1, approver2, stranger} {
		for _, m := range h.slack.Ephemerals(u) {
			if strings.Contains(m.AllText()+string(m.Blocks), "SIGNIN-SECRET") {
				t.Errorf("%s was shown a link", u)
			}
		}
	}
	for _, m := range h.slack.Messages(channel) {
		if strings.Contains(m.AllText()+string(m.Blocks), "SIGNIN-SECRET") {
			t.Errorf("a link was posted in the channel")
		}
	}

	h.command(approver2, "revoke "+id)
	h.waitEphemeral(approver2, "Done: "+id)
	h.command(requester, "link "+id)
	h.waitEphemeral(requester, "This request was ended by <@UAPP2>.")

	oid, omsg := h.request(requester, "get collab-bucket/myfolder/report.pdf 1h for the auditors")
	h.click(approver1, omsg, "approve")
	h.waitDM(requester, "Your request to download one file")
	h.command(requester, "link "+oid)
	if u := h.waitEphemeral(requester, "Here is a new link to download").Links(); len(u) != 1 || !strings.Contains(u[0], "PRESIGNED-SECRET") {
		t.Errorf("object link reply carries %v; want a presigned link", u)
	}
	if n := h.issuer.issuedFor(id); n != 2 {
		t.Errorf("%d links minted for the ended grant; want still 2", n)
	}
}

// TestFloodLimits: the same request while one is pending is answered
// with the pending one; past MaxPending a request is refused, naming the
// pending ones; a decision makes room.
func TestFloodLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withMaxPending(2))
	id1, msg1 := h.request(requester, goodCmd)
	again := idOf(t, h.command(requester, "collab-bucket/myfolder/ 2h write the same, in other words"))
	h.waitEphemeral(requester, "You already asked for this: request "+id1+" (`collab-bucket/myfolder/` write for 2h)")
	h.waitEphemeral(requester, "Request "+again+" was not sent")
	id2, _ := h.request(requester, "collab-bucket/myfolder/sub/ 1h read something else")
	third := idOf(t, h.command(requester, "collab-bucket/myfolder/ 3h write a third"))
	h.waitEphemeral(requester, fmt.Sprintf("Request %s was not sent: you already have 2 requests waiting for the approvers (%s, %s), and 2 is the most.", third, id2, id1))
	h.settle()
	if n := len(h.slack.Messages(channel)); n != 2 {
		t.Errorf("%d approval messages; want 2", n)
	}
	if rs := requestsOf(t, h, requester); len(rs) != 2 {
		t.Errorf("%d requests stored; want 2", len(rs))
	}
	// Others are not held up by the requester's limit.
	h.request(approver2, "collab-bucket/myfolder/ 3h write a third")

	h.click(approver1, msg1, "deny")
	h.waitDM(requester, "was denied")
	h.request(requester, "collab-bucket/myfolder/ 3h write a third")
}

var listLineRE = regexp.MustCompile(`(?m)^• ([A-Z2-7]{10}) `)

// TestListPages: an approver sees every pending request, a page at a
// time, with how many there are and how to see the next page.
func TestListPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = slackapp.ListPageSize + 2
	var want []string
	for i := range n {
		id, _ := h.request(requester, fmt.Sprintf("collab-bucket/myfolder/ 2h write request %d", i))
		want = append(want, id)
	}
	reply := func(text, contains string) string {
		t.Helper()
		before := len(h.slack.Ephemerals(approver1))
		h.command(approver1, text)
		var got string
		h.eventually("reply to "+text, func() bool {
			es := h.slack.Ephemerals(approver1)
			if len(es) > before && strings.Contains(es[len(es)-1].Text, contains) {
				got = es[len(es)-1].Text
			}
			return got != ""
		})
		if utf8.RuneCountInString(got) > 4000 {
			t.Errorf("reply to %s is %d characters; Slack asks for at most 4,000", text, utf8.RuneCountInString(got))
		}
		return got
	}
	page1 := reply("list", fmt.Sprintf("Page 1 of 2 (%d requests wait in all). Next: `/share-bucket list 2`.", n))
	page2 := reply("list 2", fmt.Sprintf("Page 2 of 2 (%d requests wait in all).", n))
	reply("list 3", fmt.Sprintf("There is no page 3: %d requests wait for a decision, on pages 1 to 2.", n))
	var seen []string
	for _, p := range []string{page1, page2} {
		for _, m := range listLineRE.FindAllStringSubmatch(p, -1) {
			seen = append(seen, m[1])
		}
	}
	if got := len(listLineRE.FindAllString(page1, -1)); got != slackapp.ListPageSize {
		t.Errorf("page 1 lists %d requests; want %d", got, slackapp.ListPageSize)
	}
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages list %v; want every pending request once: %v", seen, want)
	}
}

// TestFloodLimitsForm: a request from the form that is the same as a
// pending one is answered by DM (the form's reply) with the pending one,
// and is not stored.
func TestFloodLimitsForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withMaxPending(5))
	id, _ := h.request(requester, "collab-bucket/myfolder/ 45m read first")
	h.command(requester, "")
	view, err := h.slack.WaitView(h.ctx(), requester, func(v fakeslack.View) bool { return v.CallbackID == "share_bucket_request" })
	if err != nil {
		t.Fatalf("no form opened: %v", err)
	}
	values := map[string]map[string]string{
		"scope": {"scope": "collab-bucket/myfolder/"}, "duration": {"duration": "45m"}, "access": {"access": "read"}, "reason": {"reason": "again"},
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "You already asked for this: request "+id)
	h.settle()
	if rs := requestsOf(t, h, requester); len(rs) != 1 {
		t.Errorf("%d requests stored; want 1", len(rs))
	}
}

// TestDeactivatedApproverSkipped: with approvals by DM, an approver who
// cannot get DMs (deactivated) is skipped rather than retried, so the
// request's later notices, the grant DM among them, are not held up
// behind the announcement.
func TestDeactivatedApproverSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDMApprovers())
	h.slack.SetUser(fakeslack.User{ID: approver2, Deleted: true})
	h.command(requester, goodCmd)
	msg := h.waitMessage(func(m fakeslack.Message) bool { return m.Channel == fakeslack.DMOf(approver1) })
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "was approved by <@UAPP1>")
	if n := len(h.slack.Messages(fakeslack.DMOf(approver2))); n != 0 {
		t.Errorf("%d messages to the deactivated approver", n)
	}
}
