package fakeslack_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// signInURL is a 4,000-character URL, the length of an AWS console sign-in
// link, which the limits below must let through where Slack does.
var signInURL = "https://signin.example.com/federation?Action=login&SigninToken=" + strings.Repeat("x", 4000-63)

func TestSignInURLLength(t *testing.T) {
	if got := utf8.RuneCountInString(signInURL); got != 4000 {
		t.Fatalf("signInURL is %d characters; want 4000", got)
	}
}

func TestTextLimits(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)

	// chat.postMessage takes 40,000 characters and truncates beyond, with
	// a warning.
	long := strings.Repeat("é", 40001)
	body := callRaw(t, srv, "chat.postMessage", url.Values{"channel": {"C_GENERAL"}, "text": {long}})
	if body["ok"] != true || body["warning"] != "message_truncated" {
		t.Errorf("40,001 characters: answer ok=%v warning=%v; want ok with message_truncated", body["ok"], body["warning"])
	}
	m, _ := srv.MessageAt("C_GENERAL", body["ts"].(string))
	if got := utf8.RuneCountInString(m.Text); got != 40000 {
		t.Errorf("stored text is %d characters; want 40000", got)
	}
	link := "<" + signInURL + "|Open the AWS console>"
	ch, ts, err := api.PostMessage("C_GENERAL", slack.MsgOptionText(link, false))
	if err != nil {
		t.Fatalf("post a 4,000-character link in text: %v", err)
	}
	if m, _ := srv.MessageAt(ch, ts); m.Text != link {
		t.Errorf("posted text was changed")
	}
	if _, err := api.PostEphemeral("C_GENERAL", "U_REQ", slack.MsgOptionText(link, false)); err != nil {
		t.Errorf("ephemeral with a 4,000-character link: %v", err)
	}

	// chat.update allows 4,000 characters, so the same link in text fails.
	if _, _, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionText(link, false)); slackErr(err) != "msg_too_long" {
		t.Errorf("update with %d characters: err = %v; want msg_too_long", utf8.RuneCountInString(link), err)
	}
	if _, _, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionText(strings.Repeat("a", 4000), false)); err != nil {
		t.Errorf("update with 4,000 characters: %v", err)
	}
}

// TestLinkBlocks checks where a 4,000-character link fits: rich_text links
// and markdown blocks take it, section text, context text and button URLs
// (3,000 each) do not.
func TestLinkBlocks(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	raw := func(blocks string) slack.MsgOption {
		var b slack.Blocks
		if err := json.Unmarshal([]byte(blocks), &b); err != nil {
			t.Fatal(err)
		}
		return slack.MsgOptionBlocks(b.BlockSet...)
	}
	q, _ := json.Marshal(signInURL)
	u := string(q)
	// md returns a JSON string of n characters: the link in markdown
	// ([Open](url) is 4,008 characters), then filler.
	md := func(n int) string {
		b, _ := json.Marshal("[Open](" + signInURL + ")" + strings.Repeat("a", n-4008))
		return string(b)
	}
	filler := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	tests := []struct {
		name   string
		blocks string
		want   string
	}{
		{"RichTextLink", `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"link","url":` + u + `,"text":"Open the AWS console"}]}]}]`, ""},
		{"RichTextLinkNoText", `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"link","url":` + u + `}]}]}]`, ""},
		{"Markdown", `[{"type":"markdown","text":` + md(4008) + `}]`, ""},
		{"MarkdownAtBudget", `[{"type":"markdown","text":` + md(8000) + `},{"type":"markdown","text":` + filler(4000) + `}]`, ""},
		{"MarkdownOverBudget", `[{"type":"markdown","text":` + md(8000) + `},{"type":"markdown","text":` + filler(4001) + `}]`, "msg_blocks_too_long"},
		{"SectionText", `[{"type":"section","text":{"type":"mrkdwn","text":` + u + `}}]`, "invalid_blocks"},
		{"ContextText", `[{"type":"context","elements":[{"type":"mrkdwn","text":` + u + `}]}]`, "invalid_blocks"},
		{"ButtonURL", `[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Open"},"url":` + u + `}]}]`, "invalid_blocks"},
		{"ContextElevenElements", `[{"type":"context","elements":[` + strings.Repeat(`{"type":"mrkdwn","text":"x"},`, 10) + `{"type":"mrkdwn","text":"x"}]}]`, "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts, err := api.PostMessage("C_GENERAL", slack.MsgOptionText("fallback", false), raw(tt.blocks))
			if got := slackErr(err); got != tt.want {
				t.Fatalf("err = %v; want %q", err, tt.want)
			}
			if tt.want == "" {
				m, _ := srv.MessageAt("C_GENERAL", ts)
				var blocks any
				if err := json.Unmarshal(m.Blocks, &blocks); err != nil || !holds(blocks, signInURL) {
					t.Errorf("stored blocks lack the link (%v)", err)
				}
			}
		})
	}
}

// holds reports whether a decoded JSON value has a string containing s.
func holds(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case []any:
		for _, e := range v {
			if holds(e, s) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if holds(e, s) {
				return true
			}
		}
	}
	return false
}
