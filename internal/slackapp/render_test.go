package slackapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func sampleRequest() *approval.Request {
	return &approval.Request{
		ID: "K7QX2M4RTA", Requester: "UREQ",
		Scope:    approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite},
		Duration: 2 * time.Hour, Reason: "numbers for <!channel> & the auditors",
		State: approval.StatePending, CreatedAt: t0, TimeoutAt: t0.Add(8 * time.Hour),
	}
}

// show prints blocks as the lines a reader would see, buttons in brackets.
func show(text string, blocks []slack.Block) {
	if text != "" {
		fmt.Println("text:", text)
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				fmt.Println(b.Text.Text)
			}
			for _, f := range b.Fields {
				line := strings.ReplaceAll(f.Text, "\n", " ")
				if f.Type == slack.PlainTextType {
					line += " (plain text)"
				}
				fmt.Println(line)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					fmt.Println("(" + t.Text + ")")
				}
			}
		case *slack.RichTextBlock:
			fmt.Println(richText(b))
		case *slack.ActionBlock:
			var names []string
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					names = append(names, fmt.Sprintf("[%s %s=%s]", btn.Text.Text, btn.ActionID, btn.Value))
				}
			}
			fmt.Println(strings.Join(names, " "))
		}
	}
}

func ExampleApprovalMessage() {
	show(ApprovalMessage(sampleRequest(), 1))
	// Output:
	// text: Access request K7QX2M4RTA from <@UREQ> for collab-bucket/myfolder/
	// *<@UREQ> asks for write access to `collab-bucket/myfolder/` for 2h*
	// *Requester* <@UREQ>
	// *Folder* `collab-bucket/myfolder/`
	// *Access* write
	// *Duration* 2h
	// *Reason*, as the requester wrote it:
	// numbers for <!channel> & the auditors (plain text)
	// (Request K7QX2M4RTA · asked <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>)
	// :hourglass_flowing_sand: Waiting for approval. Expires if undecided <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>.
	// [Approve approve=K7QX2M4RTA] [Deny deny=K7QX2M4RTA]
}

func ExampleApprovalMessage_approved() {
	r := sampleRequest()
	r.State, r.DecidedBy, r.DecidedAt, r.EndsAt = approval.StateApproved, "UAPP", t0.Add(time.Minute), t0.Add(121*time.Minute)
	_, blocks := ApprovalMessage(r, 1)
	show("", blocks[4:])
	// Output:
	// :white_check_mark: Approved by <@UAPP> <!date^1795780860^{date_short_pretty} at {time}|2026-11-27 12:01 UTC>. Access until <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// [End access end_access=K7QX2M4RTA]
}

func ExampleApprovalMessage_twoApprovers() {
	r := sampleRequest()
	r.Approvals = []approval.Approval{{By: "UAPP", At: t0}}
	_, blocks := ApprovalMessage(r, 2)
	show("", blocks[4:5])
	// Output:
	// :hourglass_flowing_sand: Waiting for approval (1 of 2): approved by <@UAPP>. Expires if undecided <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>.
}

func ExampleApprovalMessage_endStates() {
	for _, s := range []approval.State{approval.StateDenied, approval.StateTimedOut, approval.StateRevoked, approval.StateFailed} {
		r := sampleRequest()
		r.State, r.DecidedBy, r.DecidedAt, r.EndedBy, r.EndedAt = s, "UAPP", t0, "UREQ", t0
		r.Failure = "AccessDenied: the bot is not allowed to assume the role"
		_, blocks := ApprovalMessage(r, 1)
		if len(blocks) != 5 {
			fmt.Println("unexpected buttons on a", s, "request")
		}
		fmt.Println(blocks[4].(*slack.SectionBlock).Text.Text)
	}
	// Output:
	// :no_entry: Denied by <@UAPP> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>.
	// :hourglass: Timed out <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>: nobody decided in time.
	// :octagonal_sign: Ended early by <@UREQ> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>.
	// :x: Approved by <@UAPP>, but AWS refused to issue access: AccessDenied: the bot is not allowed to assume the role.
}

func ExampleGrantMessage() {
	r := sampleRequest()
	r.State, r.DecidedBy, r.DecidedAt, r.EndsAt = approval.StateApproved, "UAPP", t0, t0.Add(2*time.Hour)
	link := &approval.Link{URL: "https://signin.example/federation?Action=login&SigninToken=tok", SessionEnds: t0.Add(time.Hour)}
	show(GrantMessage(r, link, nil, time.Hour))
	// Output:
	// text: Your access to collab-bucket/myfolder/ was approved
	// :white_check_mark: Your write access to `collab-bucket/myfolder/` was approved by <@UAPP>. It ends <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC>.
	// Your sign-in link works for 15 minutes; the session lasts until <!date^1795784400^{date_short_pretty} at {time}|2026-11-27 13:00 UTC>:
	// <https://signin.example/federation?Action=login&SigninToken=tok|Open the AWS console>
	// (Request K7QX2M4RTA. Need the console again later? Use *Open AWS console* for a fresh link; each session lasts up to 1h.)
	// [Open AWS console open_console=K7QX2M4RTA] [End access end_access=K7QX2M4RTA]
}

func ExampleGrantMessage_ended() {
	r := sampleRequest()
	r.State, r.DecidedBy, r.DecidedAt, r.EndsAt = approval.StateExpired, "UAPP", t0, t0.Add(2*time.Hour)
	show(GrantMessage(r, nil, nil, time.Hour))
	// Output:
	// text: Your access to collab-bucket/myfolder/ was approved
	// Your write access to `collab-bucket/myfolder/` was approved by <@UAPP>. It ends <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC>.
	// :lock: Approved by <@UAPP>. Access expired <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC>.
	// (Request K7QX2M4RTA)
}

func ExampleNotice() {
	r := sampleRequest()
	r.EndsAt = t0.Add(2 * time.Hour)
	r.Failure = "AccessDenied: refused"
	for _, ev := range []approval.Event{
		{Kind: approval.EventDenied, Actor: "UAPP"},
		{Kind: approval.EventTimedOut},
		{Kind: approval.EventWarned},
		{Kind: approval.EventExpired},
		{Kind: approval.EventRevoked, Actor: "UAPP", Detail: map[string]string{"was": "approved"}},
		{Kind: approval.EventRevoked, Actor: "UREQ", Detail: map[string]string{"was": "pending"}},
		{Kind: approval.EventFailed},
	} {
		fmt.Println(Notice(ev, r, time.Hour, false))
	}
	// Output:
	// :no_entry: Your request K7QX2M4RTA for `collab-bucket/myfolder/` was denied by <@UAPP>.
	// :hourglass: Your request K7QX2M4RTA for `collab-bucket/myfolder/` expired: nobody decided in time. Ask again if you still need access.
	// :warning: Your access to `collab-bucket/myfolder/` ends <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC> (request K7QX2M4RTA).
	// :lock: Your access to `collab-bucket/myfolder/` has ended (request K7QX2M4RTA). No new sign-in links can be made for it.
	// :octagonal_sign: Your access to `collab-bucket/myfolder/` was ended by <@UAPP> (request K7QX2M4RTA). No new sign-in links can be made; a console already open keeps working until its session ends, at most 1h.
	// :octagonal_sign: Your request K7QX2M4RTA for `collab-bucket/myfolder/` was withdrawn by <@UREQ>.
	// :x: Your request K7QX2M4RTA for `collab-bucket/myfolder/` was approved, but AWS refused to issue access: AccessDenied: refused. The approvers have been told.
}

// ExampleNotice_cut: with cutting on, the DMs of a grant ended early say
// what happens to the sessions already open.
func ExampleNotice_cut() {
	r := sampleRequest()
	r.State, r.SessionsEnd = approval.StateRevoked, t0.Add(time.Hour)
	revoked := approval.Event{Kind: approval.EventRevoked, Actor: "UAPP", Detail: map[string]string{"was": "approved"}}
	fmt.Println(Notice(revoked, r, time.Hour, true))
	r.Cut = approval.CutPending
	fmt.Println(Notice(revoked, r, time.Hour, true))
	cut := approval.Event{Kind: approval.EventCutSessions}
	r.Cut = approval.CutDone
	fmt.Printf("%q\n", Notice(cut, r, time.Hour, true))
	r.Cut, r.CutError = approval.CutFailed, "AccessDenied: the bot may not change the role's inline policies"
	fmt.Println(Notice(cut, r, time.Hour, true))
	// Output:
	// :octagonal_sign: Your access to `collab-bucket/myfolder/` was ended by <@UAPP> (request K7QX2M4RTA). No new sign-in links can be made.
	// :octagonal_sign: Your access to `collab-bucket/myfolder/` was ended by <@UAPP> (request K7QX2M4RTA). No new sign-in links can be made, and the AWS sessions and links already made for it are being cut off (IAM applies this within seconds).
	// ""
	// :warning: The AWS sessions of your ended access to `collab-bucket/myfolder/` (request K7QX2M4RTA) could not be cut off (AccessDenied: the bot may not change the role's inline policies). A link or console already open keeps working until its session ends, <!date^1795784400^{date_short_pretty} at {time}|2026-11-27 13:00 UTC> at the latest.
}

// ExampleApprovalMessage_cut: approvers see what became of the sessions.
func ExampleApprovalMessage_cut() {
	for _, c := range []approval.CutState{approval.CutPending, approval.CutDone, approval.CutFailed} {
		r := sampleRequest()
		r.State, r.EndedBy, r.EndedAt, r.SessionsEnd, r.Cut, r.CutError = approval.StateRevoked, "UREQ", t0, t0.Add(time.Hour), c, "AccessDenied: refused"
		_, blocks := ApprovalMessage(r, 1)
		fmt.Println(blocks[4].(*slack.SectionBlock).Text.Text)
	}
	// Output:
	// :octagonal_sign: Ended early by <@UREQ> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>. Its open AWS sessions and unused links are being cut off.
	// :octagonal_sign: Ended early by <@UREQ> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>. Its AWS sessions and unused links were cut off.
	// :octagonal_sign: Ended early by <@UREQ> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>. :warning: Its open AWS sessions could not be cut off (AccessDenied: refused); they keep working until <!date^1795784400^{date_short_pretty} at {time}|2026-11-27 13:00 UTC> at the latest.
}

func ExampleCutoffNotice() {
	fmt.Println(CutoffNotice(t0))
	// Output:
	// :scissors: Too many ended grants to list on the collaborator role (IAM allows 10,240 characters of inline policy), so every AWS session issued before <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC> was cut off instead, including those of grants still active. Their holders need a fresh link (*Open AWS console* in their DM); nothing else changes.
}

// TestHostileReasons: nothing a requester writes as a reason can make the
// approval message show a status line, a link, a mention, an emoji, bold
// or italic text, or push the buttons away. The reason appears once, as
// plain text on one line, under its label; every other block is the same
// as for a harmless reason.
func TestHostileReasons(t *testing.T) {
	hostile := []string{
		"audit\n:white_check_mark: Approved by <@UAPP1>. Access until tomorrow.",
		"*Pre-approved* by _security_ ~do not deny~",
		"see <https://evil.example/login|the AWS console> or https://evil.example",
		"<!channel> <!here> <@UAPP1> <#C123> <!subteam^S123>",
		":white_check_mark: :rotating_light: urgent",
		"&lt;b&gt; &amp; > quote\n> fake quote",
		"```code block```",
		strings.Repeat("line\n", 200),
		strings.Repeat("x", approval.MaxReasonLen),
	}
	base := sampleRequest()
	base.Reason = "quarterly numbers"
	wantText, want := ApprovalMessage(base, 1)
	for _, reason := range hostile {
		r := sampleRequest()
		r.Reason = reason
		text, blocks := ApprovalMessage(r, 1)
		if text != wantText {
			t.Errorf("reason %q changed the fallback text to %q", reason, text)
		}
		if len(blocks) != len(want) {
			t.Fatalf("reason %q: %d blocks; want %d", reason, len(blocks), len(want))
		}
		for i := range blocks {
			got, exp := mustJSON(t, blocks[i]), mustJSON(t, want[i])
			if i == 2 {
				sec := blocks[i].(*slack.SectionBlock)
				if len(sec.Fields) != 1 {
					t.Fatalf("reason block has %d fields", len(sec.Fields))
				}
				f := sec.Fields[0]
				if f.Type != slack.PlainTextType || f.Emoji == nil || *f.Emoji || strings.Contains(f.Text, "\n") ||
					len([]rune(f.Text)) > approval.MaxReasonLen || f.Verbatim {
					t.Errorf("reason %q rendered as %+v; want plain text, no emoji, one line, bounded", reason, f)
				}
				if got, want := f.Text, strings.Join(strings.Fields(reason), " "); !strings.HasPrefix(want, strings.TrimSuffix(got, "…")) {
					t.Errorf("reason %q shown as %q; want it verbatim, with spaces collapsed", reason, got)
				}
				if sec.Text.Text != "*Reason*, as the requester wrote it:" {
					t.Errorf("label = %q", sec.Text.Text)
				}
				continue
			}
			if got != exp {
				t.Errorf("reason %q changed block %d:\n%s\nwant\n%s", reason, i, got, exp)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ExampleUsage() {
	_, err := ParseCommand("collab-bucket/../x why", time.Hour)
	fmt.Println(Usage(err.Error(), "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers"))
	// Output:
	// :warning: "../x" is not an allowed folder: a folder has no . or .. parts
	// Write it like this: `/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers`
	// (`/share-bucket help` for more.)
}

func ExampleUserMessage() {
	for _, err := range []error{
		&approval.ForbiddenError{Reason: "you cannot decide on your own request; another approver has to"},
		&approval.StateError{Err: approval.ErrAlreadyDecided, Action: "approve", State: approval.StateApproved, By: "UAPP"},
		&approval.StateError{Err: approval.ErrTimedOut, Action: "approve", State: approval.StateTimedOut},
		&approval.StateError{Err: approval.ErrAlreadyDecided, Action: "deny extension", State: approval.StateDenied, By: "UAPP2"},
		&approval.StateError{Err: approval.ErrExtensionPending, Action: "extend", State: approval.StatePending},
		&approval.IssueError{Code: "AccessDenied", Reason: "the role does not trust the bot", Err: errors.New("secret detail")},
		approval.ErrNotFound,
		fmt.Errorf("wrapped: %w", approval.ErrTooLate),
		errors.New("database is locked: /var/lib/x.db"),
	} {
		fmt.Println(UserMessage(err))
	}
	// Output:
	// Sorry, you cannot decide on your own request; another approver has to.
	// This request was already approved by <@UAPP>.
	// This request expired: nobody decided in time.
	// This extension was already denied by <@UAPP2>.
	// An extension of this access is already waiting for the approvers.
	// AWS refused to issue access (AccessDenied: the role does not trust the bot).
	// There is no request with that ID.
	// Less than 15 minutes of this access are left, and AWS cannot issue a shorter session. The console you already opened runs until the access ends.
	// Something went wrong on our side. It has been logged; please try again in a minute.
}

// TestRenderedBlocksValid checks every rendering against Slack's limits.
func TestRenderedBlocksValid(t *testing.T) {
	r := sampleRequest()
	r.Reason = strings.Repeat("é", approval.MaxReasonLen)
	r.Prefix = strings.Repeat("a/", approval.MaxPrefixLen/2-1)
	for _, s := range []approval.State{approval.StatePending, approval.StateApproved, approval.StateDenied, approval.StateExpired} {
		r.State = s
		text, blocks := ApprovalMessage(r, 3)
		checkMessage(t, text, blocks)
		text, blocks = GrantMessage(r, &approval.Link{URL: "https://x/" + strings.Repeat("t", 1500)}, nil, time.Hour)
		checkMessage(t, text, blocks)
	}
}

func checkMessage(t *testing.T, text string, blocks []slack.Block) {
	t.Helper()
	if len(text) > 4000 || len(blocks) > 50 {
		t.Errorf("text %d chars, %d blocks; want ≤ 4000 and ≤ 50", len(text), len(blocks))
	}
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil && len([]rune(s.Text.Text)) > 3000 {
			t.Errorf("section text is %d chars; Slack allows 3000", len([]rune(s.Text.Text)))
		}
	}
	if _, err := json.Marshal(blocks); err != nil {
		t.Errorf("blocks do not marshal: %v", err)
	}
}

// TestEveryMessageNamesRequest: every message about a request, in every
// state, shows the request's ID as "Request ID" (or "request ID" within
// a sentence), so people can quote it in commands.
func TestEveryMessageNamesRequest(t *testing.T) {
	want := "request k7qx2m4rta"
	check := func(what, text string, blocks []slack.Block) {
		t.Helper()
		all := text
		for _, b := range blocks {
			all += " " + mustJSON(t, b)
		}
		if !strings.Contains(strings.ToLower(all), want) {
			t.Errorf("%s does not name the request:\n%s", what, all)
		}
	}
	link := &approval.Link{URL: "https://signin.example/federation?Action=login&SigninToken=tok", SessionEnds: t0.Add(time.Hour)}
	for _, kind := range []approval.Kind{approval.KindFolder, approval.KindGet, approval.KindPut} {
		for _, state := range []approval.State{approval.StatePending, approval.StateApproved, approval.StateDenied,
			approval.StateTimedOut, approval.StateExpired, approval.StateRevoked, approval.StateFailed} {
			r := sampleRequest()
			if kind != approval.KindFolder {
				r.Scope = approval.Scope{Kind: kind, Bucket: "collab-bucket", Key: "myfolder/f.txt", Access: kind.Access()}
			}
			r.State, r.DecidedBy, r.DecidedAt, r.EndsAt, r.EndedBy, r.EndedAt = state, "UAPP", t0, t0.Add(2*time.Hour), "UREQ", t0
			r.Extensions = []approval.Extension{{Seq: 1, Duration: time.Hour, Reason: "more", State: approval.StatePending, RequestedAt: t0, TimeoutAt: t0.Add(time.Hour)}}
			name := string(kind) + " " + string(state)
			text, blocks := ApprovalMessage(r, 1)
			check("approval message, "+name, text, blocks)
			text, blocks = GrantMessage(r, link, nil, time.Hour)
			check("grant DM, "+name, text, blocks)
			text, blocks = ExtensionMessage(r, &r.Extensions[0], 1)
			check("extension message, "+name, text, blocks)
			text, blocks = WarningMessage(r, true)
			check("warning, "+name, text, blocks)
			for _, k := range []approval.EventKind{approval.EventDenied, approval.EventTimedOut, approval.EventWarned, approval.EventExpired,
				approval.EventRevoked, approval.EventFailed, approval.EventExtended, approval.EventExtensionDenied, approval.EventExtensionTimedOut} {
				for _, was := range []string{"approved", "pending"} {
					if n := Notice(approval.Event{Kind: k, Actor: "UAPP", Detail: map[string]string{"was": was, "extension": "1"}}, r, time.Hour, true); n != "" {
						check("notice "+string(k)+", "+name, n, nil)
					}
				}
			}
			r.Cut, r.CutError = approval.CutFailed, "AccessDenied: no"
			check("cut failed, "+name, Notice(approval.Event{Kind: approval.EventCutSessions}, r, time.Hour, true), nil)
			check("reminder, "+name, Reminder(approval.Event{Kind: approval.EventReminded, Detail: map[string]string{"waited": "1h"}}, r), nil)
			check("extension reminder, "+name, Reminder(approval.Event{Kind: approval.EventReminded, Detail: map[string]string{"extension": "1"}}, r), nil)
			check("extension asked, "+name, ExtensionAsked(r, &r.Extensions[0]), nil)
			text, blocks = FreshLinkMessage(r, *link)
			check("fresh link, "+name, text, blocks)
		}
	}
}
