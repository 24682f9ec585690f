package slackapp

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// What people read about extensions and reminders. Pure, like render.go.

// Action IDs of the extension buttons. Their value is the request ID; the
// message they are on says which extension.
const (
	actionApproveExtension = "approve_extension"
	actionDenyExtension    = "deny_extension"
	// actionExtend, on the expiry warning, opens the extension form.
	actionExtend = "extend"
)

// ExtensionAsked is the reply to an extension the requester just asked
// for.
func ExtensionAsked(r *approval.Request, e *approval.Extension) string {
	if e == nil {
		return fmt.Sprintf("Request %s: your extension was recorded.", r.ID)
	}
	return fmt.Sprintf(":inbox_tray: Request %s: asked the approvers for %s more on your %s (it would then end %s). You will get a DM when they decide.",
		r.ID, approval.FormatDuration(e.Duration), accessTo(r.Scope), date(r.EndsAt.Add(e.Duration)))
}

// extensionStatus says where extension e of r stands.
func extensionStatus(r *approval.Request, e *approval.Extension, required int) string {
	switch e.State {
	case approval.StatePending:
		line := ":hourglass_flowing_sand: Waiting for approval"
		if required > 1 {
			var who []string
			for _, a := range e.Approvals {
				who = append(who, user(a.By))
			}
			line += fmt.Sprintf(" (%d of %d)", len(e.Approvals), required)
			if len(who) > 0 {
				line += ": approved by " + strings.Join(who, ", ")
			}
		}
		return line + ". Expires if undecided " + date(e.TimeoutAt) + "."
	case approval.StateApproved:
		return fmt.Sprintf(":white_check_mark: Extended by %s %s. The access now ends %s.", user(e.DecidedBy), date(e.DecidedAt), date(r.EndsAt))
	case approval.StateDenied:
		return fmt.Sprintf(":no_entry: Denied by %s %s. The access still ends %s.", user(e.DecidedBy), date(e.DecidedAt), date(r.EndsAt))
	}
	// Timed out: nobody decided in time, or the grant ended first.
	if e.DecidedAt.Before(e.TimeoutAt) {
		return ":lock: The access ended before anyone decided."
	}
	return fmt.Sprintf(":hourglass: Timed out %s: nobody decided in time.", date(e.DecidedAt))
}

// ExtensionMessage renders the message approvers decide on extension e
// of grant r, as it should look now.
func ExtensionMessage(r *approval.Request, e *approval.Extension, required int) (string, []slack.Block) {
	text := fmt.Sprintf("Request %s: %s asks for %s more on %s", r.ID, user(r.Requester), approval.FormatDuration(e.Duration), r.Scope)
	what := "*Folder*\n"
	if r.Object() {
		what = "*File*\n"
	}
	fields := []*slack.TextBlockObject{
		mrkdwn("*Requester*\n" + user(r.Requester)),
		mrkdwn(what + scopeText(r.Scope)),
		mrkdwn("*Access*\n" + grantKind(r.Scope)),
		mrkdwn("*Extra time*\n" + approval.FormatDuration(e.Duration)),
	}
	if e.State == approval.StatePending {
		fields = append(fields,
			mrkdwn("*Ends now*\n"+date(r.EndsAt)),
			mrkdwn("*Would end*\n"+date(r.EndsAt.Add(e.Duration))))
	}
	blocks := []slack.Block{
		section(fmt.Sprintf("*%s asks for %s more on their %s*", user(r.Requester), approval.FormatDuration(e.Duration), accessTo(r.Scope))),
		slack.NewSectionBlock(nil, fields, nil),
		slack.NewSectionBlock(mrkdwn("*Reason*, as the requester wrote it:"),
			[]*slack.TextBlockObject{userText(e.Reason, approval.MaxReasonLen)}, nil),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s · extension %d · asked %s · approved first by %s",
			r.ID, e.Seq, date(e.RequestedAt), user(r.DecidedBy)))),
		section(extensionStatus(r, e, required)),
	}
	if e.State == approval.StatePending && r.State == approval.StateApproved {
		blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("extend:%s:%d", r.ID, e.Seq),
			button(actionApproveExtension, r.ID, "Approve", slack.StylePrimary),
			button(actionDenyExtension, r.ID, "Deny", slack.StyleDanger),
		))
	}
	return text, blocks
}

// extensionNotice renders the DM a requester gets for an extension event,
// or "".
func extensionNotice(ev approval.Event, r *approval.Request) string {
	var e *approval.Extension
	if n := len(r.Extensions); n > 0 {
		e = &r.Extensions[n-1]
	}
	if seq := ev.Detail["extension"]; seq != "" {
		for i := range r.Extensions {
			if fmt.Sprint(r.Extensions[i].Seq) == seq {
				e = &r.Extensions[i]
			}
		}
	}
	if e == nil {
		return ""
	}
	more := approval.FormatDuration(e.Duration)
	switch ev.Kind {
	case approval.EventExtended:
		return fmt.Sprintf(":white_check_mark: Your %s was extended by %s, approved by %s: it now ends %s (request %s).",
			accessTo(r.Scope), more, user(ev.Actor), date(r.EndsAt), r.ID)
	case approval.EventExtensionDenied:
		return fmt.Sprintf(":no_entry: Your request for %s more on your %s was denied by %s; it still ends %s (request %s).",
			more, accessTo(r.Scope), user(ev.Actor), date(r.EndsAt), r.ID)
	case approval.EventExtensionTimedOut:
		return fmt.Sprintf(":hourglass: Nobody decided in time on your request for %s more on your %s; it still ends %s (request %s).",
			more, accessTo(r.Scope), date(r.EndsAt), r.ID)
	}
	return ""
}

// WarningMessage is the DM warning a requester that the grant ends soon,
// with an Extend button while an extension can still be asked for.
func WarningMessage(r *approval.Request, canExtend bool) (string, []slack.Block) {
	text := Notice(approval.Event{Kind: approval.EventWarned}, r, 0, false)
	if !canExtend {
		return text, []slack.Block{section(text)}
	}
	return text, []slack.Block{
		section(text),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Need more time? *Extend* asks the approvers, or type `/share-bucket extend %s 1h REASON`.", r.ID))),
		slack.NewActionBlock("warn:"+r.ID, button(actionExtend, r.ID, "Extend", slack.StylePrimary)),
	}
}

// Reminder is the line that reminds approvers of an undecided request or
// extension, named by ev.
func Reminder(ev approval.Event, r *approval.Request) string {
	waited := ev.Detail["waited"]
	if waited == "" {
		waited = "a while"
	}
	if seq := ev.Detail["extension"]; seq != "" {
		return fmt.Sprintf(":bell: Reminder: %s asked for more time on request %s (%s, extension %s) %s ago, and it is still undecided.",
			user(r.Requester), r.ID, scopeText(r.Scope), seq, waited)
	}
	return fmt.Sprintf(":bell: Reminder: request %s from %s for %s has waited %s for a decision.", r.ID, user(r.Requester), scopeText(r.Scope), waited)
}

// Modal IDs of the extension form.
const (
	extendCallback = "share_bucket_extend"
	fieldExtra     = "extra"
)

// ExtendModal is the form the Extend button opens: the time to add and a
// reason. The request ID travels in private_metadata.
func ExtendModal(r *approval.Request, maxExtended time.Duration) slack.ModalViewRequest {
	left := maxExtended - r.Duration - r.Extended()
	input := func(id, label, placeholder string, multiline bool) *slack.InputBlock {
		el := slack.NewPlainTextInputBlockElement(plain(placeholder), id)
		el.Multiline = multiline
		return slack.NewInputBlock(id, plain(label), nil, el)
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      extendCallback,
		PrivateMetadata: r.ID,
		Title:           plain("Extend access"),
		Submit:          plain("Ask"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section(fmt.Sprintf("Request %s: your %s ends %s. The approvers decide on more time; at most %s more in all.",
				r.ID, accessTo(r.Scope), date(r.EndsAt), approval.FormatDuration(left))),
			input(fieldExtra, "Time to add", "like 30m, 1h or 2h", false),
			input(fieldReason, "Reason", "why you need more time", true),
		}},
	}
}
