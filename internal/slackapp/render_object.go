package slackapp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// What people read about requests for one object (get and put): the same
// messages as for folders, in their own words, with a presigned link in
// place of the console. Pure, like render.go.

// actionNewLink is the button on an object grant's DM that mints a fresh
// presigned link; it follows the rules of actionConsole.
const actionNewLink = "new_link"

// objectTask says what an object request is for, in words: "download one
// file" or "upload one file".
func objectTask(k approval.Kind) string {
	if k == approval.KindPut {
		return "upload one file"
	}
	return "download one file"
}

// objectVerb is "download" or "upload".
func objectVerb(k approval.Kind) string {
	if k == approval.KindPut {
		return "upload"
	}
	return "download"
}

// requestFor names what a request asks for after "Your request ID":
// "for `b/p/`" or "to download one file (`b/k`)".
func requestFor(s approval.Scope) string {
	if s.Object() {
		return fmt.Sprintf("to %s (%s)", objectTask(s.Kind), scopeText(s))
	}
	return "for " + scopeText(s)
}

// accessTo names a grant after "Your": "access to `b/p/`" or "access to
// download `b/k`".
func accessTo(s approval.Scope) string {
	if s.Object() {
		return fmt.Sprintf("access to %s %s", objectVerb(s.Kind), scopeText(s))
	}
	return "access to " + scopeText(s)
}

// grantKind is how lists and acks name the kind of a grant: the access
// level of a folder, or "download one file" / "upload one file".
func grantKind(s approval.Scope) string {
	if s.Object() {
		return objectTask(s.Kind)
	}
	return string(s.Access)
}

// shellQuote quotes s for a POSIX shell, so a URL pasted in a terminal
// arrives as it is.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CurlLine is the command that uploads a file with a presigned put link.
func CurlLine(url string) string { return "curl -T FILE " + shellQuote(url) }

// linkBlock carries an object's presigned link in rich text, which Slack
// neither parses as markup nor limits to a section's 3,000 characters: a
// download link to click, or for an upload the curl line as preformatted
// text, ready to copy.
func linkBlock(s approval.Scope, url string) slack.Block {
	if s.Kind == approval.KindPut {
		return slack.NewRichTextBlock("", &slack.RichTextPreformatted{
			Type:     slack.RTEPreformatted,
			Elements: []slack.RichTextSectionElement{slack.NewRichTextSectionTextElement(CurlLine(url), nil)},
		})
	}
	return slack.NewRichTextBlock("", slack.NewRichTextSection(
		slack.NewRichTextSectionLinkElement(url, "Download "+s.Path(), nil),
	))
}

// linkIntro says what the link block below it is, and until when it works.
func linkIntro(s approval.Scope, link approval.Link) string {
	if s.Kind == approval.KindPut {
		return fmt.Sprintf("Upload your file with the command below: replace FILE with its path. It lands at %s, replacing anything there. The link works until %s.",
			scopeText(s), date(link.SessionEnds))
	}
	return fmt.Sprintf("Your download link for %s works until %s:", scopeText(s), date(link.SessionEnds))
}

func objectEndButton(id string) *slack.ButtonBlockElement {
	b := button(actionRevoke, id, "End access", slack.StyleDanger)
	b.Confirm = slack.NewConfirmationBlockObject(plain("End this access now?"),
		plain(endConfirmText), plain("End access"), plain("Keep"))
	return b
}

// objectApprovalHead is the first line of an object request's approval
// message.
func objectApprovalHead(r *approval.Request) string {
	if r.Kind == approval.KindPut {
		return fmt.Sprintf("*%s asks for a link to upload one file to %s for %s*", user(r.Requester), scopeText(r.Scope), approval.FormatDuration(r.Duration))
	}
	return fmt.Sprintf("*%s asks for a link to download one file, %s, for %s*", user(r.Requester), scopeText(r.Scope), approval.FormatDuration(r.Duration))
}

// objectGrantMessage is GrantMessage for one object: the presigned link
// with its end, for a put the curl line and the key it lands at, and the
// New link and End access buttons while the grant lasts.
func objectGrantMessage(r *approval.Request, link *approval.Link, linkErr error, maxSession time.Duration) (string, []slack.Block) {
	head := fmt.Sprintf("Your request %s was approved by %s. It ends %s.", requestFor(r.Scope), user(r.DecidedBy), date(r.EndsAt))
	text := fmt.Sprintf("Your request to %s (%s) was approved", objectTask(r.Kind), r.Scope)
	if r.State != approval.StateApproved {
		return text, endedGrant(r, head)
	}
	blocks := []slack.Block{section(":white_check_mark: " + head)}
	switch {
	case link != nil:
		blocks = append(blocks, section(linkIntro(r.Scope, *link)), linkBlock(r.Scope, link.URL))
	case linkErr != nil:
		blocks = append(blocks, section(ObjectUserMessage(linkErr)))
	}
	blocks = append(blocks,
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s. Need the link again later? Use *New link* for a fresh one; each works for up to %s, and none after your access ends.", r.ID, approval.FormatDuration(maxSession)))),
		slack.NewActionBlock("grant:"+r.ID,
			button(actionNewLink, r.ID, "New link", slack.StylePrimary),
			objectEndButton(r.ID),
		))
	return text, blocks
}

// FreshObjectLink renders the ephemeral reply with a newly minted link
// for one object: its fallback text (which holds no link) and blocks.
func FreshObjectLink(r *approval.Request, link approval.Link) (string, []slack.Block) {
	text := fmt.Sprintf("A new link to %s %s", objectVerb(r.Kind), r.Scope)
	intro := fmt.Sprintf("Here is a new link to %s %s (request %s). It works until %s (your access ends %s).",
		objectVerb(r.Kind), scopeText(r.Scope), r.ID, date(link.SessionEnds), date(r.EndsAt))
	if r.Kind == approval.KindPut {
		intro += " Replace FILE with the path of your file:"
	}
	return text, []slack.Block{section(intro), linkBlock(r.Scope, link.URL)}
}

// ObjectUserMessage is UserMessage for a grant of one object, where there
// is no console to speak of.
func ObjectUserMessage(err error) string {
	if errors.Is(err, approval.ErrTooLate) {
		return "Less than 15 minutes of this access are left, and AWS cannot issue a shorter session, so no new link can be made. A link you already have works until its session ends."
	}
	return UserMessage(err)
}

// ObjectExample turns a folder example command (as shown in help) into
// one for kind: the same bucket and folder, and a file in it.
func ObjectExample(folderExample string, kind approval.Kind) string {
	bucket, folder := "collab-bucket", "myfolder/"
	if f := strings.Fields(folderExample); len(f) > 1 {
		if b, p, err := parseScope(f[1]); err == nil {
			bucket, folder = b, p
		}
	}
	if kind == approval.KindPut {
		return fmt.Sprintf("/share-bucket put %s/%sdelivery.zip 2h the vendor's delivery", bucket, folder)
	}
	return fmt.Sprintf("/share-bucket get %s/%sreport.pdf 2h for the auditors", bucket, folder)
}
