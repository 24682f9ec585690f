package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/iamtest"
)

// stsCall is what one AssumeRole asked STS for (never what STS answered).
type stsCall struct {
	SessionName, SourceIdentity string
	Tags                        map[string]string
}

// stsRecorder stands between the bot and MinIO's STS and notes every
// AssumeRole the bot makes, so a test can hold the session tags the bot
// sent against the deny list it wrote, as IAM would.
type stsRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []stsCall
}

func newSTSRecorder(t *testing.T, target string) *stsRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &stsRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "AssumeRole" {
			c := stsCall{SessionName: form.Get("RoleSessionName"), SourceIdentity: form.Get("SourceIdentity"), Tags: map[string]string{}}
			for i := 1; form.Has("Tags.member." + strconv.Itoa(i) + ".Key"); i++ {
				c.Tags[form.Get("Tags.member."+strconv.Itoa(i)+".Key")] = form.Get("Tags.member." + strconv.Itoa(i) + ".Value")
			}
			r.mu.Lock()
			r.calls = append(r.calls, c)
			r.mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// sessions returns the AssumeRole calls whose request-id tag is id.
func (r *stsRecorder) sessions(id string) []stsCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stsCall
	for _, c := range r.calls {
		if c.Tags["request-id"] == id {
			out = append(out, c)
		}
	}
	return out
}

// denyList is share-bucket-revoked as the fake IAM holds it.
type denyList struct {
	ids    []string // the request-id tag values denied
	cutoff string   // the aws:TokenIssueTime cut-off, if any
}

// readDenyList parses share-bucket-revoked, failing the test unless every
// statement denies every action on every resource.
func readDenyList(t *testing.T, iam *iamtest.Server) (denyList, bool) {
	t.Helper()
	doc, ok := iam.Policy(roleName, "share-bucket-revoked")
	if !ok {
		return denyList{}, false
	}
	var p struct {
		Statement []struct {
			Effect, Action, Resource string
			Condition                map[string]map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("share-bucket-revoked is not JSON: %v\n%s", err, doc)
	}
	var dl denyList
	for _, st := range p.Statement {
		if st.Effect != "Deny" || st.Action != "*" || st.Resource != "*" {
			t.Errorf("statement %+v is not a Deny of * on *", st)
		}
		if v, ok := st.Condition["StringEquals"]["aws:PrincipalTag/request-id"]; ok {
			if err := json.Unmarshal(v, &dl.ids); err != nil {
				t.Fatalf("request-id values: %v", err)
			}
		}
		if v, ok := st.Condition["DateLessThan"]["aws:TokenIssueTime"]; ok {
			_ = json.Unmarshal(v, &dl.cutoff)
		}
	}
	return dl, true
}

// denies reports whether IAM, holding dl, would refuse a session that
// carried tags: the condition key aws:PrincipalTag/request-id takes the
// value of the session's request-id tag.
func (dl denyList) denies(tags map[string]string) bool {
	v, ok := tags["request-id"]
	return ok && slices.Contains(dl.ids, v)
}

// TestEndToEndRevokeCutsSessions: ending a grant early writes a deny list
// that refuses every session minted for it, and no session of another
// grant still active; the requester and approvers are told.
func TestEndToEndRevokeCutsSessions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := newSTSRecorder(t, shared.minio.Endpoint())
	w.env["AWS_ENDPOINT_URL_STS"] = rec.srv.URL
	w.start()
	ended, endedMsg := w.request(requester, "collab-bucket/myfolder/ 2h revoked soon")
	w.click(approver1, endedMsg, "approve")
	dm := w.waitDM(requester, "Request "+ended+". Need the console")
	kept, keptMsg := w.request(requester, "collab-bucket/myfolder/ 2h still needed")
	w.click(approver1, keptMsg, "approve")
	w.waitDM(requester, "Request "+kept+". Need the console")
	w.click(requester, dm, "open_console") // a second session for the ended grant
	w.waitEphemeral(requester, "Here is a fresh sign-in link")

	w.click(requester, dm, "end_access")
	w.waitDM(requester, "the AWS sessions and links already made for it are being cut off")
	var dl denyList
	w.eventually("share-bucket-revoked written", 10*time.Second, func() bool {
		var ok bool
		dl, ok = readDenyList(t, w.iam)
		return ok
	})
	if !slices.Equal(dl.ids, []string{ended}) || dl.cutoff != "" {
		t.Errorf("deny list = %+v; want only %s", dl, ended)
	}
	endedSessions, keptSessions := rec.sessions(ended), rec.sessions(kept)
	if len(endedSessions) != 2 || len(keptSessions) != 1 {
		t.Fatalf("recorded %d sessions of the ended grant and %d of the other; want 2 and 1", len(endedSessions), len(keptSessions))
	}
	for _, s := range endedSessions {
		if !dl.denies(s.Tags) {
			t.Errorf("session %+v of the ended grant is not denied by %+v", s, dl)
		}
	}
	for _, s := range keptSessions {
		if dl.denies(s.Tags) {
			t.Errorf("session %+v of the active grant is denied by %+v", s, dl)
		}
	}
	w.eventually("messages say the sessions were cut", 10*time.Second, func() bool {
		return strings.Contains(w.current(endedMsg).AllText(), "Its AWS sessions and unused links were cut off.") &&
			strings.Contains(w.current(dm).AllText(), "Its AWS sessions and unused links were cut off.")
	})
	if n := len(w.iam.Writes()); n != 1 {
		t.Errorf("%d IAM writes; want 1", n)
	}
}

// TestEndToEndRevokeIAMRefuses: when IAM refuses for good, the grant still
// ends, and the requester and approvers are told that its open sessions
// could not be cut, with AWS's code; a refusal that may pass (throttling)
// is retried until the list is written.
func TestEndToEndRevokeIAMRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h refused")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "Request "+id+". Need the console")
	w.iam.Fail("PutRolePolicy", "AccessDenied", iamtest.Always)
	w.command(approver2, "revoke "+id)
	w.waitEphemeral(approver2, "Done: "+id)
	w.waitDM(requester, "The AWS sessions of your ended access to `collab-bucket/myfolder/` (request "+id+") could not be cut off (AccessDenied: ")
	w.eventually("approvers told", 10*time.Second, func() bool {
		return strings.Contains(w.current(msg).AllText(), "Its open AWS sessions could not be cut off (AccessDenied: ")
	})
	w.click(requester, dm, "open_console")
	w.waitEphemeral(requester, "This request was ended by <@UAPP2>.")
	if _, ok := w.iam.Policy(roleName, "share-bucket-revoked"); ok {
		t.Errorf("a policy was written although IAM refused every write")
	}

	// Throttled twice, then IAM answers: the cut is retried and done.
	w.iam.Heal()
	w.iam.Fail("PutRolePolicy", "Throttling", 2)
	id2, msg2 := w.request(requester, "collab-bucket/myfolder/ 2h throttled")
	w.click(approver1, msg2, "approve")
	w.waitDM(requester, "Request "+id2+". Need the console")
	w.command(requester, "revoke "+id2)
	w.eventually("the cut retried until IAM took it", 30*time.Second, func() bool {
		return strings.Contains(w.current(msg2).AllText(), "Its AWS sessions and unused links were cut off.")
	})
	dl, ok := readDenyList(t, w.iam)
	// The first grant's cut failed for good, but it is still on the list
	// the database holds, so the write that worked denies it too.
	if !ok || !slices.Contains(dl.ids, id2) || !slices.Contains(dl.ids, id) {
		t.Errorf("deny list = %+v, %v; want both %s and %s", dl, ok, id, id2)
	}
	if n := w.iam.Calls("PutRolePolicy"); n < 3 {
		t.Errorf("%d PutRolePolicy calls; want the throttled two and one that worked", n)
	}
}

// TestEndToEndLinkDuringRevoke: a fresh link being minted while its grant
// ends is thrown away after the STS call, never posted; the session it
// made is cut with the grant's others.
func TestEndToEndLinkDuringRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := newSTSRecorder(t, shared.minio.Endpoint())
	w.env["AWS_ENDPOINT_URL_STS"] = rec.srv.URL
	w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h racing")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "Request "+id+". Need the console")
	w.fed.SetDelay(3 * time.Second)
	w.click(requester, dm, "open_console")
	w.eventually("the fresh link's STS call", 10*time.Second, func() bool { return len(rec.sessions(id)) == 2 })
	w.command(approver2, "revoke "+id)
	w.waitEphemeral(approver2, "Done: "+id)
	w.waitEphemeral(requester, "This request was ended by <@UAPP2>.")
	time.Sleep(4 * time.Second)
	for _, m := range w.slack.Ephemerals(requester) {
		if strings.Contains(m.AllText(), "Here is a fresh sign-in link") {
			t.Fatalf("a link minted while the grant ended was posted: %q", m.AllText())
		}
	}
	dl, ok := readDenyList(t, w.iam)
	if !ok || !slices.Equal(dl.ids, []string{id}) {
		t.Errorf("deny list = %+v, %v; want %s", dl, ok, id)
	}
	for _, s := range rec.sessions(id) {
		if !dl.denies(s.Tags) {
			t.Errorf("session %+v not denied", s)
		}
	}
	if got := auditKinds(t, w, id); !strings.Contains(got, "link_discarded:UREQ") {
		t.Errorf("audit = %s; want a link_discarded", got)
	}
}
