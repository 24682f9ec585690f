package main_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// The end-to-end tests of "no grant stuck" and "flood limits": a grant
// DM Slack refuses, a deactivated requester, /share-bucket link ID with
// its links used against MinIO, the pending limit, the same request
// answered with the pending one, and an approver's list in pages.

// waitApproval waits until the approval message shows text.
func (w *world) waitApproval(msg fakeslack.Message, text string) {
	w.t.Helper()
	w.eventually("approval message showing "+text, 20*time.Second, func() bool {
		return strings.Contains(w.current(msg).AllText(), text)
	})
}

// TestEndToEndGrantDMInvalidBlocks: Slack refuses the grant DM with
// invalid_blocks. The approval is not retried for ever: the approval
// message says the link was not delivered and why, and /share-bucket
// link ID gives the requester a working link that only they see.
func TestEndToEndGrantDMInvalidBlocks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h refused dm")
	w.slack.FailAlways("chat.postMessage", fakeslack.Fault{Channel: requester, Error: "invalid_blocks"})
	w.click(approver1, msg, "approve")
	w.waitApproval(msg, "The link could not be sent to <@UREQ> (invalid_blocks: Slack refused the message's layout). They can get one with `/share-bucket link "+id+"`")
	w.slack.ClearFaults()
	if got := w.current(msg); !strings.Contains(got.AllText(), "Approved by <@UAPP1>") || !hasButton(got, "end_access") {
		t.Errorf("approval message after the refused DM:\n%s", got.AllText())
	}

	w.command(stranger, "link "+id)
	w.waitEphemeral(stranger, "only the requester can open the console for this grant")
	w.command(approver1, "link "+id)
	w.waitEphemeral(approver1, "only the requester can open the console for this grant")
	if ack := w.command(requester, "link "+id); ack != "" {
		t.Errorf("link acked %q; want no ack text", ack)
	}
	reply := w.waitEphemeral(requester, "Here is a fresh sign-in link for `collab-bucket/myfolder/`")
	expectS3(t, w.credentials(loginURL(t, reply)),
		[]s3Check{get(bucket, "myfolder/seed.txt"), list(bucket, "myfolder/")},
		[]s3Check{get(bucket, "other/secret.txt")})
	if n := len(w.slack.Messages(fakeslack.DMOf(requester))); n != 0 {
		t.Errorf("%d DMs reached the requester after the refusal; want none (the approval is settled)", n)
	}
	if got, want := auditKinds(t, w, id), "requested:UREQ approved:UAPP1 link_minted: link_undelivered: link_minted:UREQ"; got != want {
		t.Errorf("audit = %s; want %s", got, want)
	}
	if n := w.fed.Requests(); n != 2 {
		t.Errorf("federation calls = %d; want 2 (the undelivered link, the one by command)", n)
	}
}

// TestEndToEndDeactivatedRequester: the requester's account is
// deactivated before the approval; the DM cannot be opened, and the
// approval message says so.
func TestEndToEndDeactivatedRequester(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h leaving soon")
	w.slack.SetUser(fakeslack.User{ID: requester, Deleted: true})
	w.click(approver2, msg, "approve")
	w.waitApproval(msg, "The link could not be sent to <@UREQ> (user_disabled: the requester's Slack account is deactivated).")
	if !strings.Contains(auditKinds(t, w, id), "link_undelivered:") {
		t.Errorf("audit lacks link_undelivered")
	}
	// An approver can still end it, and the ended grant says so.
	w.command(approver2, "revoke "+id)
	w.waitEphemeral(approver2, "Done: "+id)
	w.waitApproval(msg, "Ended early by <@UAPP2>")
}

// TestEndToEndLinkCommand: /share-bucket link ID for the requester of an
// active grant, folder or file; refused for anyone else, for a request
// still pending, and once the grant has ended.
func TestEndToEndLinkCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h by command")
	w.command(requester, "link "+id)
	w.waitEphemeral(requester, "This request is still waiting for the approvers")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "was approved by <@UAPP1>")
	first := loginURL(t, dm)

	w.command(requester, "link "+strings.ToLower(id))
	second := loginURL(t, w.waitEphemeral(requester, "Here is a fresh sign-in link"))
	if second == first {
		t.Errorf("link ID returned the DM's link")
	}
	expectS3(t, w.credentials(second), []s3Check{put(bucket, "myfolder/by-command.txt")}, []s3Check{put(bucket, "other/by-command.txt")})
	w.command(approver2, "link "+id)
	w.waitEphemeral(approver2, "only the requester can open the console for this grant")

	oid, omsg := w.request(requester, "get collab-bucket/myfolder/seed.txt 1h by command")
	w.click(approver2, omsg, "approve")
	w.waitDM(requester, "Your request to download one file")
	w.command(requester, "link "+oid)
	link := presignedURL(t, w.waitEphemeral(requester, "Here is a new link to download `collab-bucket/myfolder/seed.txt`"))
	if code, body := send(t, http.MethodGet, link, ""); code != 200 || body != "seed" {
		t.Errorf("GET with the link by command = %d %q; want 200 and the object", code, body)
	}
	w.command(stranger, "link "+oid)
	w.waitEphemeral(stranger, "only the requester can get a link for this grant")

	w.command(requester, "revoke "+id)
	w.waitEphemeral(requester, "Done: "+id)
	w.command(requester, "link "+id)
	w.waitEphemeral(requester, "This request was ended by <@UREQ>.")
	w.command(requester, "link AAAAAAAAAA")
	w.waitEphemeral(requester, "There is no request with that ID.")
	if n := w.fed.Requests(); n != 2 {
		t.Errorf("federation calls = %d; want 2 (the DM's link and the one by command)", n)
	}
	for _, u := range []string{approver1, approver2, stranger} {
		for _, m := range w.slack.Ephemerals(u) {
			if len(m.Links()) > 0 {
				t.Errorf("%s was shown a link: %s", u, m.AllText())
			}
		}
	}
	if got := w.command(requester, "help"); !strings.Contains(got, "/share-bucket link ID") {
		t.Errorf("help does not list link ID:\n%s", got)
	}
}

// TestEndToEndPendingLimit: with MAX_PENDING_PER_USER=2, the same request
// again is answered with the pending one, a third is refused naming the
// two, and only two approval messages are posted.
func TestEndToEndPendingLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "MAX_PENDING_PER_USER=2")
	w.start()
	first, msg := w.request(requester, "collab-bucket/myfolder/ 2h write numbers")
	w.command(requester, "collab-bucket/myfolder/ 2h write numbers, again")
	w.waitEphemeral(requester, "You already asked for this: request "+first+" (`collab-bucket/myfolder/` write for 2h)")
	second, _ := w.request(requester, "collab-bucket/myfolder/ 1h read something else")
	ack := w.command(requester, "get collab-bucket/myfolder/seed.txt 1h a third")
	third := requestIDRE.FindStringSubmatch(ack)
	if third == nil {
		t.Fatalf("ack %q names no request", ack)
	}
	w.waitEphemeral(requester, fmt.Sprintf("Request %s was not sent: you already have 2 requests waiting for the approvers (%s, %s), and 2 is the most.", third[1], second, first))
	time.Sleep(2 * time.Second) // posts to the channel are paced at one a second
	if n := len(w.slack.Messages(channel)); n != 2 {
		t.Errorf("%d approval messages; want 2", n)
	}
	w.click(approver1, msg, "deny")
	w.waitDM(requester, "was denied by <@UAPP1>")
	w.request(requester, "get collab-bucket/myfolder/seed.txt 1h a third, once there is room")
}

var listedRE = regexp.MustCompile(`(?m)^• ([A-Z2-7]{10}) `)

// TestEndToEndListPages: more pending requests than one page holds; the
// approver's list shows them all, a page at a time, none dropped.
func TestEndToEndListPages(t *testing.T) {
	t.Parallel()
	const n = 13
	w := newWorld(t, fmt.Sprintf("MAX_PENDING_PER_USER=%d", n))
	w.start()
	var want []string
	for i := range n {
		ack := w.command(requester, fmt.Sprintf("collab-bucket/myfolder/f%d/ 1h read page test %d", i, i))
		m := requestIDRE.FindStringSubmatch(ack)
		if m == nil {
			t.Fatalf("ack %q names no request", ack)
		}
		want = append(want, m[1])
	}
	// reply runs cmd as user and returns the text of the reply.
	reply := func(user, cmd string) string {
		t.Helper()
		before := len(w.slack.Ephemerals(user))
		w.command(user, cmd)
		var got string
		w.eventually("reply to "+cmd, 20*time.Second, func() bool {
			if es := w.slack.Ephemerals(user); len(es) > before {
				got = es[before].Text
			}
			return got != ""
		})
		return got
	}
	var page1 string
	w.eventually("every request stored", 20*time.Second, func() bool {
		page1 = reply(approver1, "list")
		return strings.Contains(page1, fmt.Sprintf("Page 1 of 2 (%d requests wait in all). Next: `/share-bucket list 2`.", n))
	})
	page2 := reply(approver1, "list 2")
	if !strings.Contains(page2, fmt.Sprintf("Page 2 of 2 (%d requests wait in all).", n)) {
		t.Errorf("page 2 = %q", page2)
	}
	var seen []string
	for _, p := range []string{page1, page2} {
		if len(p) > 4000 {
			t.Errorf("a page is %d characters; Slack asks for at most 4,000", len(p))
		}
		for _, m := range listedRE.FindAllStringSubmatch(p, -1) {
			seen = append(seen, m[1])
		}
	}
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages listed %v; want each pending request once: %v", seen, want)
	}
	if got, want := reply(approver1, "list 3"), fmt.Sprintf("There is no page 3: %d requests wait for a decision, on pages 1 to 2.", n); got != want {
		t.Errorf("list 3 = %q; want %q", got, want)
	}
	// The requester's own requests are on their first page.
	if got := reply(requester, "list"); len(listedRE.FindAllString(got, -1)) != n {
		t.Errorf("the requester's list shows %d requests; want their %d:\n%s", len(listedRE.FindAllString(got, -1)), n, got)
	}
}
