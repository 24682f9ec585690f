package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Slack's documented limits. The fake enforces these and no others, so that
// a test failing here fails in Slack too and a test passing here is not
// stricter than Slack. Places where Slack documents no limit are noted.
const (
	// maxMessageText is where chat.postMessage, chat.postEphemeral,
	// response URLs and slash command replies truncate text, still posting
	// the message and warning "message_truncated"
	// (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
	// Slack recommends 4,000 but does not enforce it there.
	maxMessageText = 40000
	// maxUpdateText is chat.update's limit: "msg_too_long: Message text is
	// too long. The text field cannot exceed 4,000 characters."
	// (docs.slack.dev/reference/methods/chat.update).
	maxUpdateText    = 4000
	maxMessageBlocks = 50  // "up to 50 blocks in each message"
	maxViewBlocks    = 100 // "and 100 blocks in modals or Home tabs"
	// maxTextObject bounds every text object (plain_text or mrkdwn):
	// "The minimum length is 1 and maximum length is 3000 characters"
	// (docs.slack.dev/reference/block-kit/composition-objects/text-object).
	// Section text and context elements are text objects.
	maxTextObject  = 3000
	maxSectionText = maxTextObject
	maxFields      = 10   // section fields: "Maximum number of items is 10"
	maxFieldText   = 2000 // "Maximum length for the text in each item is 2000"
	maxHeaderText  = 150
	maxContextElem = 10 // context elements: "Maximum number of items is 10"
	maxActions     = 25
	maxButtonText  = 75
	maxButtonValue = 2000
	maxURL         = 3000 // button url
	maxID          = 255  // action_id, block_id
	// maxMarkdown is the markdown block's budget: "The cumulative limit for
	// all markdown blocks in a single payload is 12,000 characters"
	// (docs.slack.dev/reference/block-kit/blocks/markdown-block). Over it
	// Slack answers msg_blocks_too_long ("Blocks submitted with this
	// message are too long", chat.postMessage's error table; observed for
	// markdown blocks in slackapi/bolt-js#2509).
	maxMarkdown = 12000
)

// Slack documents no length limit for a rich_text block's link element
// (url and text, docs.slack.dev/reference/block-kit/block-elements/
// link-element) nor for a rich_text block as a whole, so none is enforced.
// msg_blocks_too_long also exists for blocks in general, but its limit is
// undocumented (it varies with content, slackapi/bolt-js#2509), so only the
// markdown budget above raises it.

// checkMessage validates a message's blocks and attachments as
// chat.postMessage does; text is truncated by the caller (truncateText),
// or limited by chat.update. It returns "" or an error code and a detail
// in Slack's style.
func checkMessage(text string, blocks, attachments json.RawMessage) (code, detail string) {
	if present(blocks) {
		if detail := checkBlocks(blocks, maxMessageBlocks); detail != "" {
			return "invalid_blocks", detail
		}
		if n := markdownChars(decodeBlocks(blocks)); n > maxMarkdown {
			return "msg_blocks_too_long", fmt.Sprintf("markdown blocks hold %d characters; the limit is %d", n, maxMarkdown)
		}
	}
	if text == "" && !present(blocks) && !present(attachments) {
		return "no_text", "text, blocks or attachments is required"
	}
	return "", ""
}

// truncateText cuts text to maxMessageText characters, as Slack does when
// posting, and reports whether it did.
func truncateText(text string) (string, bool) {
	if utf8.RuneCountInString(text) <= maxMessageText {
		return text, false
	}
	return string([]rune(text)[:maxMessageText]), true
}

// truncationWarning is what Slack adds to an answer when it truncated text.
var truncationWarning = reply{
	"messages": []string{"[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters."},
	"warnings": []string{"message_truncated"},
}

// markdownChars returns the characters in all markdown blocks.
func markdownChars(blocks []map[string]any) int {
	n := 0
	for _, b := range blocks {
		if b["type"] == "markdown" {
			n += utf8.RuneCountInString(str(b["text"]))
		}
	}
	return n
}

// present reports whether a raw JSON field holds something other than
// nothing, null or an empty array.
func present(raw json.RawMessage) bool {
	t := string(bytes.TrimSpace(raw))
	return t != "" && t != "null" && t != "[]"
}

// checkBlocks validates a blocks array and returns "" or what is wrong.
func checkBlocks(raw json.RawMessage, maxBlocks int) string {
	var blocks []any
	if err := decodeJSON(raw, &blocks); err != nil {
		return "blocks must be a JSON array: " + err.Error()
	}
	if len(blocks) > maxBlocks {
		return fmt.Sprintf("no more than %d items allowed [json-pointer:/blocks]", maxBlocks)
	}
	seen := map[string]bool{}
	for i, b := range blocks {
		blk, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("expected an object [json-pointer:/blocks/%d]", i)
		}
		if d := checkBlock(fmt.Sprintf("/blocks/%d", i), blk, seen); d != "" {
			return d
		}
	}
	return ""
}

func checkBlock(ptr string, blk map[string]any, seen map[string]bool) string {
	typ := str(blk["type"])
	if typ == "" {
		return "missing required field: type [json-pointer:" + ptr + "]"
	}
	if id, ok := blk["block_id"].(string); ok {
		if d := checkLen(ptr+"/block_id", id, 1, maxID); d != "" {
			return d
		}
		if seen[id] {
			return "duplicate block_id [json-pointer:" + ptr + "/block_id]"
		}
		seen[id] = true
	}
	switch typ {
	case "section":
		text, hasText := blk["text"]
		fields, _ := blk["fields"].([]any)
		if !hasText && len(fields) == 0 {
			return "must provide either text or fields [json-pointer:" + ptr + "]"
		}
		if hasText {
			if d := checkLen(ptr+"/text/text", textOf(text), 1, maxSectionText); d != "" {
				return d
			}
		}
		if len(fields) > maxFields {
			return fmt.Sprintf("no more than %d items allowed [json-pointer:%s/fields]", maxFields, ptr)
		}
		for i, f := range fields {
			if d := checkLen(fmt.Sprintf("%s/fields/%d/text", ptr, i), textOf(f), 1, maxFieldText); d != "" {
				return d
			}
		}
		if acc, ok := blk["accessory"].(map[string]any); ok {
			return checkElement(ptr+"/accessory", acc)
		}
	case "header":
		return checkLen(ptr+"/text/text", textOf(blk["text"]), 1, maxHeaderText)
	case "context":
		elems, _ := blk["elements"].([]any)
		if len(elems) == 0 || len(elems) > maxContextElem {
			return fmt.Sprintf("must have 1 to %d elements [json-pointer:%s/elements]", maxContextElem, ptr)
		}
		for i, e := range elems {
			el, _ := e.(map[string]any)
			if typ := str(el["type"]); typ == "mrkdwn" || typ == "plain_text" {
				if d := checkLen(fmt.Sprintf("%s/elements/%d/text", ptr, i), str(el["text"]), 1, maxTextObject); d != "" {
					return d
				}
			}
		}
	case "markdown":
		if str(blk["text"]) == "" {
			return "missing required field: text [json-pointer:" + ptr + "]"
		}
	case "actions":
		elems, _ := blk["elements"].([]any)
		if len(elems) == 0 || len(elems) > maxActions {
			return fmt.Sprintf("must have 1 to %d elements [json-pointer:%s/elements]", maxActions, ptr)
		}
		for i, e := range elems {
			el, _ := e.(map[string]any)
			if d := checkElement(fmt.Sprintf("%s/elements/%d", ptr, i), el); d != "" {
				return d
			}
		}
	case "input":
		el, ok := blk["element"].(map[string]any)
		if !ok {
			return "missing required field: element [json-pointer:" + ptr + "]"
		}
		return checkElement(ptr+"/element", el)
	}
	return ""
}

func checkElement(ptr string, el map[string]any) string {
	if el == nil || str(el["type"]) == "" {
		return "missing required field: type [json-pointer:" + ptr + "]"
	}
	if id, ok := el["action_id"].(string); ok {
		if d := checkLen(ptr+"/action_id", id, 1, maxID); d != "" {
			return d
		}
	}
	if el["type"] == "button" {
		if d := checkLen(ptr+"/text/text", textOf(el["text"]), 1, maxButtonText); d != "" {
			return d
		}
		if d := checkLen(ptr+"/value", str(el["value"]), 0, maxButtonValue); d != "" {
			return d
		}
		if d := checkLen(ptr+"/url", str(el["url"]), 0, maxURL); d != "" {
			return d
		}
	}
	return ""
}

func checkLen(ptr, s string, minLen, maxLen int) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n < minLen:
		return fmt.Sprintf("must be more than %d characters [json-pointer:%s]", minLen-1, ptr)
	case n > maxLen:
		return fmt.Sprintf("must be less than %d characters [json-pointer:%s]", maxLen+1, ptr)
	}
	return ""
}

// decodeBlocks decodes a blocks array, skipping anything malformed.
func decodeBlocks(raw json.RawMessage) []map[string]any {
	var blocks []any
	if decodeJSON(raw, &blocks) != nil {
		return nil
	}
	var out []map[string]any
	for _, b := range blocks {
		if m, ok := b.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// blockText writes the text of one block, a line per piece.
func blockText(b *strings.Builder, blk map[string]any) {
	line := func(s string) {
		if s != "" {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	switch blk["type"] {
	case "header", "section":
		line(textOf(blk["text"]))
		fields, _ := blk["fields"].([]any)
		for _, f := range fields {
			line(textOf(f))
		}
	case "context":
		elems, _ := blk["elements"].([]any)
		for _, e := range elems {
			if el, ok := e.(map[string]any); ok && (el["type"] == "mrkdwn" || el["type"] == "plain_text") {
				line(str(el["text"]))
			}
		}
	case "markdown":
		line(str(blk["text"]))
	case "rich_text":
		var rb strings.Builder
		richText(&rb, blk["elements"])
		line(rb.String())
	}
}

// richText writes the text of rich_text elements.
func richText(b *strings.Builder, v any) {
	elems, _ := v.([]any)
	for _, e := range elems {
		el, ok := e.(map[string]any)
		if !ok {
			continue
		}
		switch el["type"] {
		case "text":
			b.WriteString(str(el["text"]))
		case "link":
			if t := str(el["text"]); t != "" {
				b.WriteString(t)
			} else {
				b.WriteString(str(el["url"]))
			}
		case "user":
			b.WriteString("<@" + str(el["user_id"]) + ">")
		case "channel":
			b.WriteString("<#" + str(el["channel_id"]) + ">")
		case "emoji":
			b.WriteString(":" + str(el["name"]) + ":")
		default:
			richText(b, el["elements"])
		}
	}
}

// textOf returns the text of a text object, or s itself for a string.
func textOf(v any) string {
	switch t := v.(type) {
	case map[string]any:
		return str(t["text"])
	case string:
		return t
	}
	return ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// decodeJSON decodes keeping numbers as json.Number, so re-encoding is exact.
func decodeJSON(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

// compact returns raw without insignificant space, or nil if it holds
// nothing.
func compact(raw json.RawMessage) json.RawMessage {
	if !present(raw) {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
