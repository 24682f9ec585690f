package slackapp_test

import (
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// TestObjectFlow: get and put requests go through the same approval as
// folders, in their own words; the grant DM carries the presigned link
// (for put, the curl line and the key), New link mints a fresh one for
// the requester from the DM only, and nothing is minted after the end.
func TestObjectFlow(t *testing.T) {
	h := newHarness(t)

	// Refusals show an example of the same kind.
	for text, want := range map[string]string{
		"get collab-bucket 1h why":              "get takes one file",
		"put collab-bucket/myfolder/ 1h why":    "is a folder, and put takes one file",
		"get collab-bucket/root.txt 1h outside": "is not shareable here",
		"get collab-bucket/myfolder 1h beside":  "is not shareable here",
	} {
		got := h.command(requester, text)
		kind := "get"
		if strings.HasPrefix(text, "put") {
			kind = "put"
		}
		if !strings.Contains(got, want) || !strings.Contains(got, "Write it like this: `/share-bucket "+kind+" collab-bucket/myfolder/") {
			t.Errorf("ack for %q = %q; want %q and a %s example", text, got, want, kind)
		}
	}
	if got := h.command(requester, "help"); !strings.Contains(got, "/share-bucket get [s3://]BUCKET/KEY") || !strings.Contains(got, "/share-bucket put [s3://]BUCKET/KEY") {
		t.Errorf("help = %q; want get and put", got)
	}

	id, msg := h.request(requester, "get collab-bucket/myfolder/report.pdf 2h for the auditors")
	for _, want := range []string{"asks for a link to download one file, `collab-bucket/myfolder/report.pdf`, for 2h", "*File*", "download one file"} {
		if !strings.Contains(msg.AllText(), want) {
			t.Errorf("approval message lacks %q:\n%s", want, msg.AllText())
		}
	}
	h.click(requester, msg, "approve")
	h.waitEphemeral(requester, "cannot decide on your own request")
	h.click(approver1, msg, "approve")
	dm := h.waitDM(requester, "Your request to download one file (`collab-bucket/myfolder/report.pdf`) was approved by <@UAPP1>")
	first := dm.Links()
	if len(first) != 1 || !strings.Contains(first[0], "PRESIGNED-SECRET-1") || !strings.HasPrefix(first[0], "https://collab-bucket.s3.example/myfolder/report.pdf?") {
		t.Errorf("grant DM links = %q; want the presigned download link", first)
	}
	if !hasButtons(dm, "new_link", "end_access") {
		t.Errorf("grant DM buttons = %v; want New link and End access", buttons(dm))
	}
	if strings.Contains(dm.Text, "PRESIGNED") {
		t.Errorf("the DM's notification text carries the link: %q", dm.Text)
	}
	h.command(requester, "list")
	h.waitEphemeral(requester, id+" `collab-bucket/myfolder/report.pdf` download one file, active until")

	// New link: for the requester, from the grant DM only.
	h.click(requester, dm, "new_link")
	fresh := h.waitEphemeral(requester, "Here is a new link to download `collab-bucket/myfolder/report.pdf`")
	if got := fresh.Links(); len(got) != 1 || !strings.Contains(got[0], "PRESIGNED-SECRET-2") {
		t.Errorf("fresh link = %q; want a second presigned link", got)
	}
	h.click(approver1, dm, "new_link")
	h.waitEphemeral(approver1, "only the requester can get a link for this grant")
	h.click(requester, h.current(msg), "new_link")
	h.waitEphemeral(requester, "that button cannot be used")
	if n := h.issuer.issuedFor(id); n != 2 {
		t.Errorf("links issued = %d; want 2", n)
	}
	for _, g := range h.issuer.issuedGrants() {
		if g.Scope != (approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "myfolder/report.pdf", Access: approval.AccessRead}) {
			t.Errorf("issued for %+v; want the get of myfolder/report.pdf", g.Scope)
		}
	}

	// End access: no new link after that, and the DM loses link and buttons.
	h.click(requester, dm, "end_access")
	h.waitDM(requester, ":octagonal_sign: Your access to download `collab-bucket/myfolder/report.pdf` was ended by <@UREQ>")
	h.eventually("grant DM cleared", func() bool {
		g := h.current(dm)
		return len(g.Buttons()) == 0 && len(g.Links()) == 0 && !strings.Contains(string(g.Blocks), "PRESIGNED")
	})
	h.click(requester, dm, "new_link")
	h.waitEphemeral(requester, "This request was ended by <@UREQ>.")
	if n := h.issuer.issuedFor(id); n != 2 {
		t.Errorf("links issued after the end = %d; want still 2", n)
	}

	// put: the curl line and the key it lands at.
	id, msg = h.request(requester, "put s3://collab-bucket/myfolder/in/delivery.zip 30m vendor delivery")
	if !strings.Contains(msg.AllText(), "asks for a link to upload one file to `collab-bucket/myfolder/in/delivery.zip` for 30m") {
		t.Errorf("approval message = %q", msg.AllText())
	}
	h.click(approver2, msg, "approve")
	dm = h.waitDM(requester, "Your request to upload one file (`collab-bucket/myfolder/in/delivery.zip`) was approved by <@UAPP2>")
	if !strings.Contains(dm.AllText(), "It lands at `collab-bucket/myfolder/in/delivery.zip`") {
		t.Errorf("put DM does not say where the file lands:\n%s", dm.AllText())
	}
	if got := dm.Links(); len(got) != 1 || !strings.HasPrefix(got[0], "curl -T FILE 'https://collab-bucket.s3.example/myfolder/in/delivery.zip?X-Amz-Signature=PRESIGNED-SECRET-") || !strings.HasSuffix(got[0], "'") {
		t.Errorf("put DM = %q; want the curl line", got)
	}
	if h.issuer.issuedFor(id) != 1 {
		t.Errorf("put links issued = %d; want 1", h.issuer.issuedFor(id))
	}
}

// TestObjectModal: the form asks for a file as well as a folder.
func TestObjectModal(t *testing.T) {
	h := newHarness(t)
	h.command(requester, "")
	view, err := h.slack.WaitView(h.ctx(), requester, func(v fakeslack.View) bool { return v.CallbackID == "share_bucket_request" })
	if err != nil {
		t.Fatalf("no form opened: %v", err)
	}
	values := func(kind, scope, reason string) map[string]map[string]string {
		return map[string]map[string]string{
			"kind": {"kind": kind}, "scope": {"scope": scope}, "duration": {"duration": "1h"}, "access": {"access": "write"}, "reason": {"reason": reason},
		}
	}
	for _, tt := range []struct{ kind, scope, want string }{
		{"get", "collab-bucket/myfolder/", "is a folder, and get takes one file"},
		{"put", "collab-bucket", "put takes one file"},
		{"get", "collab-bucket/other.txt", "is not shareable here"},
		{"delete", "collab-bucket/myfolder/x.txt", ""},
	} {
		if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values(tt.kind, tt.scope, "why")); err != nil {
			t.Fatal(err)
		}
		errs := h.slack.Views(requester)[0].Errors
		field := "scope"
		if tt.want == "" {
			field, tt.want = "kind", "choose a folder, download one file or upload one file"
		}
		if !strings.Contains(errs[field], tt.want) {
			t.Errorf("%s %s: form errors %v; want %q on %s", tt.kind, tt.scope, errs, tt.want, field)
		}
	}
	if _, err := h.slack.SubmitView(h.ctx(), requester, view.ID, values("put", "collab-bucket/myfolder/drop.zip", "from the form")); err != nil {
		t.Fatal(err)
	}
	h.waitDM(requester, "to upload one file (`collab-bucket/myfolder/drop.zip`) for 1h sent to the approvers")
	msg := h.waitMessage(func(m fakeslack.Message) bool {
		return m.Channel == channel && strings.Contains(m.AllText(), "from the form")
	})
	if !strings.Contains(msg.AllText(), "upload one file") {
		t.Errorf("approval message = %q", msg.AllText())
	}
}

func hasButtons(m fakeslack.Message, ids ...string) bool {
	got := buttons(m)
	if len(got) != len(ids) {
		return false
	}
	for i := range ids {
		if got[i] != ids[i] {
			return false
		}
	}
	return true
}

// issuedGrants returns the grants issued so far.
func (f *fakeIssuer) issuedGrants() []approval.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]approval.Grant(nil), f.grants...)
}
