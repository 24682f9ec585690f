package slackapp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// What people read so that no grant is stuck without its link and no one
// floods the approvers: links in rich text, which fits a sign-in URL of
// any length; the approval message saying when a link could not be
// delivered; the replies to link ID, to a request already pending or one
// too many, and lists in pages. Pure, like render.go.

// ListPageSize is how many requests waiting for a decision one page of
// /share-bucket list shows. With the scopes shortened (listScopeLen), a
// full page and the user's own requests stay well under the 4,000
// characters Slack asks a message's text to keep to.
const ListPageSize = 10

// listScopeLen bounds a scope in a list: a key may be 1,024 bytes.
const listScopeLen = 80

// consoleLinkBlock carries a sign-in link in rich text, which Slack
// neither parses as markup nor limits to a section's 3,000 characters: a
// sign-in URL holds a token of a few thousand characters.
func consoleLinkBlock(url string) slack.Block {
	return slack.NewRichTextBlock("", slack.NewRichTextSection(
		slack.NewRichTextSectionLinkElement(url, "Open the AWS console", nil),
	))
}

// consoleLink is the sign-in link of a folder grant's DM: what it is and
// until when it works, then the link.
func consoleLink(link approval.Link) []slack.Block {
	return []slack.Block{
		section(fmt.Sprintf("Your sign-in link works for 15 minutes; the session lasts until %s:", date(link.SessionEnds))),
		consoleLinkBlock(link.URL),
	}
}

// FreshLinkMessage renders a newly minted link for r's requester alone,
// for the fresh-link buttons and /share-bucket link ID: the fallback
// text, which notifications show and so holds no link, and the blocks,
// which hold it in rich text.
func FreshLinkMessage(r *approval.Request, link approval.Link) (string, []slack.Block) {
	if r.Object() {
		return FreshObjectLink(r, link)
	}
	text := "A fresh sign-in link for " + r.Scope.String()
	intro := fmt.Sprintf("Here is a fresh sign-in link for %s (request %s). It works for 15 minutes; the session lasts until %s (your access ends %s):",
		scopeText(r.Scope), r.ID, date(link.SessionEnds), date(r.EndsAt))
	return text, []slack.Block{section(intro), consoleLinkBlock(link.URL)}
}

// undeliveredLine tells the approvers that an active grant's link never
// reached its requester, why, and how the requester still gets one.
func undeliveredLine(r *approval.Request) string {
	if r.Undelivered == "" {
		return ""
	}
	return fmt.Sprintf("\n:warning: The link could not be sent to %s (%s). They can get one with `/share-bucket link %s`, which shows it to them only.",
		user(r.Requester), escape(r.Undelivered), r.ID)
}

// LinkRefusal words why /share-bucket link ID gave no link for r (nil
// when there is no such request).
func LinkRefusal(r *approval.Request, err error) string {
	switch {
	case errors.Is(err, approval.ErrPending):
		return "This request is still waiting for the approvers: there is no access to link to yet."
	case r != nil && r.Object():
		return ObjectUserMessage(err)
	}
	return UserMessage(err)
}

// linkHint reminds a requester with an active grant how to get a link.
const linkHint = "Lost your link? `/share-bucket link ID` sends a fresh one that only you see."

// NotSent answers a request that was not stored because of the
// requester's pending requests, after its ack said it was on its way:
// the same request is already pending, or they have too many pending.
// It returns "" for any other error.
func NotSent(id string, err error) string {
	if ap, ok := errors.AsType[*approval.AlreadyPendingError](err); ok {
		p := ap.Request
		return fmt.Sprintf(":information_source: You already asked for this: request %s (%s for %s) has been waiting for the approvers since %s. Request %s was not sent, so they decide once.",
			p.ID, listScope(p.Scope)+" "+grantKind(p.Scope), approval.FormatDuration(p.Duration), date(p.CreatedAt), id)
	}
	if le, ok := errors.AsType[*approval.PendingLimitError](err); ok {
		return fmt.Sprintf(":warning: Request %s was not sent: you already have %d requests waiting for the approvers (%s), and %d is the most. Withdraw one with `/share-bucket revoke ID`, or wait for a decision.",
			id, len(le.Pending), strings.Join(le.Pending, ", "), le.Limit)
	}
	return ""
}

// listScope renders a scope for a list line: shortened, as inline code.
func listScope(s approval.Scope) string {
	str := s.String()
	if utf8.RuneCountInString(str) > listScopeLen {
		str = string([]rune(str)[:listScopeLen-1]) + "…"
	}
	return code(str)
}

// pageNote says which page of the requests waiting for a decision a
// list shows, and how to see the others. "" when all fit one page.
func pageNote(l approval.Listing) string {
	if l.PageSize == 0 {
		return ""
	}
	pages := max(1, (l.Waiting+l.PageSize-1)/l.PageSize)
	switch {
	case l.Page > pages && l.Waiting == 0:
		return fmt.Sprintf("There is no page %d.", l.Page)
	case l.Page > pages:
		return fmt.Sprintf("There is no page %d: %d requests wait for a decision, on pages 1 to %d.", l.Page, l.Waiting, pages)
	case pages == 1:
		return ""
	case l.Page < pages:
		return fmt.Sprintf("Page %d of %d (%d requests wait in all). Next: `/share-bucket list %d`.", l.Page, pages, l.Waiting, l.Page+1)
	}
	return fmt.Sprintf("Page %d of %d (%d requests wait in all).", l.Page, pages, l.Waiting)
}
