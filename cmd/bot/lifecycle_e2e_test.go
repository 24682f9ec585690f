package main_test

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEndToEndExpiryWarning: a 15-minute grant warned 14m40s before its
// end gets the warning about 20 s after approval, once.
func TestEndToEndExpiryWarning(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "EXPIRY_WARNING=14m40s")
	w.start()
	_, msg := w.request(requester, "collab-bucket/myfolder/ 15m short look")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "was approved by")
	approved := time.Now()
	// The shortest grant still gets its sign-in link.
	expectS3(t, w.credentials(loginURL(t, dm)), []s3Check{get(bucket, "myfolder/seed.txt")}, nil)
	warn := w.waitDM(requester, ":warning: Your access to `collab-bucket/myfolder/` ends <!date^")
	if after := time.Since(approved); after < 15*time.Second || after > 35*time.Second {
		t.Errorf("warning came %v after approval; want about 20 s", after)
	}
	time.Sleep(3 * time.Second)
	if n := w.dmCount(requester, ":warning:"); n != 1 {
		t.Errorf("%d warnings; want 1", n)
	}
	// It offers more time, while more time can be had.
	if !strings.Contains(warn.AllText(), "Need more time? *Extend* asks the approvers") || !hasButton(warn, "extend") {
		t.Errorf("warning = %q, buttons %v", warn.AllText(), warn.Buttons())
	}
}

// TestEndToEndApprovalTimeout: an undecided request expires; its buttons
// go away, the requester is told, and later clicks are refused.
func TestEndToEndApprovalTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "APPROVAL_TIMEOUT=20s")
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 1h maybe")
	start := time.Now()
	w.waitDM(requester, "Your request "+id+" for `collab-bucket/myfolder/` expired: nobody decided in time")
	if took := time.Since(start); took < 15*time.Second || took > 40*time.Second {
		t.Errorf("timed out after %v; want about 20 s", took)
	}
	w.eventually("message shows the timeout", 10*time.Second, func() bool {
		m := w.current(msg)
		return strings.Contains(m.AllText(), "Timed out") && len(m.Buttons()) == 0
	})
	w.click(approver1, msg, "approve")
	w.waitEphemeral(approver1, "This request expired: nobody decided in time.")
	if w.fed.Requests() != 0 {
		t.Errorf("a timed-out request was granted")
	}
}

// TestEndToEndKilledBotWarnsOnce: a bot killed with SIGKILL after an
// approval and started again sends the expiry warning exactly once.
func TestEndToEndKilledBotWarnsOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "EXPIRY_WARNING=14m40s")
	b := w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 15m short look")
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "was approved by")
	// Kill it once the approval is fully handled. (Killed in the
	// milliseconds between Slack accepting the DM and the bot recording
	// it, a restarted bot sends the DM again: delivery is at least once
	// in that window, since Slack offers no idempotent post.)
	w.eventually("approval delivered", 10*time.Second, func() bool {
		return strings.Contains(b.logs.String(), `"event delivered","request_id":"`+id+`","event":"approved"`)
	})
	if code, _ := b.stop(syscall.SIGKILL); code == 0 {
		t.Fatalf("SIGKILL exit code 0")
	}
	w.start()
	w.waitDM(requester, ":warning:")
	time.Sleep(5 * time.Second)
	if n := w.dmCount(requester, ":warning:"); n != 1 {
		t.Errorf("%d warnings after a kill and restart; want 1", n)
	}
	if n := w.dmCount(requester, "was approved by"); n != 1 {
		t.Errorf("%d grant DMs; want 1", n)
	}
}

// TestEndToEndGracefulRestart: SIGTERM exits 0 within Docker's default
// stop timeout (10 s), and a request
// made before the restart can be approved after it.
func TestEndToEndGracefulRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.start()
	_, msg := w.request(requester, "collab-bucket/myfolder/ 1h before the restart")
	code, took := b.stop(syscall.SIGTERM)
	if code != 0 || took > 10*time.Second {
		t.Fatalf("SIGTERM: exit %d after %v; want 0 within 10 s", code, took)
	}
	w.start()
	w.click(approver2, msg, "approve")
	dm := w.waitDM(requester, "was approved by <@UAPP2>")
	expectS3(t, w.credentials(loginURL(t, dm)), []s3Check{list(bucket, "myfolder/")}, nil)
}

// TestEndToEndFreshLinkAndRevoke: the requester gets a second working
// link on demand; nobody else can; after the grant is ended no link is
// minted.
func TestEndToEndFreshLinkAndRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h two links")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "was approved by")
	first := loginURL(t, dm)

	w.click(requester, dm, "open_console")
	fresh := w.waitEphemeral(requester, "Here is a fresh sign-in link")
	second := loginURL(t, fresh)
	if second == first {
		t.Fatalf("fresh link equals the first one")
	}
	expectS3(t, w.credentials(second), []s3Check{get(bucket, "myfolder/seed.txt")}, []s3Check{get(bucket, "root.txt")})

	w.click(stranger, dm, "open_console")
	w.waitEphemeral(stranger, "only the requester can open the console")
	if n := w.fed.Requests(); n != 2 {
		t.Errorf("federation calls = %d; want 2", n)
	}

	if got := w.command(requester, "list"); got != "" {
		t.Logf("list ack: %q", got)
	}
	w.waitEphemeral(requester, id+" `collab-bucket/myfolder/` write, active until")

	w.command(approver2, "revoke "+id)
	w.waitEphemeral(approver2, "Done: "+id)
	w.waitDM(requester, "was ended by <@UAPP2>")
	w.eventually("messages updated", 10*time.Second, func() bool {
		return strings.Contains(w.current(msg).AllText(), "Ended early by <@UAPP2>") && !hasButton(w.current(dm), "open_console")
	})
	w.click(requester, dm, "open_console")
	w.waitEphemeral(requester, "This request was ended by <@UAPP2>.")
	if n := w.fed.Requests(); n != 2 {
		t.Errorf("federation calls after revoke = %d; want still 2", n)
	}
	w.click(requester, dm, "end_access")
	w.waitEphemeral(requester, "This request was ended by <@UAPP2>.")

	// The audit log has the whole story, and an operator can read it.
	want := "requested:UREQ approved:UAPP1 link_minted: link_minted:UREQ revoked:UAPP2 cut_sessions: sessions_cut:"
	if got := auditKinds(t, w, id); got != want {
		t.Errorf("audit = %s; want %s", got, want)
	}
}
