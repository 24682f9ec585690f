package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/iamtest"
)

// TestEndToEndHealthAndMetrics: /healthz answers while the process is up,
// /readyz only while the socket is connected, /metrics in Prometheus text.
func TestEndToEndHealthAndMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.start()
	if code, body := b.get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := b.get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q; want 200", code, body)
	}
	_, msg := w.request(requester, "collab-bucket/myfolder/ 1h metrics")
	w.click(approver1, msg, "approve")
	w.waitDM(requester, "was approved by")
	w.command(requester, "nonsense/../ 1h x")

	// The DM comes before the worker records its delivery.
	w.eventually("delivery counted", 10*time.Second, func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, `sharebucket_notices_total{kind="approved"} 1`)
	})
	_, metrics := b.get("/metrics")
	for _, want := range []string{
		`sharebucket_requests_total{outcome="submitted"} 1`,
		`sharebucket_requests_total{outcome="refused"} 1`,
		`sharebucket_decisions_total{decision="approved"} 1`,
		`sharebucket_grants_active 1`,
		`sharebucket_notices_total{kind="approved"} 1`,
		`sharebucket_issue_duration_seconds_count 1`,
		`sharebucket_ack_duration_seconds_count`,
		`sharebucket_links_minted_total`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Take the socket down: Slack refuses new connections for a while.
	w.slack.FailAlways("apps.connections.open", fakeslack.Fault{Error: "internal_error"})
	w.slack.DropConnections()
	w.eventually("/readyz to fail", 10*time.Second, func() bool { code, _ := b.get("/readyz"); return code == 503 })
	if code, _ := b.get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d while the socket is down; want 200", code)
	}
	w.slack.ClearFaults()
	w.eventually("/readyz to recover", 20*time.Second, func() bool { code, _ := b.get("/readyz"); return code == 200 })
	_, metrics = b.get("/metrics")
	if strings.Contains(metrics, "sharebucket_socket_reconnects_total 0") {
		t.Errorf("reconnects not counted")
	}
	w.slack.FailNext("chat.postMessage", fakeslack.Fault{Status: 429, RetryAfter: 1})
	w.request(requester, "collab-bucket/myfolder/ 1h after a 429")
	_, metrics = b.get("/metrics")
	if !strings.Contains(metrics, `sharebucket_slack_rate_limited_total{method="chat.postMessage"} 1`) {
		t.Errorf("429 not counted:\n%s", grep(metrics, "sharebucket_slack"))
	}

	// The container health check probes the same endpoint.
	hc := exec.Command(shared.bin, "healthcheck")
	hc.Env = []string{"HTTP_ADDR=" + b.httpAddr()}
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("bot healthcheck: %v\n%s", err, out)
	}
}

func grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestEndToEndCheck(t *testing.T) {
	t.Parallel()
	check := func(w *world) (int, string) {
		b := w.run("check")
		code := b.wait(60 * time.Second)
		return code, b.logs.String()
	}
	w := newWorld(t)
	code, out := check(w)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Errorf("bot check = %d:\n%s", code, out)
	}
	for _, want := range []string{"ok   configuration", "ok   slack bot", "ok   slack socket mode (connected, hello received)", "ok   APPROVAL_CHANNEL CAPPROVALS",
		"ok   approver UAPP1", "ok   AWS", "ok   ALLOWED_BUCKETS collab-bucket/myfolder/: a read grant can list it", "ok   ALLOWED_BUCKETS other-bucket: a read grant can list it",
		"ok   REVOKE_SESSIONS: the bot can read the collaborator role's inline policies (share-bucket-revoked)"} {
		if !strings.Contains(out, want) {
			t.Errorf("bot check output lacks %q:\n%s", want, out)
		}
	}
	if n := len(w.slack.Messages(channel)); n != 1 {
		t.Errorf("check posted %d messages in the approval channel; want 1 test message", n)
	}

	// An entry the role cannot reach is found before a user finds it.
	w = newWorld(t, "ALLOWED_BUCKETS=collab-bucket/myfolder/,unreachable-bucket/reports/")
	code, out = check(w)
	if code != 1 || !strings.Contains(out, "ok   ALLOWED_BUCKETS collab-bucket/myfolder/") ||
		!strings.Contains(out, "FAIL ALLOWED_BUCKETS unreachable-bucket/reports/: list s3://unreachable-bucket/reports/ with a grant's credentials: AccessDenied: the collaborator role may not list this folder") {
		t.Errorf("bot check with an unreachable entry = %d:\n%s", code, out)
	}

	// Slack's address wrong: one line that names SLACK_API_URL, not a
	// cascade of token errors.
	w = newWorld(t, "SLACK_API_URL=http://127.0.0.1:1/api/")
	code, out = check(w)
	if code != 1 || !strings.Contains(out, "FAIL SLACK_BOT_TOKEN: auth.test failed: cannot reach Slack at SLACK_API_URL (http://127.0.0.1:1/api/)") ||
		strings.Contains(out, "FAIL SLACK_APP_TOKEN") {
		t.Errorf("bot check with Slack unreachable = %d:\n%s", code, out)
	}

	// A bot that may not read the role's inline policies could not cut
	// sessions: check says so, and how to fix it.
	w = newWorld(t)
	w.iam.Fail("ListRolePolicies", "AccessDenied", iamtest.Always)
	code, out = check(w)
	if code != 1 || !strings.Contains(out, "FAIL REVOKE_SESSIONS: the bot cannot read the collaborator role's inline policies") || !strings.Contains(out, "AccessDenied") {
		t.Errorf("bot check without IAM rights = %d:\n%s", code, out)
	}
	w = newWorld(t, "REVOKE_SESSIONS=false")
	w.iam.Fail("ListRolePolicies", "AccessDenied", iamtest.Always)
	if code, out = check(w); code != 0 || !strings.Contains(out, "warn REVOKE_SESSIONS is false") {
		t.Errorf("bot check with REVOKE_SESSIONS=false = %d:\n%s", code, out)
	}

	// A missing AWS profile is named as such.
	w = newWorld(t, "AWS_PROFILE=nonexistent", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	code, out = check(w)
	if code != 1 || !strings.Contains(out, `FAIL AWS_PROFILE: the profile "nonexistent" is not in the AWS config or credentials files`) {
		t.Errorf("bot check with a missing profile = %d:\n%s", code, out)
	}

	w = newWorld(t, "AWS_SECRET_ACCESS_KEY=wrong-secret", "APPROVERS=UAPP1,UNOBODY1")
	w.slack.RevokeAppToken("invalid_auth")
	code, out = check(w)
	if code != 1 {
		t.Errorf("bot check with bad credentials = %d; want 1", code)
	}
	for _, want := range []string{"FAIL SLACK_APP_TOKEN", "FAIL approver UNOBODY1", "FAIL AWS", "AccessDenied"} {
		if !strings.Contains(out, want) {
			t.Errorf("bot check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wrong-secret") || strings.Contains(out, w.slack.AppToken()) {
		t.Errorf("bot check printed a secret:\n%s", out)
	}
}

// TestEndToEndFatalAuth: a revoked app token stops the bot with a clear
// log line and a non-zero exit, at start and while running.
func TestEndToEndFatalAuth(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.RevokeAppToken("invalid_auth")
	b := w.run()
	if code := b.wait(30 * time.Second); code == 0 {
		t.Errorf("exit 0 with a revoked app token")
	}
	if !strings.Contains(b.logs.String(), "check SLACK_APP_TOKEN") {
		t.Errorf("no clear log line:\n%s", b.logs)
	}

	w = newWorld(t)
	b = w.start()
	w.slack.RevokeAppToken("token_revoked")
	w.slack.Disconnect("refresh_requested")
	if code := b.wait(30 * time.Second); code == 0 {
		t.Errorf("exit 0 after the token was revoked")
	}
	if !strings.Contains(b.logs.String(), "token_revoked") {
		t.Errorf("no clear log line:\n%s", b.logs)
	}

	w = newWorld(t, "APPROVERS=UAPP1,UNOBODY1")
	w.slack.RevokeBotToken("invalid_auth")
	b = w.run()
	if code := b.wait(30 * time.Second); code == 0 || !strings.Contains(b.logs.String(), "SLACK_BOT_TOKEN: Slack rejected it") {
		t.Errorf("bad bot token: exit %d\n%s", code, b.logs)
	}
}

func TestEndToEndUnknownApproverWarned(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "APPROVERS=UAPP1,UNOBODY1")
	b := w.start()
	if !strings.Contains(b.logs.String(), `"msg":"APPROVERS: cannot look up an approver; is the ID right?","user_id":"UNOBODY1"`) {
		t.Errorf("no warning about the unknown approver:\n%s", b.logs)
	}
}

// TestEndToEndSlowSTS: with STS taking seconds, acks still leave in
// milliseconds and the grant still arrives.
func TestEndToEndSlowSTS(t *testing.T) {
	t.Parallel()
	setup(t)
	target, _ := url.Parse(shared.minio.Endpoint())
	proxy := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Second)
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(slow.Close)
	w := newWorld(t, "AWS_ENDPOINT_URL_STS="+slow.URL)
	w.start()
	_, msg := w.request(requester, "collab-bucket/myfolder/ 1h slow aws")
	w.click(approver1, msg, "approve")
	var worst time.Duration
	for i := range 20 {
		ack, err := w.slack.SlashCommand(w.ctx(), requester, fmt.Sprintf("collab-bucket/myfolder/ 1h while STS is slow %d", i))
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, ack.Latency)
		time.Sleep(50 * time.Millisecond)
	}
	if worst > 500*time.Millisecond {
		t.Errorf("slowest ack while STS was slow: %v; want milliseconds", worst)
	}
	t.Logf("slowest of 20 acks during a 3 s STS call: %v", worst)
	w.waitDM(requester, "Open the AWS console")
}

// TestEndToEndNoSecretsLeak runs the whole flow, including a fresh link
// and a failure, and the same for presigned get and put links, and then
// looks for every secret in everything the bot wrote outside the
// requester's DM and their ephemeral replies: its logs, the audit log, the
// database files, and the other Slack messages, blocks included.
func TestEndToEndNoSecretsLeak(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := w.start()
	id, msg := w.request(requester, "collab-bucket/myfolder/ 2h secrets")
	w.click(approver1, msg, "approve")
	dm := w.waitDM(requester, "was approved by")
	w.click(requester, dm, "open_console")
	fresh := w.waitEphemeral(requester, "fresh sign-in link")
	w.fed.FailNext(400)
	w.click(requester, dm, "open_console")
	w.waitEphemeral(requester, "FederationError")
	w.command(requester, "link "+id)
	var byCommand fakeslack.Message
	w.eventually("the link by command", 10*time.Second, func() bool {
		for _, m := range w.slack.Ephemerals(requester) {
			if strings.Contains(m.AllText(), "Here is a fresh sign-in link") && m.TS != fresh.TS {
				byCommand = m
				return true
			}
		}
		return false
	})
	w.command(requester, "revoke "+id)
	w.waitDM(requester, "was ended by")

	// Presigned links: a get with a new link, a put.
	_, msg = w.request(requester, "get collab-bucket/myfolder/seed.txt 1h secrets")
	w.click(approver1, msg, "approve")
	getDM := w.waitDM(requester, "Your request to download one file")
	w.click(requester, getDM, "new_link")
	freshGet := w.waitEphemeral(requester, "Here is a new link to download")
	_, msg = w.request(requester, "put collab-bucket/myfolder/secret-drop.txt 1h secrets")
	w.click(approver2, msg, "approve")
	putDM := w.waitDM(requester, "Your request to upload one file")

	var secrets []string
	for _, link := range []string{loginURL(t, dm), loginURL(t, fresh), loginURL(t, byCommand)} {
		creds := w.credentials(link)
		token, _, err := parseLogin(link)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, link, token, creds.SecretAccessKey, creds.SessionToken, url.QueryEscape(creds.SessionToken))
	}
	for _, m := range []fakeslack.Message{getDM, freshGet, putDM} {
		link := presignedURL(t, m)
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		sig, token := q.Get("X-Amz-Signature"), q.Get("X-Amz-Security-Token")
		if sig == "" || token == "" {
			t.Fatalf("presigned link lacks its signature or session token")
		}
		secrets = append(secrets, link, u.RawQuery, sig, token, url.QueryEscape(token))
	}
	secrets = append(secrets, w.slack.BotToken(), w.slack.AppToken(), botSecret)

	code, took := b.stop(15)
	if code != 0 || took > 15*time.Second {
		t.Errorf("SIGTERM: exit %d after %v", code, took)
	}
	audit := exec.Command(shared.bin, "audit")
	audit.Env = []string{"DATABASE_URL=" + w.env["DATABASE_URL"]}
	auditOut, err := audit.CombinedOutput()
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	places := map[string]string{"bot logs": b.logs.String(), "audit log": string(auditOut)}
	dbFiles, _ := filepath.Glob(strings.TrimPrefix(w.env["DATABASE_URL"], "sqlite:") + "*")
	if len(dbFiles) == 0 {
		t.Fatal("no database files found")
	}
	for _, f := range dbFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		places["database file "+filepath.Base(f)] = string(data)
	}
	for _, m := range w.slack.AllMessages() {
		if m.Channel != fakeslack.DMOf(requester) {
			places["slack message in "+m.Channel] += m.AllText() + "\n" + string(m.Blocks) + "\n"
		}
	}
	for _, user := range []string{approver1, approver2, stranger} {
		for _, m := range w.slack.Ephemerals(user) {
			places["ephemeral to "+user] += m.AllText() + "\n" + string(m.Blocks) + "\n"
		}
	}
	// The requester's DMs carry only links, never in their notification
	// text (which shows on lock screens and in notification centres).
	for _, m := range w.slack.Messages(fakeslack.DMOf(requester)) {
		places["notification text of a DM"] += m.Text + "\n"
	}
	for _, m := range w.slack.Ephemerals(requester) {
		places["notification text of a reply to the requester"] += m.Text + "\n"
	}
	var names []string
	for name := range places {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, s := range secrets {
			if len(s) >= 8 && strings.Contains(places[name], s) {
				t.Errorf("secret #%d (%.6s…) found in %s", i, s, name)
			}
		}
	}
	if !strings.Contains(string(auditOut), `"event":"link_minted"`) {
		t.Errorf("audit lacks link_minted:\n%s", auditOut)
	}
	_ = context.Background
}
