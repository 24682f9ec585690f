package slackapp_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// home opens user's Home tab and returns it once it matches.
func (h *harness) home(user string, match func(fakeslack.View) bool) fakeslack.View {
	h.t.Helper()
	if _, err := h.slack.AppHomeOpened(h.ctx(), user, "home"); err != nil {
		h.t.Fatal(err)
	}
	return h.waitHome(user, match)
}

func (h *harness) waitHome(user string, match func(fakeslack.View) bool) fakeslack.View {
	h.t.Helper()
	v, err := h.slack.WaitHome(h.ctx(), user, match)
	if err != nil {
		cur, _ := h.slack.HomeView(user)
		h.t.Fatalf("home of %s never matched (now %s): %v", user, cur.Blocks, err)
	}
	return v
}

func viewButtons(v fakeslack.View) []string {
	var ids []string
	for _, b := range v.Buttons() {
		ids = append(ids, b.ActionID)
	}
	return ids
}

// TestAppHome: opening the Home tab shows the user's requests and grants,
// and approvers what waits for them; its buttons act as the messages' do,
// and Homes follow changes; a fresh link goes to the requester alone.
func TestAppHome(t *testing.T) {
	h := newHarness(t)
	id, _ := h.request(requester, goodCmd)
	h.home(requester, func(v fakeslack.View) bool {
		return strings.Contains(string(v.Blocks), "Request "+id) && slices.Contains(viewButtons(v), "end_access")
	})
	v := h.home(approver1, func(v fakeslack.View) bool { return strings.Contains(string(v.Blocks), "Waiting for your decision") })
	if !strings.Contains(string(v.Blocks), "Request "+id) || !slices.Contains(viewButtons(v), "approve") {
		t.Fatalf("approver's home lacks the request: %s", v.Blocks)
	}
	if _, err := h.slack.Click(h.ctx(), v.ClickOn(approver1, "approve")); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "was approved by <@UAPP1>")
	h.waitHome(approver1, func(v fakeslack.View) bool {
		return strings.Contains(string(v.Blocks), "Nothing waits for your decision")
	})
	mine := h.waitHome(requester, func(v fakeslack.View) bool {
		b := viewButtons(v)
		return slices.Contains(b, "open_console") && slices.Contains(b, "end_access") && slices.Contains(b, "extend")
	})

	// A link asked for in the Home tab goes to the requester's DM, shown
	// to them alone; the Home tab never holds one.
	before := h.issuer.issued()
	if _, err := h.slack.Click(h.ctx(), mine.ClickOn(requester, "open_console")); err != nil {
		t.Fatal(err)
	}
	eph := h.waitEphemeral(requester, "Here is a fresh sign-in link")
	if eph.Channel != fakeslack.DMOf(requester) || eph.ForUser != requester {
		t.Errorf("fresh link shown in %s to %s; want the requester's DM, to them", eph.Channel, eph.ForUser)
	}
	if h.issuer.issued() != before+1 {
		t.Errorf("%d links minted by the Home click; want 1", h.issuer.issued()-before)
	}
	for _, u := range []string{requester, approver1} {
		if cur, _ := h.slack.HomeView(u); strings.Contains(string(cur.Blocks), "SIGNIN-SECRET") {
			t.Errorf("%s's Home holds a sign-in link", u)
		}
	}
	// A stranger sees no approvals section.
	if v := h.home(stranger, func(fakeslack.View) bool { return true }); strings.Contains(string(v.Blocks), "Waiting for your decision") {
		t.Errorf("a stranger's home offers decisions: %s", v.Blocks)
	}
	// End access from the Home tab.
	if _, err := h.slack.Click(h.ctx(), mine.ClickOn(requester, "end_access")); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "was ended by <@UREQ>")
	h.waitHome(requester, func(v fakeslack.View) bool {
		return strings.Contains(string(v.Blocks), "You have no pending requests or active grants")
	})
}

// TestGroupApprovers: members of a user group named in APPROVERS approve;
// someone taken out of the group cannot, at once; nobody approves their
// own request through a group.
func TestGroupApprovers(t *testing.T) {
	h := newHarness(t,
		withSlack(fakeslack.WithUsers(requester, approver1, approver2, stranger, "UGRP1", "UGRP2")),
		withApproverGroup("security", "UGRP1", requester))
	_, msg := h.request(requester, goodCmd)
	h.click("UGRP1", msg, "approve")
	h.waitDM(requester, "was approved by <@UGRP1>")

	id2, msg2 := h.request(requester, goodCmd+" again")
	if err := h.slack.SetUserGroupMembers(h.groups[0], "UGRP2", requester); err != nil {
		t.Fatal(err)
	}
	h.click("UGRP1", msg2, "approve")
	h.waitEphemeral("UGRP1", "only approvers can approve or deny")
	h.click("UGRP2", msg2, "approve")
	h.waitDM(requester, "Request "+id2+". Need the console")

	// The requester is in the group too, and still cannot approve their own.
	_, msg3 := h.request(requester, goodCmd+" third")
	h.click(requester, msg3, "approve")
	h.waitEphemeral(requester, "you cannot decide on your own request")
}
