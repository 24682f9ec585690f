package slackapp

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// homeExtensionBlock starts the block ID of an extension's buttons in App
// Home, followed by "ID:SEQ", since there is no message to say which
// extension they decide.
const homeExtensionBlock = "home-ext:"

// maxHomeBlocks is Slack's limit on the blocks of a Home tab.
const maxHomeBlocks = 100

// HomeView renders user's App Home from their listing: their pending
// requests and active grants with the buttons of their DMs, and for
// approvers what waits for their decision, with Approve and Deny. Links
// are never shown here: a link button sends a fresh one to the user
// alone. canExtend says whether asking for more time on a grant can help.
func HomeView(l approval.Listing, approver bool, required int, canExtend func(*approval.Request) bool) slack.HomeTabViewRequest {
	var mine, decide []slack.Block
	for _, r := range l.Mine {
		mine = append(mine, homeMine(r, canExtend(r))...)
	}
	if len(mine) == 0 {
		mine = []slack.Block{section("You have no pending requests or active grants. Ask with `/share-bucket` (or `/share-bucket help`).")}
	}
	for _, r := range l.ToDecide {
		decide = append(decide, homeToDecide(r, required)...)
	}
	if len(decide) == 0 {
		decide = []slack.Block{section("Nothing waits for your decision.")}
	}
	if more := l.Waiting - len(l.ToDecide); more > 0 {
		decide = append(decide, section(fmt.Sprintf("%d more wait for a decision: `/share-bucket list` pages through them all.", more)))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("share-bucket")),
		slack.NewContextBlock("", mrkdwn("Temporary, approved access to S3. `/share-bucket help` says how to ask.")),
		section("*Your requests and grants*"),
	}
	blocks = append(blocks, mine...)
	if approver {
		blocks = append(blocks, slack.NewDividerBlock(), section("*Waiting for your decision*"))
		blocks = append(blocks, decide...)
	}
	if len(blocks) > maxHomeBlocks {
		blocks = append(blocks[:maxHomeBlocks-1], section("More than fits here: `/share-bucket list` shows everything."))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}

// homeMine is one of the user's own requests or grants.
func homeMine(r *approval.Request, canExtend bool) []slack.Block {
	head := fmt.Sprintf("*Request %s* · %s · %s", r.ID, scopeText(r.Scope), grantKind(r.Scope))
	if r.State == approval.StatePending {
		return []slack.Block{
			section(head + "\n:hourglass_flowing_sand: Waiting for approval; expires if undecided " + date(r.TimeoutAt) + "."),
			slack.NewActionBlock("home:"+r.ID, button(actionRevoke, r.ID, "Withdraw", "")),
		}
	}
	status := ":white_check_mark: Active until " + date(r.EndsAt) + "."
	if e := r.PendingExtension(); e != nil {
		status += fmt.Sprintf(" %s more asked for; waiting for approval.", approval.FormatDuration(e.Duration))
	}
	link := button(actionConsole, r.ID, "Open AWS console", slack.StylePrimary)
	end := endButton(r.ID)
	if r.Object() {
		link, end = button(actionNewLink, r.ID, "New link", slack.StylePrimary), objectEndButton(r.ID)
	}
	buttons := []slack.BlockElement{link, end}
	if canExtend {
		buttons = append(buttons, button(actionExtend, r.ID, "Extend", ""))
	}
	return []slack.Block{section(head + "\n" + status), slack.NewActionBlock("home:"+r.ID, buttons...)}
}

// homeToDecide is a request, or a grant's extension, waiting for an
// approver.
func homeToDecide(r *approval.Request, required int) []slack.Block {
	if e := r.PendingExtension(); e != nil && r.State == approval.StateApproved {
		return []slack.Block{
			section(fmt.Sprintf("*Request %s* · %s asks for %s more on their %s, which ends %s.\n%s",
				r.ID, user(r.Requester), approval.FormatDuration(e.Duration), accessTo(r.Scope), date(r.EndsAt), extensionStatus(r, e, required))),
			slack.NewSectionBlock(mrkdwn("*Reason*, as the requester wrote it:"), []*slack.TextBlockObject{userText(e.Reason, approval.MaxReasonLen)}, nil),
			slack.NewActionBlock(fmt.Sprintf("%s%s:%d", homeExtensionBlock, r.ID, e.Seq),
				button(actionApproveExtension, r.ID, "Approve", slack.StylePrimary),
				button(actionDenyExtension, r.ID, "Deny", slack.StyleDanger)),
		}
	}
	what := fmt.Sprintf("%s access to %s", r.Access, scopeText(r.Scope))
	if r.Object() {
		what = fmt.Sprintf("a link to %s %s", objectVerb(r.Kind), scopeText(r.Scope))
	}
	return []slack.Block{
		section(fmt.Sprintf("*Request %s* · %s asks for %s for %s.\n%s",
			r.ID, user(r.Requester), what, approval.FormatDuration(r.Duration), statusLine(r, required))),
		slack.NewSectionBlock(mrkdwn("*Reason*, as the requester wrote it:"), []*slack.TextBlockObject{userText(r.Reason, approval.MaxReasonLen)}, nil),
		slack.NewActionBlock("home:decide:"+r.ID,
			button(actionApprove, r.ID, "Approve", slack.StylePrimary),
			button(actionDeny, r.ID, "Deny", slack.StyleDanger)),
	}
}
