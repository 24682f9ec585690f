package slackapp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// richText renders a rich text block the way a reader sees it: a link as
// <URL|text>, preformatted text between ```.
func richText(b *slack.RichTextBlock) string {
	var out strings.Builder
	for _, e := range b.Elements {
		var elems []slack.RichTextSectionElement
		pre := false
		switch e := e.(type) {
		case *slack.RichTextSection:
			elems = e.Elements
		case *slack.RichTextPreformatted:
			elems, pre = e.Elements, true
		}
		if pre {
			out.WriteString("```")
		}
		for _, el := range elems {
			switch el := el.(type) {
			case *slack.RichTextSectionTextElement:
				out.WriteString(el.Text)
			case *slack.RichTextSectionLinkElement:
				fmt.Fprintf(&out, "<%s|%s>", el.URL, el.Text)
			}
		}
		if pre {
			out.WriteString("```")
		}
	}
	return out.String()
}

func sampleObject(kind approval.Kind) *approval.Request {
	r := sampleRequest()
	r.Scope = approval.Scope{Kind: kind, Bucket: "collab-bucket", Key: "myfolder/q3-report.pdf", Access: kind.Access()}
	if kind == approval.KindPut {
		r.Key = "myfolder/in/delivery.zip"
	}
	return r
}

func approvedObject(kind approval.Kind) *approval.Request {
	r := sampleObject(kind)
	r.State, r.DecidedBy, r.DecidedAt = approval.StateApproved, "UAPP1", t0.Add(time.Minute)
	r.EndsAt = t0.Add(2*time.Hour + time.Minute)
	return r
}

const (
	getURL = "https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/q3-report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SIG"
	putURL = "https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/in/delivery.zip?X-Amz-Expires=3600&X-Amz-Signature=SIG"
)

func ExampleApprovalMessage_get() {
	show(ApprovalMessage(sampleObject(approval.KindGet), 1))
	// Output:
	// text: Access request K7QX2M4RTA from <@UREQ> for collab-bucket/myfolder/q3-report.pdf
	// *<@UREQ> asks for a link to download one file, `collab-bucket/myfolder/q3-report.pdf`, for 2h*
	// *Requester* <@UREQ>
	// *File* `collab-bucket/myfolder/q3-report.pdf`
	// *Access* download one file
	// *Duration* 2h
	// *Reason*, as the requester wrote it:
	// numbers for <!channel> & the auditors (plain text)
	// (Request K7QX2M4RTA · asked <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>)
	// :hourglass_flowing_sand: Waiting for approval. Expires if undecided <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>.
	// [Approve approve=K7QX2M4RTA] [Deny deny=K7QX2M4RTA]
}

func ExampleApprovalMessage_putApproved() {
	show(ApprovalMessage(approvedObject(approval.KindPut), 1))
	// Output:
	// text: Access request K7QX2M4RTA from <@UREQ> for collab-bucket/myfolder/in/delivery.zip
	// *<@UREQ> asks for a link to upload one file to `collab-bucket/myfolder/in/delivery.zip` for 2h*
	// *Requester* <@UREQ>
	// *File* `collab-bucket/myfolder/in/delivery.zip`
	// *Access* upload one file
	// *Duration* 2h
	// *Reason*, as the requester wrote it:
	// numbers for <!channel> & the auditors (plain text)
	// (Request K7QX2M4RTA · asked <!date^1795780800^{date_short_pretty} at {time}|2026-11-27 12:00 UTC>)
	// :white_check_mark: Approved by <@UAPP1> <!date^1795780860^{date_short_pretty} at {time}|2026-11-27 12:01 UTC>. Access until <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// [End access end_access=K7QX2M4RTA]
}

func ExampleGrantMessage_get() {
	r := approvedObject(approval.KindGet)
	show(GrantMessage(r, &approval.Link{URL: getURL, SessionEnds: t0.Add(time.Hour + time.Minute)}, nil, time.Hour))
	// Output:
	// text: Your request to download one file (collab-bucket/myfolder/q3-report.pdf) was approved
	// :white_check_mark: Your request to download one file (`collab-bucket/myfolder/q3-report.pdf`) was approved by <@UAPP1>. It ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// Your download link for `collab-bucket/myfolder/q3-report.pdf` works until <!date^1795784460^{date_short_pretty} at {time}|2026-11-27 13:01 UTC>:
	// <https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/q3-report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SIG|Download myfolder/q3-report.pdf>
	// (Request K7QX2M4RTA. Need the link again later? Use *New link* for a fresh one; each works for up to 1h, and none after your access ends.)
	// [New link new_link=K7QX2M4RTA] [End access end_access=K7QX2M4RTA]
}

func ExampleGrantMessage_put() {
	r := approvedObject(approval.KindPut)
	show(GrantMessage(r, &approval.Link{URL: putURL, SessionEnds: t0.Add(time.Hour + time.Minute)}, nil, time.Hour))
	// Output:
	// text: Your request to upload one file (collab-bucket/myfolder/in/delivery.zip) was approved
	// :white_check_mark: Your request to upload one file (`collab-bucket/myfolder/in/delivery.zip`) was approved by <@UAPP1>. It ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// Upload your file with the command below: replace FILE with its path. It lands at `collab-bucket/myfolder/in/delivery.zip`, replacing anything there. The link works until <!date^1795784460^{date_short_pretty} at {time}|2026-11-27 13:01 UTC>.
	// ```curl -T FILE 'https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/in/delivery.zip?X-Amz-Expires=3600&X-Amz-Signature=SIG'```
	// (Request K7QX2M4RTA. Need the link again later? Use *New link* for a fresh one; each works for up to 1h, and none after your access ends.)
	// [New link new_link=K7QX2M4RTA] [End access end_access=K7QX2M4RTA]
}

func ExampleGrantMessage_objectEnded() {
	r := approvedObject(approval.KindPut)
	r.State, r.EndedBy, r.EndedAt = approval.StateRevoked, "UREQ", t0.Add(time.Hour)
	show(GrantMessage(r, nil, nil, time.Hour))
	r = approvedObject(approval.KindGet)
	show(GrantMessage(r, nil, fmt.Errorf("mint: %w", approval.ErrTooLate), time.Hour))
	// Output:
	// text: Your request to upload one file (collab-bucket/myfolder/in/delivery.zip) was approved
	// Your request to upload one file (`collab-bucket/myfolder/in/delivery.zip`) was approved by <@UAPP1>. It ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// :octagonal_sign: Ended early by <@UREQ> <!date^1795784400^{date_short_pretty} at {time}|2026-11-27 13:00 UTC>.
	// (Request K7QX2M4RTA)
	// text: Your request to download one file (collab-bucket/myfolder/q3-report.pdf) was approved
	// :white_check_mark: Your request to download one file (`collab-bucket/myfolder/q3-report.pdf`) was approved by <@UAPP1>. It ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>.
	// Less than 15 minutes of this access are left, and AWS cannot issue a shorter session, so no new link can be made. A link you already have works until its session ends.
	// (Request K7QX2M4RTA. Need the link again later? Use *New link* for a fresh one; each works for up to 1h, and none after your access ends.)
	// [New link new_link=K7QX2M4RTA] [End access end_access=K7QX2M4RTA]
}

func ExampleFreshObjectLink() {
	show(FreshObjectLink(approvedObject(approval.KindGet), approval.Link{URL: getURL, SessionEnds: t0.Add(2 * time.Hour)}))
	show(FreshObjectLink(approvedObject(approval.KindPut), approval.Link{URL: putURL + "&odd='quote'", SessionEnds: t0.Add(2 * time.Hour)}))
	// Output:
	// text: A new link to download collab-bucket/myfolder/q3-report.pdf
	// Here is a new link to download `collab-bucket/myfolder/q3-report.pdf` (request K7QX2M4RTA). It works until <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC> (your access ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>).
	// <https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/q3-report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SIG|Download myfolder/q3-report.pdf>
	// text: A new link to upload collab-bucket/myfolder/in/delivery.zip
	// Here is a new link to upload `collab-bucket/myfolder/in/delivery.zip` (request K7QX2M4RTA). It works until <!date^1795788000^{date_short_pretty} at {time}|2026-11-27 14:00 UTC> (your access ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>). Replace FILE with the path of your file:
	// ```curl -T FILE 'https://collab-bucket.s3.us-east-1.amazonaws.com/myfolder/in/delivery.zip?X-Amz-Expires=3600&X-Amz-Signature=SIG&odd='\''quote'\'''```
}

func ExampleNotice_objects() {
	get, put := approvedObject(approval.KindGet), approvedObject(approval.KindPut)
	ev := func(kind approval.EventKind, actor string, detail map[string]string) approval.Event {
		return approval.Event{Kind: kind, Actor: actor, Detail: detail}
	}
	fmt.Println(Notice(ev(approval.EventDenied, "UAPP1", nil), get, time.Hour, false))
	fmt.Println(Notice(ev(approval.EventTimedOut, "", nil), put, time.Hour, false))
	fmt.Println(Notice(ev(approval.EventWarned, "", nil), get, time.Hour, false))
	fmt.Println(Notice(ev(approval.EventExpired, "", nil), put, time.Hour, false))
	fmt.Println(Notice(ev(approval.EventRevoked, "UREQ", map[string]string{"was": "pending"}), put, time.Hour, false))
	fmt.Println(Notice(ev(approval.EventRevoked, "UAPP2", map[string]string{"was": "approved"}), get, time.Hour, false))
	put.Failure = "AccessDenied: no"
	fmt.Println(Notice(ev(approval.EventFailed, "", nil), put, time.Hour, false))
	// Output:
	// :no_entry: Your request K7QX2M4RTA to download one file (`collab-bucket/myfolder/q3-report.pdf`) was denied by <@UAPP1>.
	// :hourglass: Your request K7QX2M4RTA to upload one file (`collab-bucket/myfolder/in/delivery.zip`) expired: nobody decided in time. Ask again if you still need it.
	// :warning: Your access to download `collab-bucket/myfolder/q3-report.pdf` ends <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>; no new links can be made after that (request K7QX2M4RTA).
	// :lock: Your access to upload `collab-bucket/myfolder/in/delivery.zip` has ended (request K7QX2M4RTA). No new links can be made for it.
	// :octagonal_sign: Your request K7QX2M4RTA to upload one file (`collab-bucket/myfolder/in/delivery.zip`) was withdrawn by <@UREQ>.
	// :octagonal_sign: Your access to download `collab-bucket/myfolder/q3-report.pdf` was ended by <@UAPP2> (request K7QX2M4RTA). No new links can be made; a link already made keeps working until its session ends, at most 1h.
	// :x: Your request K7QX2M4RTA to upload one file (`collab-bucket/myfolder/in/delivery.zip`) was approved, but AWS refused to issue access: AccessDenied: no. The approvers have been told.
}

func ExampleSubmitted_objects() {
	fmt.Println(Submitted("K7QX2M4RTA", sampleObject(approval.KindGet).Scope, 2*time.Hour))
	fmt.Println(Submitted("K7QX2M4RTA", sampleObject(approval.KindPut).Scope, 30*time.Minute))
	// Output:
	// :inbox_tray: Request K7QX2M4RTA to download one file (`collab-bucket/myfolder/q3-report.pdf`) for 2h sent to the approvers. You will get a DM when they decide.
	// :inbox_tray: Request K7QX2M4RTA to upload one file (`collab-bucket/myfolder/in/delivery.zip`) for 30m sent to the approvers. You will get a DM when they decide.
}

func ExampleListing_objects() {
	folder := sampleRequest()
	folder.ID = "AAAAAAAAAA"
	fmt.Println(Listing(approval.Listing{Mine: []*approval.Request{approvedObject(approval.KindGet), folder}, ToDecide: []*approval.Request{sampleObject(approval.KindPut)}}))
	// Output:
	// *Your requests and grants*
	// • K7QX2M4RTA `collab-bucket/myfolder/q3-report.pdf` download one file, active until <!date^1795788060^{date_short_pretty} at {time}|2026-11-27 14:01 UTC>
	// • AAAAAAAAAA `collab-bucket/myfolder/` write for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
	// Lost your link? `/share-bucket link ID` sends a fresh one that only you see.
	// *Waiting for approval*
	// • K7QX2M4RTA `collab-bucket/myfolder/in/delivery.zip` upload one file for 2h, from <@UREQ>, pending until <!date^1795809600^{date_short_pretty} at {time}|2026-11-27 20:00 UTC>
}

func ExampleObjectExample() {
	fmt.Println(ObjectExample("/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors", approval.KindGet))
	fmt.Println(ObjectExample("/share-bucket whole-bucket/myfolder/ 2h write quarterly numbers for the auditors", approval.KindPut))
	fmt.Println(ObjectExample("nonsense", approval.KindGet))
	// Output:
	// /share-bucket get collab-bucket/myfolder/report.pdf 2h for the auditors
	// /share-bucket put whole-bucket/myfolder/delivery.zip 2h the vendor's delivery
	// /share-bucket get collab-bucket/myfolder/report.pdf 2h for the auditors
}

// TestObjectMessagesFitSlack: the longest key, the longest reason and a
// presigned URL far longer than a section may hold still make messages
// within Slack's limits; the link is in rich text, never in a section.
func TestObjectMessagesFitSlack(t *testing.T) {
	longURL := "https://" + strings.Repeat("b", 63) + ".s3.us-gov-west-1.amazonaws.com/" + strings.Repeat("%21", approval.MaxKeyLen) + "?X-Amz-Security-Token=" + strings.Repeat("T", 3000)
	for _, kind := range []approval.Kind{approval.KindGet, approval.KindPut} {
		r := approvedObject(kind)
		r.Bucket, r.Key = strings.Repeat("b", 63), strings.Repeat("!", approval.MaxKeyLen)
		r.Reason = strings.Repeat("é", approval.MaxReasonLen)
		link := &approval.Link{URL: longURL, SessionEnds: t0.Add(time.Hour)}
		for _, s := range []approval.State{approval.StatePending, approval.StateApproved, approval.StateDenied, approval.StateExpired} {
			r.State = s
			text, blocks := ApprovalMessage(r, 3)
			checkMessage(t, text, blocks)
			text, blocks = GrantMessage(r, link, nil, time.Hour)
			checkMessage(t, text, blocks)
			checkNoLinkOutsideRichText(t, text, blocks)
		}
		r.State = approval.StateApproved
		text, blocks := FreshObjectLink(r, *link)
		checkMessage(t, text, blocks)
		checkNoLinkOutsideRichText(t, text, blocks)
		text, blocks = GrantMessage(r, link, nil, time.Hour)
		found := false
		for _, b := range blocks {
			if rt, ok := b.(*slack.RichTextBlock); ok && strings.Contains(richText(rt), longURL) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s grant DM does not carry the link", kind)
		}
	}
}

// checkNoLinkOutsideRichText fails t if a presigned link (its X-Amz-
// parameters) is anywhere but in a rich text block: not in the fallback
// text, which notifications show, nor in a section, which Slack cuts at
// 3,000 characters.
func checkNoLinkOutsideRichText(t *testing.T, text string, blocks []slack.Block) {
	t.Helper()
	if strings.Contains(text, "X-Amz") {
		t.Errorf("fallback text %q carries the link", text)
	}
	for _, b := range blocks {
		if _, ok := b.(*slack.RichTextBlock); ok {
			continue
		}
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "X-Amz") {
			t.Errorf("block %s carries the link outside rich text", b.BlockType())
		}
	}
}
