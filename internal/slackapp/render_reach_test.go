package slackapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

func ExampleFreshLinkMessage() {
	r := sampleRequest()
	r.State, r.EndsAt = approval.StateApproved, t0.Add(2*time.Hour)
	show(FreshLinkMessage(r, approval.Link{URL: "https://signin.example/federation?Action=login&SigninToken=tok", SessionEnds: t0.Add(time.Hour)}))
	// Output:
	// text: A fresh sign-in link for collab-bucket/myfolder/
	// Here is a fresh sign-in link for `collab-bucket/myfolder/` (request K7QX2M4RTA). It works for 15 minutes; the session lasts until <!date^1795784400^{date_short_pretty} at {time}|2026-11-27 13:00 UTC> (your access ends <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC>):
	// <https://signin.example/federation?Action=login&SigninToken=tok|Open the AWS console>
}

func ExampleApprovalMessage_undelivered() {
	r := sampleRequest()
	r.State, r.DecidedBy, r.DecidedAt, r.EndsAt = approval.StateApproved, "UAPP", t0, t0.Add(2*time.Hour)
	r.Undelivered = "invalid_blocks: Slack refused the message's <layout>"
	_, blocks := ApprovalMessage(r, 1)
	fmt.Println(blocks[4].(*slack.SectionBlock).Text.Text)
	// Output:
	// :white_check_mark: Approved by <@UAPP> <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>. Access until <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC>.
	// :warning: The link could not be sent to <@UREQ> (invalid_blocks: Slack refused the message's &lt;layout&gt;). They can get one with `/share-bucket link K7QX2M4RTA`, which shows it to them only.
}

func ExampleNotSent() {
	p := sampleRequest()
	fmt.Println(NotSent("AAAAAAAAAA", &approval.AlreadyPendingError{Request: p}))
	fmt.Println(NotSent("AAAAAAAAAA", fmt.Errorf("submit: %w", &approval.PendingLimitError{Limit: 2, Pending: []string{"BBBBBBBBBB", "K7QX2M4RTA"}})))
	fmt.Printf("%q\n", NotSent("AAAAAAAAAA", approval.ErrExists))
	// Output:
	// :information_source: You already asked for this: request K7QX2M4RTA (`collab-bucket/myfolder/` write for 2h) has been waiting for the approvers since <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>. Request AAAAAAAAAA was not sent, so they decide once.
	// :warning: Request AAAAAAAAAA was not sent: you already have 2 requests waiting for the approvers (BBBBBBBBBB, K7QX2M4RTA), and 2 is the most. Withdraw one with `/share-bucket revoke ID`, or wait for a decision.
	// ""
}

func ExampleLinkRefusal() {
	fmt.Println(LinkRefusal(sampleRequest(), &approval.StateError{Err: approval.ErrPending, Action: "link", State: approval.StatePending}))
	fmt.Println(LinkRefusal(nil, approval.ErrNotFound))
	// Output:
	// This request is still waiting for the approvers: there is no access to link to yet.
	// There is no request with that ID.
}

func ExampleListing_pages() {
	waiting := func(n int) []*approval.Request {
		var out []*approval.Request
		for i := range n {
			r := sampleRequest()
			r.ID = fmt.Sprintf("AAAAAAAAA%c", 'A'+i)
			out = append(out, r)
		}
		return out
	}
	fmt.Println(Listing(approval.Listing{ToDecide: waiting(2), Waiting: 5, Page: 1, PageSize: 2}))
	fmt.Println(Listing(approval.Listing{Mine: waiting(1), ToDecide: waiting(1), Waiting: 5, Page: 3, PageSize: 2}))
	fmt.Println(Listing(approval.Listing{Mine: waiting(1), Waiting: 5, Page: 4, PageSize: 2}))
	fmt.Println(Listing(approval.Listing{ToDecide: waiting(2), Waiting: 2, Page: 1, PageSize: 2}))
	fmt.Println(Listing(approval.Listing{Mine: waiting(1), Page: 2, PageSize: 2}))
	fmt.Println(Listing(approval.Listing{Page: 1, PageSize: 2}))
	// Output:
	// *Waiting for approval*
	// • AAAAAAAAAA `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// • AAAAAAAAAB `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// Page 1 of 3 (5 requests wait in all). Next: `/share-bucket list 2`.
	// *Waiting for approval*
	// • AAAAAAAAAA `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// Page 3 of 3 (5 requests wait in all).
	// There is no page 4: 5 requests wait for a decision, on pages 1 to 3.
	// *Waiting for approval*
	// • AAAAAAAAAA `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// • AAAAAAAAAB `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// There is no page 2.
	// You have no pending requests or active grants.
}

// TestListingFitsSlack: a full page with the user's own requests stays
// under the 4,000 characters Slack asks text to keep to, and even built
// of the longest keys full of characters that escaping lengthens, under
// the 40,000 at which Slack cuts text.
func TestListingFitsSlack(t *testing.T) {
	many := func(n int, r *approval.Request) []*approval.Request {
		var out []*approval.Request
		for range n {
			out = append(out, r)
		}
		return out
	}
	typical := sampleRequest()
	typical.Prefix = "projects/2026/quarterly-numbers/"
	grant := typical.Clone()
	grant.State, grant.EndsAt = approval.StateApproved, t0.Add(time.Hour)
	mine := append(many(5, typical), many(3, grant)...)
	l := approval.Listing{Mine: mine, ToDecide: many(ListPageSize, typical), Waiting: 100, Page: 1, PageSize: ListPageSize}
	if n := utf8.RuneCountInString(Listing(l)); n > 4000 {
		t.Errorf("a full page with 8 requests and grants of one's own is %d characters; want at most 4,000", n)
	}

	worst := sampleRequest()
	worst.Kind, worst.Bucket, worst.Key, worst.Prefix = approval.KindPut, strings.Repeat("b", 63), strings.Repeat("&", approval.MaxKeyLen), ""
	l = approval.Listing{Mine: many(50, worst), ToDecide: many(ListPageSize, worst), Waiting: 100, Page: 1, PageSize: ListPageSize}
	if n := utf8.RuneCountInString(Listing(l)); n > 40000 {
		t.Errorf("the worst page is %d characters; Slack cuts text at 40,000", n)
	}
}

// TestDeliveryError: Slack's answers that no retry changes make a
// permanent DeliveryError; rate limits, Slack's own errors and the
// network a temporary one.
func TestDeliveryError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("DM UREQ: chat.postMessage: %w", err) }
	tests := []struct {
		err       error
		code      string
		temporary bool
	}{
		{wrap(slack.SlackErrorResponse{Err: "invalid_blocks"}), "invalid_blocks", false},
		{wrap(slack.SlackErrorResponse{Err: "msg_too_long"}), "msg_too_long", false},
		{wrap(slack.SlackErrorResponse{Err: "user_disabled"}), "user_disabled", false},
		{wrap(slack.SlackErrorResponse{Err: "cannot_dm_bot"}), "cannot_dm_bot", false},
		{wrap(slack.SlackErrorResponse{Err: "channel_not_found"}), "channel_not_found", false},
		{wrap(slack.SlackErrorResponse{Err: "is_archived"}), "is_archived", false},
		{wrap(slack.SlackErrorResponse{Err: "internal_error"}), "internal_error", true},
		{wrap(slack.SlackErrorResponse{Err: "invalid_auth"}), "invalid_auth", true},
		{wrap(fmt.Errorf("still rate limited after 5 retries: %w", &slack.RateLimitedError{RetryAfter: time.Second})), "ratelimited", true},
		{wrap(slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}), "http_503", true},
		{wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), "unreachable", true},
		{wrap(context.DeadlineExceeded), "timeout", true},
	}
	for _, tt := range tests {
		err := deliveryError(tt.err)
		de, ok := errors.AsType[*approval.DeliveryError](err)
		if !ok || de.Code != tt.code || de.Temporary != tt.temporary || de.Reason == "" || !errors.Is(err, tt.err) {
			t.Errorf("deliveryError(%v) = %#v; want code %s, temporary %t, a reason, wrapping the error", tt.err, err, tt.code, tt.temporary)
		}
	}
	if deliveryError(nil) != nil {
		t.Errorf("deliveryError(nil) is not nil")
	}
}

// TestLinkMessagesFitSlack measures every message that carries a link,
// built of the longest parts (a 63-character bucket, a 256-character
// folder or a 1,024-byte key, a 4,000-character link): no text object
// over 3,000 characters, no text over 4,000, the link only in rich text,
// whole.
func TestLinkMessagesFitSlack(t *testing.T) {
	signin := "https://signin.aws.amazon.com/federation?Action=login&SigninToken=" + strings.Repeat("T", 4000-67)
	presigned := "https://" + strings.Repeat("b", 63) + ".s3.amazonaws.com/" + strings.Repeat("k", 1024) + "?X-Amz-Signature=" + strings.Repeat("S", 1000)
	folder := sampleRequest()
	folder.Kind, folder.Bucket, folder.Prefix = approval.KindFolder, strings.Repeat("b", 63), strings.Repeat("p/", approval.MaxPrefixLen/2)
	folder.Reason = strings.Repeat("é", approval.MaxReasonLen)
	object := func(k approval.Kind) *approval.Request {
		r := folder.Clone()
		r.Kind, r.Prefix, r.Key, r.Access = k, "", strings.Repeat("k", approval.MaxKeyLen), k.Access()
		return r
	}
	for _, r := range []*approval.Request{folder, object(approval.KindGet), object(approval.KindPut)} {
		url := signin
		if r.Object() {
			url = presigned
		}
		r.State, r.DecidedBy, r.DecidedAt, r.EndsAt = approval.StateApproved, "U0123456789ABCDEF", t0, t0.Add(2*time.Hour)
		link := approval.Link{URL: url, SessionEnds: t0.Add(time.Hour)}
		grantText, grantBlocks := GrantMessage(r, &link, nil, time.Hour)
		freshText, freshBlocks := FreshLinkMessage(r, link)
		r.Undelivered = "msg_blocks_too_long: Slack refused the message as too long (gave up after 10 attempts)"
		approvalText, approvalBlocks := ApprovalMessage(r, 3)
		for name, m := range map[string]struct {
			text   string
			blocks []slack.Block
			link   bool
		}{
			"grant DM": {grantText, grantBlocks, true}, "fresh link": {freshText, freshBlocks, true},
			"approval message, link undelivered": {approvalText, approvalBlocks, false},
		} {
			checkMessage(t, m.text, m.blocks)
			longest, inRichText := 0, false
			for _, b := range m.blocks {
				raw, _ := json.Marshal(b)
				if rt, ok := b.(*slack.RichTextBlock); ok {
					inRichText = inRichText || strings.Contains(richText(rt), url)
					continue
				}
				if strings.Contains(string(raw), url[:80]) {
					t.Errorf("%s %s: the link is outside rich text", r.Kind, name)
				}
				if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
					longest = max(longest, utf8.RuneCountInString(s.Text.Text))
				}
			}
			if strings.Contains(m.text, url[:80]) || inRichText != m.link {
				t.Errorf("%s %s: link in notification text or missing from rich text", r.Kind, name)
			}
			t.Logf("%s %s: text %d characters, %d blocks, longest section %d characters", r.Kind, name, utf8.RuneCountInString(m.text), len(m.blocks), longest)
		}
	}
}
