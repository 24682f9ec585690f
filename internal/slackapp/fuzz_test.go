package slackapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/slack-go/slack"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/metrics"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

// The fuzz targets here run without Slack: the parser and App.Slash for
// command text, App.Interaction over an in-memory store for button
// payloads. Their seed corpora live in testdata/fuzz and run with every
// go test.

const fuzzExample = "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors"

// fuzzPolicy allows collab-bucket/myfolder/ for up to 12 hours.
func fuzzPolicy() approval.Policy {
	allowed, err := approval.ParseAllowEntry("collab-bucket/myfolder/")
	if err != nil {
		panic(err)
	}
	return approval.Policy{
		Approvers: []string{approver1, approver2, requester}, ApprovalsRequired: 1,
		Allowed: approval.AllowList{allowed}, MaxDuration: 12 * time.Hour,
		ExpiryWarning: 10 * time.Minute, ApprovalTimeout: 8 * time.Hour, MaxSession: time.Hour,
	}
}

// FuzzParseCommand feeds arbitrary /share-bucket text to the parser, the
// policy check and the slash command handler. Whatever it accepts must be
// a grant the policy allows; whatever it refuses must be refused with a
// typed error, a reason and a correct example, in text that can neither
// ping anyone nor hide characters.
func FuzzParseCommand(f *testing.F) {
	policy := fuzzPolicy()
	svc := &approval.Service{Policy: policy}
	app := &slackapp.App{Service: svc, Log: zap.NewNop(), Metrics: metrics.New(), DefaultDuration: time.Hour, Example: fuzzExample}
	draftID := approval.NewID("fuzz")

	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := slackapp.ParseCommand(text, time.Hour)
		ack, work := app.Slash(slack.SlashCommand{UserID: requester, TeamID: "T1", TriggerID: "1.2.abc", Text: text})
		ackText := ackTextOf(t, ack)
		if err != nil {
			ue, ok := errors.AsType[*slackapp.UsageError](err)
			if !ok {
				t.Fatalf("ParseCommand(%q) error %T %v; want *UsageError", text, err, err)
			}
			example := exampleFor(ue.Object)
			if ue.Object != "" && !strings.EqualFold(strings.Fields(text)[0], string(ue.Object)) {
				t.Fatalf("ParseCommand(%q) refused it as a %s request", text, ue.Object)
			}
			checkRefusal(t, text, err.Error(), example, slackapp.Usage(err.Error(), example))
			if ackText != slackapp.Usage(err.Error(), example) || work != nil {
				t.Fatalf("Slash(%q) acked %q (work %v); want the refusal and nothing else", text, ackText, work != nil)
			}
			return
		}
		switch cmd.Kind {
		case slackapp.CmdModal:
			if len(strings.Fields(text)) != 0 {
				t.Fatalf("ParseCommand(%q) opens the form, but the text has words", text)
			}
			if ack != nil || work == nil {
				t.Fatalf("Slash(%q) = %v, work %v; want no reply and the form opened after the ack", text, ack, work != nil)
			}
			return
		case slackapp.CmdHelp:
			if !strings.Contains(ackText, fuzzExample) {
				t.Fatalf("help for %q lacks the example: %q", text, ackText)
			}
			return
		case slackapp.CmdList:
			return
		case slackapp.CmdRevoke:
			if !approval.ValidID(cmd.ID) {
				t.Fatalf("ParseCommand(%q) revokes malformed ID %q", text, cmd.ID)
			}
			return
		case slackapp.CmdLink:
			// A link is minted after the ack, never in it.
			if !approval.ValidID(cmd.ID) || ack != nil || work == nil {
				t.Fatalf("ParseCommand(%q) = link %q, Slash acked %v (work %v); want a valid ID, no ack text, the link after the ack", text, cmd.ID, ack, work != nil)
			}
			return
		case slackapp.CmdRequest:
		default:
			t.Fatalf("ParseCommand(%q) kind %v", text, cmd.Kind)
		}

		// The parser checks shape: bucket, folder or key, access, a reason.
		if err := approval.CheckBucket(cmd.Scope.Bucket); err != nil {
			t.Fatalf("ParseCommand(%q) accepted bucket %q: %v", text, cmd.Scope.Bucket, err)
		}
		if clean, err := approval.CleanPrefix(cmd.Scope.Prefix); err != nil || clean != cmd.Scope.Prefix {
			t.Fatalf("ParseCommand(%q) accepted folder %q, which CleanPrefix makes %q, %v", text, cmd.Scope.Prefix, clean, err)
		}
		checkPrefix(t, text, cmd.Scope.Prefix)
		if cmd.Scope.Object() {
			if !strings.EqualFold(strings.Fields(text)[0], string(cmd.Scope.Kind)) || cmd.Scope.Prefix != "" || cmd.Scope.Access != cmd.Scope.Kind.Access() {
				t.Fatalf("ParseCommand(%q) = %+v: an object request starts with its kind, names no folder, and has its kind's access", text, cmd.Scope)
			}
			if err := approval.CheckKey(cmd.Scope.Key); err != nil {
				t.Fatalf("ParseCommand(%q) accepted key %q: %v", text, cmd.Scope.Key, err)
			}
			checkKey(t, text, cmd.Scope.Key)
		} else if cmd.Scope.Key != "" || cmd.Scope.Kind != "" {
			t.Fatalf("ParseCommand(%q) = %+v: a folder request has no kind or key", text, cmd.Scope)
		}
		if !cmd.Scope.Access.Valid() || cmd.Duration <= 0 || strings.TrimSpace(cmd.Reason) == "" {
			t.Fatalf("ParseCommand(%q) = %+v: want a valid access, a positive duration and a reason", text, cmd)
		}

		// The policy checks the rest.
		d := approval.Draft{ID: draftID, Requester: requester, Scope: cmd.Scope, Duration: cmd.Duration, Reason: cmd.Reason}
		if err := svc.Check(d); err != nil {
			_, invalid := errors.AsType[*approval.InvalidError](err)
			_, forbidden := errors.AsType[*approval.ForbiddenError](err)
			if !invalid && !forbidden {
				t.Fatalf("Check(%q) error %T %v; want *InvalidError or *ForbiddenError", text, err, err)
			}
			want := slackapp.Usage(slackapp.UserMessage(err), exampleFor(d.Kind))
			checkRefusal(t, text, slackapp.UserMessage(err), exampleFor(d.Kind), want)
			if ackText != want || work != nil {
				t.Fatalf("Slash(%q) acked %q (work %v); want %q and nothing else", text, ackText, work != nil, want)
			}
			return
		}
		if d.Bucket != "collab-bucket" || !strings.HasPrefix(d.Path(), "myfolder/") || d.Object() && d.Path() == "myfolder/" {
			t.Fatalf("%q was granted %s, outside the allow list", text, d.Scope)
		}
		if d.Duration < approval.MinSession || d.Duration > policy.MaxDuration {
			t.Fatalf("%q was granted for %v, outside [15m, 12h]", text, d.Duration)
		}
		for _, r := range d.Reason {
			if unicode.IsControl(r) && r != '\n' || unicode.Is(unicode.Cf, r) {
				t.Fatalf("%q was accepted with %q in the reason", text, r)
			}
		}
		if len(d.Reason) > approval.MaxReasonLen {
			t.Fatalf("%q was accepted with a %d-byte reason", text, len(d.Reason))
		}
		if !strings.HasPrefix(ackText, ":inbox_tray: Request ") || work == nil {
			t.Fatalf("Slash(%q) acked %q (work %v); want the confirmation and the request stored after the ack", text, ackText, work != nil)
		}
		// The reason reaches approvers as inert text: the only mention in
		// the approval message is the requester's, the only other markup
		// is Slack's date formatting. Plain text objects with emoji off
		// are shown exactly as they are, markup included.
		msg, blocks := slackapp.ApprovalMessage(&approval.Request{
			ID: draftID, Requester: requester, Scope: d.Scope, Duration: d.Duration, Reason: d.Reason,
			State: approval.StatePending, CreatedAt: time.Unix(1700000000, 0), TimeoutAt: time.Unix(1700028800, 0),
		}, 1)
		raw, err := json.Marshal(blocks)
		if err != nil {
			t.Fatal(err)
		}
		var decoded any
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		for _, s := range append(liveStrings(decoded), msg) {
			if m := markupRE.FindAllString(s, -1); len(m) > 0 {
				for _, tag := range m {
					if tag != "<@"+requester+">" && !strings.HasPrefix(tag, "<!date^") {
						t.Fatalf("%q put live markup %q in the approval message", text, tag)
					}
				}
			}
		}
	})
}

var markupRE = regexp.MustCompile(`<[^>]*>?`)

// liveStrings returns every string in a decoded JSON value that Slack may
// parse: all but the text of plain_text objects with emoji off.
func liveStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, liveStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range v {
			if v["type"] == "plain_text" && v["emoji"] == false && k == "text" {
				continue
			}
			out = append(out, liveStrings(e)...)
		}
		return out
	}
	return nil
}

func ackTextOf(t *testing.T, ack any) string {
	t.Helper()
	if ack == nil {
		return ""
	}
	m, ok := ack.(map[string]any)
	if !ok {
		t.Fatalf("ack payload %T; want a message", ack)
	}
	if m["response_type"] != "ephemeral" {
		t.Fatalf("ack %v is not ephemeral", m)
	}
	s, _ := m["text"].(string)
	return s
}

// exampleFor is the example a refusal of a request of kind shows.
func exampleFor(kind approval.Kind) string {
	if kind.Object() {
		return slackapp.ObjectExample(fuzzExample, kind)
	}
	return fuzzExample
}

// checkRefusal fails t unless a refusal says what is wrong, shows the
// example, and quotes the input harmlessly and briefly.
func checkRefusal(t *testing.T, text, problem, example, rendered string) {
	t.Helper()
	if strings.TrimSpace(problem) == "" {
		t.Fatalf("refusal of %q gives no reason", text)
	}
	if !strings.Contains(rendered, "Write it like this: `"+example+"`") {
		t.Fatalf("refusal of %q lacks the example: %q", text, rendered)
	}
	if strings.ContainsAny(rendered, "<>") {
		t.Fatalf("refusal of %q contains live markup: %q", text, rendered)
	}
	if len(problem) > 600 {
		t.Fatalf("refusal of %q is %d bytes: %q", text, len(problem), problem)
	}
	for _, r := range rendered {
		if unicode.IsControl(r) && r != '\n' || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar && !strings.ContainsRune(text, r) {
			t.Fatalf("refusal of %q contains %q: %q", text, r, rendered)
		}
	}
}

// checkPrefix fails t unless prefix is a folder that cannot widen a policy.
func checkPrefix(t *testing.T, text, prefix string) {
	t.Helper()
	if prefix == "" {
		return
	}
	if strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || len(prefix) > approval.MaxPrefixLen {
		t.Fatalf("%q gave folder %q", text, prefix)
	}
	if strings.ContainsAny(prefix, "*?$%\\") {
		t.Fatalf("%q gave folder %q with a wildcard, variable, escape or backslash", text, prefix)
	}
	for _, r := range prefix {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			t.Fatalf("%q gave folder %q with %q", text, prefix, r)
		}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("%q gave folder %q with a %q part", text, prefix, seg)
		}
	}
}

// checkKey fails t unless key names one object and cannot widen a policy.
func checkKey(t *testing.T, text, key string) {
	t.Helper()
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || len(key) > approval.MaxKeyLen {
		t.Fatalf("%q gave key %q", text, key)
	}
	if strings.ContainsAny(key, "*?$%\\") {
		t.Fatalf("%q gave key %q with a wildcard, variable, escape or backslash", text, key)
	}
	for _, r := range key {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			t.Fatalf("%q gave key %q with %q", text, key, r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("%q gave key %q with a %q part", text, key, seg)
		}
	}
}

// Button payloads.

// The fixture for FuzzBlockAction: three requests with the messages the
// bot posted for them. Payloads in testdata/fuzz/FuzzBlockAction name
// these IDs and messages.
var (
	fxPending = approval.NewID("fuzz/pending") // UREQ's, pending, approval message fxPendingTS
	fxOther   = approval.NewID("fuzz/other")   // UAPP2's, pending, approval message fxOtherTS
	fxGrant   = approval.NewID("fuzz/grant")   // UREQ's, approved by UAPP1, approval message fxGrantTS, grant DM fxGrantDMTS
	fxObject  = approval.NewID("fuzz/object")  // UREQ's get of one file, approved by UAPP1, approval message fxObjectTS, grant DM fxObjectDMTS
)

const (
	fxPendingTS  = "1700000000.000100"
	fxOtherTS    = "1700000000.000200"
	fxGrantTS    = "1700000000.000300"
	fxGrantDM    = "DREQ"
	fxGrantDMTS  = "1700000000.000400"
	fxObjectTS   = "1700000000.000500"
	fxObjectDMTS = "1700000000.000600"
)

// fxSecrets mark the links the fake issuer mints: sign-in links for
// folders, presigned ones for objects.
var fxSecrets = []string{"SIGNIN-SECRET", "PRESIGNED-SECRET"}

func holdsSecret(text string) bool {
	return slices.ContainsFunc(fxSecrets, func(s string) bool { return strings.Contains(text, s) })
}

func fxRequests(now time.Time) []*approval.Request {
	scope := approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite}
	mk := func(id, who string, msgs ...approval.MessageRef) *approval.Request {
		return &approval.Request{ID: id, Requester: who, Scope: scope, Duration: 2 * time.Hour, Reason: "fuzz",
			State: approval.StatePending, CreatedAt: now, TimeoutAt: now.Add(8 * time.Hour), Messages: msgs}
	}
	grant := mk(fxGrant, requester,
		approval.MessageRef{Kind: approval.MessageApproval, Channel: channel, TS: fxGrantTS},
		approval.MessageRef{Kind: approval.MessageGrant, Channel: fxGrantDM, TS: fxGrantDMTS})
	grant.State, grant.DecidedBy, grant.DecidedAt = approval.StateApproved, approver1, now
	grant.Approvals = []approval.Approval{{By: approver1, At: now}}
	grant.EndsAt = now.Add(2 * time.Hour)
	object := grant.Clone()
	object.ID = fxObject
	object.Scope = approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "myfolder/report.pdf", Access: approval.AccessRead}
	object.Messages = []approval.MessageRef{
		{Kind: approval.MessageApproval, Channel: channel, TS: fxObjectTS},
		{Kind: approval.MessageGrant, Channel: fxGrantDM, TS: fxObjectDMTS},
	}
	return []*approval.Request{
		mk(fxPending, requester, approval.MessageRef{Kind: approval.MessageApproval, Channel: channel, TS: fxPendingTS}),
		mk(fxOther, approver2, approval.MessageRef{Kind: approval.MessageApproval, Channel: channel, TS: fxOtherTS}),
		grant,
		object,
	}
}

// clickPayload is a block_actions payload shaped like Slack's (and the
// fake's) for user clicking the button actionID with value on the message
// channel/ts.
func clickPayload(user, channel, ts, actionID, value, responseURL string) map[string]any {
	return map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T_FAKE"},
		"api_app_id": "A_FAKE",
		"token":      "fakeslack-verification-token",
		"container":  map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id": "1.2.trigger",
		"team":       map[string]any{"id": "T_FAKE", "domain": "fake-team"},
		"enterprise": nil, "is_enterprise_install": false,
		"channel":      map[string]any{"id": channel, "name": "approvals"},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": responseURL,
		"actions": []any{map[string]any{
			"action_id": actionID, "block_id": "decide:" + value, "value": value, "type": "button",
			"action_ts": "1700000001.000100", "text": map[string]any{"type": "plain_text", "text": "Approve", "emoji": true},
		}},
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzBlockAction feeds arbitrary interaction payloads to App.Interaction
// with three stored requests. A request may change only for a genuine
// click: a user allowed to take that action, exactly one known action
// whose value is the request's ID, on a message the bot posted for that
// request, in a state that allows it. A sign-in link is minted only for
// the requester clicking on their grant DM, and goes nowhere else. Every
// refusal is logged with the user ID, at warn for anything forged, and
// told to the user where Slack gave a way to.
func FuzzBlockAction(f *testing.F) {
	const resp = "https://hooks.slack.test/actions/T_FAKE/1/abc"
	seed := func(p map[string]any) { f.Add(mustJSON(f, p)) }
	seed(clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, resp))
	seed(clickPayload(approver2, channel, fxPendingTS, "deny", fxPending, resp))
	seed(clickPayload(requester, channel, fxPendingTS, "approve", fxPending, resp))
	seed(clickPayload(stranger, channel, fxPendingTS, "approve", fxPending, resp))
	seed(clickPayload(approver1, channel, fxPendingTS, "approve", fxOther, resp))
	seed(clickPayload(approver1, channel, fxOtherTS, "approve", fxOther, resp))
	seed(clickPayload(approver2, channel, fxOtherTS, "approve", fxOther, resp))
	seed(clickPayload(approver2, channel, fxGrantTS, "approve", fxGrant, resp))
	seed(clickPayload(approver2, channel, fxGrantTS, "end_access", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxGrantDMTS, "end_access", fxGrant, resp))
	seed(clickPayload(stranger, fxGrantDM, fxGrantDMTS, "end_access", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxGrantDMTS, "open_console", fxGrant, resp))
	seed(clickPayload(approver1, fxGrantDM, fxGrantDMTS, "open_console", fxGrant, resp))
	seed(clickPayload(requester, channel, fxGrantTS, "open_console", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxGrantDMTS, "sign_in", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxObjectDMTS, "new_link", fxObject, resp))
	seed(clickPayload(approver1, fxGrantDM, fxObjectDMTS, "new_link", fxObject, resp))
	seed(clickPayload(requester, channel, fxObjectTS, "new_link", fxObject, resp))
	seed(clickPayload(requester, fxGrantDM, fxGrantDMTS, "new_link", fxObject, resp))
	seed(clickPayload(requester, fxGrantDM, fxObjectDMTS, "new_link", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxGrantDMTS, "new_link", fxGrant, resp))
	seed(clickPayload(requester, fxGrantDM, fxObjectDMTS, "open_console", fxObject, resp))
	seed(clickPayload(approver2, channel, fxObjectTS, "end_access", fxObject, resp))
	seed(clickPayload(stranger, fxGrantDM, fxObjectDMTS, "end_access", fxObject, resp))
	seed(clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, ""))
	seed(clickPayload(approver1, channel, fxPendingTS, "ap\u200bprove", fxPending, resp))
	seed(clickPayload(approver1, channel, fxPendingTS, "approve", "../"+fxPending, resp))
	seed(clickPayload("U<!channel>", channel, fxPendingTS, "approve", fxPending, resp))
	p := clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, resp)
	p["container"].(map[string]any)["is_ephemeral"] = true
	seed(p)
	p = clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, resp)
	p["container"] = map[string]any{"type": "view", "view_id": "V1"}
	seed(p)
	p = clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, resp)
	p["actions"] = append(p["actions"].([]any), p["actions"].([]any)[0])
	seed(p)
	p = clickPayload(approver1, channel, fxPendingTS, "approve", fxPending, resp)
	p["actions"] = []any{}
	seed(p)

	now := time.Now()
	policy := fuzzPolicy()
	m := metrics.New()
	f.Fuzz(func(t *testing.T, payload []byte) {
		var cb slack.InteractionCallback
		if json.Unmarshal(payload, &cb) != nil {
			return // slack-go would not deliver it; Socket acks and drops it
		}
		store := newMemStore(fxRequests(now)...)
		before := store.snapshot()
		api := &recordingAPI{}
		core, logs := observer.New(zap.DebugLevel)
		log := zap.New(core)
		issuer := &fakeIssuer{}
		svc := approval.NewService(store, policy, issuer, nil)
		web := slackapp.NewWeb(api, log, m)
		app := &slackapp.App{Service: svc, Web: web, Log: log, Metrics: m, DefaultDuration: time.Hour, Example: fuzzExample}

		_, work := app.Interaction(cb)
		if work != nil {
			// A cancelled context skips the handler's pause for a click
			// racing its message's Remember; the store and the fake API
			// ignore it.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			work(ctx)
		}

		after := store.snapshot()
		id, want, link := expectClick(cb, before, policy, now)
		for rid, b := range before {
			a := after[rid]
			if rid == id {
				if a.State != want {
					t.Fatalf("genuine click %s left %s %s; want %s\npayload %s", describe(cb), rid, a.State, want, payload)
				}
				continue
			}
			if a.State != b.State || a.Version != b.Version {
				t.Fatalf("click %s changed %s from %s to %s\npayload %s", describe(cb), rid, b.State, a.State, payload)
			}
		}
		if cb.Type != slack.InteractionTypeViewSubmission && len(after) != len(before) {
			t.Fatalf("click %s created a request", describe(cb))
		}

		// Sign-in links: minted only for the genuine console click, and
		// shown only to the requester in the grant DM.
		if n := issuer.issued(); n != btoi(link) {
			t.Fatalf("click %s minted %d links; want %d", describe(cb), n, btoi(link))
		}
		for _, c := range api.all() {
			if holdsSecret(c.text) && (c.method != "chat.postEphemeral" || c.channel != fxGrantDM || c.user != requester) {
				t.Fatalf("click %s sent the sign-in link by %s to %s/%s", describe(cb), c.method, c.channel, c.user)
			}
		}
		if link && !slices.ContainsFunc(api.all(), func(c apiCall) bool { return c.method == "chat.postEphemeral" && holdsSecret(c.text) }) {
			t.Fatalf("click %s minted a link but never showed it", describe(cb))
		}

		// Logs: every entry names the user; refusals are logged, at warn
		// when the payload does not point at a message the bot posted for
		// the request it names.
		entries := logs.All()
		for _, e := range entries {
			if _, ok := e.ContextMap()["user_id"]; !ok {
				t.Fatalf("log entry %q for click %s lacks user_id", e.Message, describe(cb))
			}
		}
		if cb.Type != slack.InteractionTypeBlockActions || id != "" || link {
			return
		}
		var refusal *observer.LoggedEntry
		for i, e := range entries {
			if strings.Contains(e.Message, "refused") && (refusal == nil || e.Level > refusal.Level) {
				refusal = &entries[i]
			}
		}
		if refusal == nil {
			t.Fatalf("refused click %s was not logged; logs: %v", describe(cb), messages(entries))
		}
		if !onOwnMessage(cb, before) && refusal.Level < zapcore.WarnLevel {
			t.Fatalf("forged click %s logged at %s; want warn", describe(cb), refusal.Level)
		}
		if userIDRE.MatchString(cb.User.ID) && cb.ResponseURL != "" {
			if !slices.ContainsFunc(api.all(), func(c apiCall) bool {
				return c.method == "response_url" && c.endpoint == cb.ResponseURL && c.text != ""
			}) {
				t.Fatalf("refused click %s was not answered through its response_url", describe(cb))
			}
		}
	})
}

var userIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func describe(cb slack.InteractionCallback) string {
	var acts []string
	for _, a := range cb.ActionCallback.BlockActions {
		acts = append(acts, a.ActionID+"="+a.Value)
	}
	return strings.Join([]string{string(cb.Type), cb.User.ID, cb.Container.Type, cb.Container.ChannelID + "/" + cb.Container.MessageTs, strings.Join(acts, ",")}, " ")
}

func messages(es []observer.LoggedEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Level.String()+" "+e.Message)
	}
	return out
}

// storedRef returns the message ref of the clicked message if it is one
// the bot posted for the request the click names.
func storedRef(cb slack.InteractionCallback, reqs map[string]memSnap) (memSnap, approval.MessageRef, bool) {
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 || cb.Container.Type != "message" {
		return memSnap{}, approval.MessageRef{}, false
	}
	r, ok := reqs[cb.ActionCallback.BlockActions[0].Value]
	if !ok {
		return memSnap{}, approval.MessageRef{}, false
	}
	for _, m := range r.Messages {
		if m.Channel == cb.Container.ChannelID && m.TS == cb.Container.MessageTs {
			return r, m, true
		}
	}
	return memSnap{}, approval.MessageRef{}, false
}

func onOwnMessage(cb slack.InteractionCallback, reqs map[string]memSnap) bool {
	_, _, ok := storedRef(cb, reqs)
	return ok
}

// expectClick is the model: which request a click may change and to what,
// and whether it mints a sign-in link.
func expectClick(cb slack.InteractionCallback, reqs map[string]memSnap, p approval.Policy, now time.Time) (id string, to approval.State, link bool) {
	r, ref, ok := storedRef(cb, reqs)
	if !ok {
		return "", "", false
	}
	u := cb.User.ID
	switch cb.ActionCallback.BlockActions[0].ActionID {
	case "approve", "deny":
		if ref.Kind == approval.MessageApproval && p.IsApprover(u) && u != r.Requester && r.State == approval.StatePending {
			if cb.ActionCallback.BlockActions[0].ActionID == "approve" {
				return r.ID, approval.StateApproved, false
			}
			return r.ID, approval.StateDenied, false
		}
	case "end_access":
		if (u == r.Requester || p.IsApprover(u)) && (r.State == approval.StatePending || r.State == approval.StateApproved && now.Before(r.EndsAt)) {
			return r.ID, approval.StateRevoked, false
		}
	case "open_console", "new_link":
		// A link changes no state, though the grant records its session.
		if ref.Kind == approval.MessageGrant && u == r.Requester && r.State == approval.StateApproved {
			return r.ID, r.State, true
		}
	}
	return "", "", false
}

// memStore is an in-memory approval.Store for the fuzz target: fast, and
// deaf to contexts.
type memStore struct {
	mu     sync.Mutex
	reqs   map[string]*approval.Request
	events []approval.Event
}

var _ approval.Store = (*memStore)(nil)

func newMemStore(rs ...*approval.Request) *memStore {
	s := &memStore{reqs: map[string]*approval.Request{}}
	for _, r := range rs {
		s.reqs[r.ID] = r.Clone()
	}
	return s
}

// memSnap is a request as it was at one moment.
type memSnap struct{ *approval.Request }

func (s *memStore) snapshot() map[string]memSnap {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]memSnap{}
	for id, r := range s.reqs {
		out[id] = memSnap{r.Clone()}
	}
	return out
}

func (s *memStore) Create(_ context.Context, r *approval.Request, evs []approval.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reqs[r.ID]; ok {
		return approval.ErrExists
	}
	s.reqs[r.ID] = r.Clone()
	s.events = append(s.events, evs...)
	return nil
}

func (s *memStore) Get(_ context.Context, id string) (*approval.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return nil, approval.ErrNotFound
	}
	return r.Clone(), nil
}

func (s *memStore) Update(_ context.Context, id string, fn approval.ModifyFunc) (*approval.Request, []approval.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return nil, nil, approval.ErrNotFound
	}
	c := r.Clone()
	evs, err := fn(c)
	if err != nil {
		return nil, nil, err
	}
	if len(evs) == 0 {
		return r.Clone(), nil, nil
	}
	c.Version++
	s.reqs[id] = c
	s.events = append(s.events, evs...)
	return c.Clone(), evs, nil
}

func (s *memStore) Append(_ context.Context, evs []approval.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, evs...)
	return nil
}

func (s *memStore) AddMessages(_ context.Context, id string, refs []approval.MessageRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return approval.ErrNotFound
	}
	r.Messages = append(r.Messages, refs...)
	return nil
}

func (s *memStore) List(_ context.Context, f approval.Filter) ([]*approval.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*approval.Request
	for _, r := range s.reqs {
		if (f.Requester == "" || r.Requester == f.Requester) && (len(f.States) == 0 || slices.Contains(f.States, r.State)) &&
			(f.ExceptRequester == "" || r.Requester != f.ExceptRequester) {
			out = append(out, r.Clone())
		}
	}
	return out, nil
}

func (s *memStore) CountRequests(ctx context.Context, f approval.Filter) (int, error) {
	out, err := s.List(ctx, approval.Filter{Requester: f.Requester, States: f.States, ExceptRequester: f.ExceptRequester})
	return len(out), err
}

func (s *memStore) Due(context.Context, time.Time, int) ([]string, error) { return nil, nil }
func (s *memStore) Wake(context.Context) (time.Time, bool, error)         { return time.Time{}, false, nil }
func (s *memStore) Claim(context.Context, string, time.Time, time.Duration, int) ([]approval.Event, error) {
	return nil, nil
}
func (s *memStore) Delivered(context.Context, int64, string, time.Time) error     { return nil }
func (s *memStore) Retry(context.Context, int64, string, time.Time, string) error { return nil }
func (s *memStore) Defer(context.Context, int64, string, time.Time) error         { return nil }
func (s *memStore) Audit(context.Context, approval.AuditFilter) ([]approval.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events), nil
}

// recordingAPI stands in for the Slack Web API and records every call.
type recordingAPI struct {
	mu    sync.Mutex
	calls []apiCall
}

type apiCall struct {
	method   string
	endpoint string // the response_url for method "response_url"
	channel  string
	user     string
	text     string // text and blocks, for searching
}

func (a *recordingAPI) record(method, channel, user string, opts []slack.MsgOption) {
	endpoint, values, _ := slack.UnsafeApplyMsgOptions("xoxb-test", channel, "https://slack.test/api/", opts...)
	if !strings.HasPrefix(endpoint, "https://slack.test/api/") {
		method = "response_url"
	}
	text := values.Get("text")
	if sent, ok := sentText(channel, opts); ok {
		text += "\n" + sent
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, apiCall{method: method, endpoint: endpoint, channel: channel, user: user, text: text})
}

// sentText returns what a message with opts would carry: the body of the
// request, text and blocks as JSON included. slack-go encodes blocks only
// when it builds the request, so the request is built and sent to a
// transport that answers it without any network. ok is false if no
// request could be built (a malformed response_url).
func sentText(channel string, opts []slack.MsgOption) (text string, ok bool) {
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		text, ok = string(body), true
		if form, err := url.ParseQuery(text); err == nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			text = form.Get("text") + "\n" + form.Get("blocks")
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"ok":true,"channel":"C1","ts":"1700000009.000100"}`)), Request: r}, nil
	})
	c := slack.New("xoxb-test", slack.OptionAPIURL("https://slack.test/api/"), slack.OptionHTTPClient(&http.Client{Transport: rt}))
	_, _, _ = c.PostMessageContext(context.Background(), channel, opts...)
	return text, ok
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (a *recordingAPI) all() []apiCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *recordingAPI) PostMessageContext(_ context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	a.record("chat.postMessage", ch, "", opts)
	return ch, "1700000009.000100", nil
}

func (a *recordingAPI) UpdateMessageContext(_ context.Context, ch, ts string, opts ...slack.MsgOption) (string, string, string, error) {
	a.record("chat.update", ch, "", opts)
	return ch, ts, "", nil
}

func (a *recordingAPI) PostEphemeralContext(_ context.Context, ch, user string, opts ...slack.MsgOption) (string, error) {
	a.record("chat.postEphemeral", ch, user, opts)
	return "1700000009.000200", nil
}

func (a *recordingAPI) OpenConversationContext(_ context.Context, p *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error) {
	a.mu.Lock()
	a.calls = append(a.calls, apiCall{method: "conversations.open", user: strings.Join(p.Users, ",")})
	a.mu.Unlock()
	c := &slack.Channel{}
	c.ID = "D" + strings.TrimPrefix(strings.Join(p.Users, ""), "U")
	return c, false, false, nil
}

func (a *recordingAPI) OpenViewContext(_ context.Context, trigger string, _ slack.ModalViewRequest) (*slack.ViewResponse, error) {
	a.mu.Lock()
	a.calls = append(a.calls, apiCall{method: "views.open", text: trigger})
	a.mu.Unlock()
	return &slack.ViewResponse{}, nil
}

func (a *recordingAPI) PublishViewContext(_ context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error) {
	body, _ := json.Marshal(req.View)
	a.mu.Lock()
	a.calls = append(a.calls, apiCall{method: "views.publish", user: req.UserID, text: string(body)})
	a.mu.Unlock()
	return &slack.ViewResponse{}, nil
}
