package slackapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// TestGrantLifecycle drives a grant through its warning and expiry with a
// fake clock: the requester is warned, told when it ends, the messages
// lose their buttons and links, and no link is minted after the end.
func TestGrantLifecycle(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	h := newHarness(t, withClock(clock))
	advance := func(d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.settle()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("worker not asleep: %v", err)
		}
		clock.Advance(d)
	}

	id, msg := h.request(requester, "collab-bucket/myfolder/ 1h lifecycle")
	h.click(approver1, msg, "approve")
	dm := h.waitDM(requester, "was approved by <@UAPP1>")
	h.command(requester, "list")
	h.waitEphemeral(requester, id+" `collab-bucket/myfolder/` write, active until")

	advance(49 * time.Minute)
	h.settle()
	if n := len(h.slack.Messages(fakeslack.DMOf(requester))); n != 1 {
		t.Fatalf("%d DMs before the warning is due; want 1", n)
	}
	advance(time.Minute)
	h.waitDM(requester, ":warning: Your access to `collab-bucket/myfolder/` ends")

	// Ten minutes left: too little for a new STS session.
	h.click(requester, dm, "open_console")
	h.waitEphemeral(requester, "Less than 15 minutes of this access are left")

	advance(10 * time.Minute)
	h.waitDM(requester, ":lock: Your access to `collab-bucket/myfolder/` has ended")
	h.eventually("messages show the end", func() bool {
		a, g := h.current(msg), h.current(dm)
		return strings.Contains(a.AllText(), "Access expired") && len(a.Buttons()) == 0 &&
			len(g.Buttons()) == 0 && !strings.Contains(g.AllText()+string(g.Blocks), "SIGNIN-SECRET")
	})
	h.click(requester, dm, "open_console")
	h.waitEphemeral(requester, "This access has already ended.")
	h.click(approver2, msg, "end_access")
	if n := h.issuer.issued(); n != 1 {
		t.Errorf("links issued = %d; want 1", n)
	}
	h.command(requester, "list")
	h.waitEphemeral(requester, "You have no pending requests or active grants.")
}
