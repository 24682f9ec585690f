package slackapp

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// Everything here is pure: state in, Block Kit out. Handlers and the
// notifier decide when to send; this file decides what people read.

// Action IDs of the buttons the bot posts. The value of each is a request
// ID. They are part of every message already posted, so they never change:
// the revoke button keeps the ID it had when it was called "end access".
const (
	actionApprove = "approve"
	actionDeny    = "deny"
	actionRevoke  = "end_access"
	actionConsole = "open_console"
)

const exampleID = "K7QX2M4RTA"

// escape makes user text inert in mrkdwn: no mentions, no links, no
// formatting tricks through <, > or &.
func escape(s string) string { return escaper.Replace(s) }

// escaper is built once: building a Replacer costs more than using it.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// userText renders text a requester typed as plain text: verbatim, with
// no mrkdwn, links, mentions or emoji codes taking effect, on one line
// (so it cannot pose as a status line or push the buttons away), and at
// most n characters.
func userText(s string, n int) *slack.TextBlockObject {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	if s == "" {
		s = "-"
	}
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// code renders s as inline code, safely.
func code(s string) string {
	return "`" + strings.ReplaceAll(escape(s), "`", "'") + "`"
}

// user renders a chat user mention. IDs come from Slack and are checked by
// the handlers before they reach the store.
func user(id string) string {
	if id == "" {
		return "the scheduler"
	}
	return "<@" + id + ">"
}

// date renders t so that each reader sees it in their own time zone.
func date(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, false)
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, true, false)
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(text), nil, nil)
}

func button(actionID, value, text string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(text))
	if style != "" {
		b = b.WithStyle(style)
	}
	return b
}

func scopeText(s approval.Scope) string {
	return code(s.String())
}

// statusLine says where a request stands, for the approval message.
func statusLine(r *approval.Request, required int) string {
	switch r.State {
	case approval.StatePending:
		if required > 1 {
			var who []string
			for _, a := range r.Approvals {
				who = append(who, user(a.By))
			}
			line := fmt.Sprintf(":hourglass_flowing_sand: Waiting for approval (%d of %d)", len(r.Approvals), required)
			if len(who) > 0 {
				line += ": approved by " + strings.Join(who, ", ")
			}
			return line + ". Expires if undecided " + date(r.TimeoutAt) + "."
		}
		return ":hourglass_flowing_sand: Waiting for approval. Expires if undecided " + date(r.TimeoutAt) + "."
	case approval.StateApproved:
		return fmt.Sprintf(":white_check_mark: Approved by %s %s. Access until %s.", user(r.DecidedBy), date(r.DecidedAt), date(r.EndsAt)) + undeliveredLine(r)
	case approval.StateDenied:
		return fmt.Sprintf(":no_entry: Denied by %s %s.", user(r.DecidedBy), date(r.DecidedAt))
	case approval.StateTimedOut:
		return fmt.Sprintf(":hourglass: Timed out %s: nobody decided in time.", date(r.EndedAt))
	case approval.StateExpired:
		return fmt.Sprintf(":lock: Approved by %s. Access expired %s.", user(r.DecidedBy), date(r.EndsAt)) + cutLine(r)
	case approval.StateRevoked:
		return fmt.Sprintf(":octagonal_sign: Ended early by %s %s.", user(r.EndedBy), date(r.EndedAt)) + cutLine(r)
	case approval.StateFailed:
		return fmt.Sprintf(":x: Approved by %s, but AWS refused to issue access: %s.", user(r.DecidedBy), escape(r.Failure))
	}
	return string(r.State)
}

// cutLine says what became of an ended grant's live AWS sessions.
func cutLine(r *approval.Request) string {
	switch r.Cut {
	case approval.CutPending:
		return " Its open AWS sessions and unused links are being cut off."
	case approval.CutDone:
		return " Its AWS sessions and unused links were cut off."
	case approval.CutFailed:
		return fmt.Sprintf(" :warning: Its open AWS sessions could not be cut off (%s); they keep working until %s at the latest.",
			escape(r.CutError), date(r.SessionsEnd))
	}
	return ""
}

// ApprovalMessage renders the message approvers decide on, as it should
// look in r's current state. It returns the fallback text and the blocks.
func ApprovalMessage(r *approval.Request, required int) (string, []slack.Block) {
	text := fmt.Sprintf("Access request %s from %s for %s", r.ID, user(r.Requester), r.Scope)
	head := fmt.Sprintf("*%s asks for %s access to %s for %s*", user(r.Requester), r.Access, scopeText(r.Scope), approval.FormatDuration(r.Duration))
	what := "*Folder*\n"
	if r.Object() {
		head, what = objectApprovalHead(r), "*File*\n"
	}
	blocks := []slack.Block{
		section(head),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			mrkdwn("*Requester*\n" + user(r.Requester)),
			mrkdwn(what + scopeText(r.Scope)),
			mrkdwn("*Access*\n" + grantKind(r.Scope)),
			mrkdwn("*Duration*\n" + approval.FormatDuration(r.Duration)),
		}, nil),
		// The one field the requester wrote freely: plain text under a label
		// that says so.
		slack.NewSectionBlock(mrkdwn("*Reason*, as the requester wrote it:"),
			[]*slack.TextBlockObject{userText(r.Reason, approval.MaxReasonLen)}, nil),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s · asked %s", r.ID, date(r.CreatedAt)))),
		section(statusLine(r, required)),
	}
	switch r.State {
	case approval.StatePending:
		blocks = append(blocks, slack.NewActionBlock("decide:"+r.ID,
			button(actionApprove, r.ID, "Approve", slack.StylePrimary),
			button(actionDeny, r.ID, "Deny", slack.StyleDanger),
		))
	case approval.StateApproved:
		end := endButton(r.ID)
		if r.Object() {
			end = objectEndButton(r.ID)
		}
		blocks = append(blocks, slack.NewActionBlock("grant:"+r.ID, end))
	}
	return text, blocks
}

// endConfirmText is what End access asks before ending: the message that
// follows says whether sessions and links already made are cut off (the
// bot's settings decide).
const endConfirmText = "No new links can be made after this. The message that follows says whether the sessions and links already made are cut off too."

func endButton(id string) *slack.ButtonBlockElement {
	b := button(actionRevoke, id, "End access", slack.StyleDanger)
	b.Confirm = slack.NewConfirmationBlockObject(plain("End this access now?"),
		plain(endConfirmText), plain("End access"), plain("Keep"))
	return b
}

// GrantMessage renders the requester's DM about an approved grant. With a
// link, it carries the sign-in link (for one object, the presigned link);
// without, it explains why; once the grant is over, the link is gone.
func GrantMessage(r *approval.Request, link *approval.Link, linkErr error, maxSession time.Duration) (string, []slack.Block) {
	if r.Object() {
		return objectGrantMessage(r, link, linkErr, maxSession)
	}
	head := fmt.Sprintf("Your %s access to %s was approved by %s. It ends %s.", r.Access, scopeText(r.Scope), user(r.DecidedBy), date(r.EndsAt))
	text := fmt.Sprintf("Your access to %s was approved", r.Scope)
	if r.State != approval.StateApproved {
		return text, endedGrant(r, head)
	}
	blocks := []slack.Block{section(":white_check_mark: " + head)}
	switch {
	case link != nil:
		blocks = append(blocks, consoleLink(*link)...)
	case linkErr != nil:
		blocks = append(blocks, section(UserMessage(linkErr)))
	}
	blocks = append(blocks,
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s. Need the console again later? Use *Open AWS console* for a fresh link; each session lasts up to %s.", r.ID, approval.FormatDuration(maxSession)))),
		slack.NewActionBlock("grant:"+r.ID,
			button(actionConsole, r.ID, "Open AWS console", slack.StylePrimary),
			endButton(r.ID),
		))
	return text, blocks
}

// endedGrant is a grant's DM once the grant is over: what it was, how it
// ended, and the request it was, with no link and no buttons.
func endedGrant(r *approval.Request, head string) []slack.Block {
	return []slack.Block{section(head), section(statusLine(r, 1)), slack.NewContextBlock("", mrkdwn("Request "+r.ID))}
}

// Notice renders the DM a requester gets for ev, or "" when ev needs none.
// cutting says whether the bot cuts the sessions of grants ended early;
// when it does not, a revoked grant's DM says what stays open.
func Notice(ev approval.Event, r *approval.Request, maxSession time.Duration, cutting bool) string {
	if ev.Kind == approval.EventCutSessions {
		if r.Cut != approval.CutFailed {
			return ""
		}
		return fmt.Sprintf(":warning: The AWS sessions of your ended %s (request %s) could not be cut off (%s). A link or console already open keeps working until its session ends, %s at the latest.",
			accessTo(r.Scope), r.ID, escape(r.CutError), date(r.SessionsEnd))
	}
	switch ev.Kind {
	case approval.EventExtended, approval.EventExtensionDenied, approval.EventExtensionTimedOut:
		return extensionNotice(ev, r)
	}
	w := noticeWords(r.Scope)
	switch ev.Kind {
	case approval.EventDenied:
		return fmt.Sprintf(":no_entry: Your request %s %s was denied by %s.", r.ID, requestFor(r.Scope), user(ev.Actor))
	case approval.EventTimedOut:
		return fmt.Sprintf(":hourglass: Your request %s %s expired: nobody decided in time. Ask again if you still need %s.", r.ID, requestFor(r.Scope), w.need)
	case approval.EventWarned:
		return fmt.Sprintf(":warning: Your %s ends %s%s (request %s).", accessTo(r.Scope), date(r.EndsAt), w.afterEnd, r.ID)
	case approval.EventExpired:
		return fmt.Sprintf(":lock: Your %s has ended (request %s). No new %s can be made for it.", accessTo(r.Scope), r.ID, w.links)
	case approval.EventRevoked:
		if ev.Detail["was"] == string(approval.StatePending) {
			return fmt.Sprintf(":octagonal_sign: Your request %s %s was withdrawn by %s.", r.ID, requestFor(r.Scope), user(ev.Actor))
		}
		ended := fmt.Sprintf(":octagonal_sign: Your %s was ended by %s (request %s). No new %s can be made", accessTo(r.Scope), user(ev.Actor), r.ID, w.links)
		switch {
		case r.Cut == approval.CutPending:
			return ended + fmt.Sprintf(", and %s already made for it are being cut off (IAM applies this within seconds).", w.made)
		case cutting:
			return ended + "."
		}
		return ended + fmt.Sprintf("; %s keeps working until its session ends, at most %s.", w.open, approval.FormatDuration(maxSession))
	case approval.EventFailed:
		return fmt.Sprintf(":x: Your request %s %s was approved, but AWS refused to issue access: %s. The approvers have been told.", r.ID, requestFor(r.Scope), escape(r.Failure))
	}
	return ""
}

// words are what a requester's notices say differently for a folder
// (console sessions) and for one object (presigned links).
type words struct {
	need, afterEnd, links, made, open string
}

func noticeWords(s approval.Scope) words {
	if s.Object() {
		return words{need: "it", afterEnd: "; no new links can be made after that", links: "links", made: "the links", open: "a link already made"}
	}
	return words{need: "access", links: "sign-in links", made: "the AWS sessions and links", open: "a console already open"}
}

// CutoffNotice is the line approvers get when the deny list of ended
// grants outgrew IAM's limit and every session issued before cutoff was
// cut instead, those of active grants too.
func CutoffNotice(cutoff time.Time) string {
	return fmt.Sprintf(":scissors: Too many ended grants to list on the collaborator role (IAM allows 10,240 characters of inline policy), so every AWS session issued before %s was cut off instead, including those of grants still active. Their holders need a fresh link (*Open AWS console* in their DM); nothing else changes.",
		date(cutoff))
}

// Help is the reply to /share-bucket help.
func Help(example string, def, maxDur time.Duration) string {
	return strings.Join([]string{
		"*share-bucket* gives you temporary access to a folder of an S3 bucket, or a link to one file, after an approver says yes.",
		"`/share-bucket [s3://]BUCKET[/FOLDER/] [DURATION] [read|write] REASON…`",
		fmt.Sprintf("• DURATION like `15m`, `2h`, `1h30m` or `1d`: at least 15m, at most %s (default %s).", approval.FormatDuration(maxDur), approval.FormatDuration(def)),
		"• `read` to list and download, `write` (the default) to also upload and delete.",
		"• A reason is required. With no arguments at all, a form opens.",
		"Example: `" + example + "`",
		"`/share-bucket get [s3://]BUCKET/KEY [DURATION] REASON…`: a link to download one file.",
		"`/share-bucket put [s3://]BUCKET/KEY [DURATION] REASON…`: a link to upload one file to that key, with curl.",
		"Examples: `" + ObjectExample(example, approval.KindGet) + "`, `" + ObjectExample(example, approval.KindPut) + "`",
		"`/share-bucket list [PAGE]`: your requests and grants (approvers also see what waits for them, a page at a time).",
		"`/share-bucket revoke ID`: end a grant or withdraw a request.",
		"`/share-bucket link ID`: a fresh link for your active grant, shown to you only.",
		"`/share-bucket extend ID DURATION REASON…`: ask the approvers for more time on your active grant.",
	}, "\n")
}

// Usage renders a refusal with what was wrong and a correct example.
func Usage(problem, example string) string {
	return fmt.Sprintf(":warning: %s\nWrite it like this: `%s`\n(`/share-bucket help` for more.)", escape(problem), example)
}

// Submitted is the ack for a valid request.
func Submitted(id string, s approval.Scope, d time.Duration) string {
	if s.Object() {
		return fmt.Sprintf(":inbox_tray: Request %s %s for %s sent to the approvers. You will get a DM when they decide.",
			id, requestFor(s), approval.FormatDuration(d))
	}
	return fmt.Sprintf(":inbox_tray: Request %s for %s access to %s for %s sent to the approvers. You will get a DM when they decide.",
		id, s.Access, scopeText(s), approval.FormatDuration(d))
}

// Listing renders /share-bucket list: the user's own requests and grants
// (on the first page), then a page of the requests waiting for them.
func Listing(l approval.Listing) string {
	if l.Page > 1 {
		l.Mine = nil // shown on the first page
	}
	if len(l.Mine) == 0 && len(l.ToDecide) == 0 {
		if note := pageNote(l); note != "" {
			return note
		}
		return "You have no pending requests or active grants."
	}
	var b strings.Builder
	active := false
	line := func(r *approval.Request) {
		switch r.State {
		case approval.StateApproved:
			active = true
			fmt.Fprintf(&b, "• %s %s %s, active until %s\n", r.ID, listScope(r.Scope), grantKind(r.Scope), date(r.EndsAt))
		default:
			fmt.Fprintf(&b, "• %s %s %s for %s, from %s, pending until %s\n", r.ID, listScope(r.Scope), grantKind(r.Scope),
				approval.FormatDuration(r.Duration), user(r.Requester), date(r.TimeoutAt))
		}
	}
	if len(l.Mine) > 0 {
		b.WriteString("*Your requests and grants*\n")
		for _, r := range l.Mine {
			line(r)
		}
	}
	if active {
		b.WriteString(linkHint + "\n")
	}
	if len(l.ToDecide) > 0 {
		b.WriteString("*Waiting for approval*\n")
		for _, r := range l.ToDecide {
			line(r)
		}
	}
	if note := pageNote(l); note != "" {
		b.WriteString(note + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// Problem is what was wrong with a refused request, as plain text (Usage
// escapes it).
func Problem(err error) string {
	if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
		return ie.Reason
	}
	if fe, ok := errors.AsType[*approval.ForbiddenError](err); ok {
		return "Sorry, " + fe.Reason + "."
	}
	return err.Error()
}

// UserMessage explains err to the person who caused it, in plain words.
// Unknown errors get a generic sentence: details go to the log, not to chat.
func UserMessage(err error) string {
	if ue, ok := errors.AsType[*UsageError](err); ok {
		return escape(ue.Problem)
	}
	if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
		return escape(ie.Reason)
	}
	if fe, ok := errors.AsType[*approval.ForbiddenError](err); ok {
		return "Sorry, " + fe.Reason + "."
	}
	if se, ok := errors.AsType[*approval.StateError](err); ok {
		// The sentinel says what happened; the StateError says who, and
		// whether it was about an extension.
		this := "This request"
		if strings.HasSuffix(se.Action, "extension") {
			this = "This extension"
		}
		switch {
		case errors.Is(err, approval.ErrApprovalCounted):
			return "You already approved " + strings.ToLower(this) + "; it waits for more approvers."
		case errors.Is(err, approval.ErrExtensionPending):
			return "An extension of this access is already waiting for the approvers."
		case errors.Is(err, approval.ErrPending):
			return "This request is not approved yet."
		case errors.Is(err, approval.ErrTimedOut):
			return this + " expired: nobody decided in time."
		case errors.Is(err, approval.ErrAlreadyDecided) && se.State == approval.StateDenied:
			return this + " was already denied by " + user(se.By) + "."
		case errors.Is(err, approval.ErrAlreadyDecided):
			return this + " was already approved by " + user(se.By) + "."
		case errors.Is(err, approval.ErrEnded) && se.State == approval.StateRevoked:
			return "This request was ended by " + user(se.By) + "."
		case errors.Is(err, approval.ErrEnded) && se.State == approval.StateFailed:
			return "This request failed: AWS refused to issue access."
		case errors.Is(err, approval.ErrEnded):
			return "This access has already ended."
		}
	}
	if ie, ok := errors.AsType[*approval.IssueError](err); ok {
		return fmt.Sprintf("AWS refused to issue access (%s: %s).", escape(ie.Code), escape(ie.Reason))
	}
	switch {
	case errors.Is(err, approval.ErrNotFound):
		return "There is no request with that ID."
	case errors.Is(err, approval.ErrTooLate):
		return "Less than 15 minutes of this access are left, and AWS cannot issue a shorter session. The console you already opened runs until the access ends."
	}
	return "Something went wrong on our side. It has been logged; please try again in a minute."
}
