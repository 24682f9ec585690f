package slackapp_test

import (
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// TestModal: /share-bucket with no arguments opens a form; bad values are
// shown next to their fields; a good submission becomes a request.
func TestModal(t *testing.T) {
	h := newHarness(t)
	if got := h.command(requester, ""); got != "" {
		t.Errorf("ack for the empty command = %q; want none (the form opens)", got)
	}
	view, err := h.slack.WaitView(h.ctx(), requester, func(v fakeslack.View) bool { return v.CallbackID == "share_bucket_request" })
	if err != nil {
		t.Fatalf("no form opened: %v", err)
	}
	values := func(scope, dur, access, reason string) map[string]map[string]string {
		return map[string]map[string]string{
			"scope": {"scope": scope}, "duration": {"duration": dur}, "access": {"access": access}, "reason": {"reason": reason},
		}
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values("collab-bucket/../x", "5m", "read", "")); err != nil {
		t.Fatal(err)
	}
	got := h.slack.Views(requester)
	if len(got) != 1 {
		t.Fatalf("%d views open; want the form, still open", len(got))
	}
	if !strings.Contains(got[0].Errors["scope"], "not an allowed folder") {
		t.Errorf("scope error = %q", got[0].Errors["scope"])
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values("collab-bucket/myfolder/", "5m", "read", "why")); err != nil {
		t.Fatal(err)
	}
	if e := h.slack.Views(requester)[0].Errors; !strings.Contains(e["duration"], "shortest grant is 15m") {
		t.Errorf("duration error = %v", e)
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values("s3://collab-bucket/myfolder/", "45m", "read", "from the form")); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "for read access to `collab-bucket/myfolder/` for 45m sent to the approvers")
	msg := h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.AllText(), "from the form")
	})
	h.click(approver1, msg, "approve")
	h.waitDM(requester, "Your read access to `collab-bucket/myfolder/` was approved by <@UAPP1>")
}
