package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Slack's documented limits, enforced where it is cheap.
const (
	maxTextLen       = 4000 // message text
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	maxSectionText   = 3000
	maxFields        = 10
	maxFieldText     = 2000
	maxHeaderText    = 150
	maxActions       = 25
	maxButtonText    = 75
	maxButtonValue   = 2000
	maxURL           = 3000
	maxID            = 255 // action_id, block_id
)

// checkMessage validates a message's text, blocks and attachments as
// chat.postMessage does. It returns "" or an error code and a detail in
// Slack's style.
func checkMessage(text string, blocks, attachments json.RawMessage) (code, detail string) {
	if n := utf8.RuneCountInString(text); n > maxTextLen {
		return "msg_too_long", fmt.Sprintf("text is %d characters; the limit is %d", n, maxTextLen)
	}
	if present(blocks) {
		if detail := checkBlocks(blocks, maxMessageBlocks); detail != "" {
			return "invalid_blocks", detail
		}
	}
	if text == "" && !present(blocks) && !present(attachments) {
		return "no_text", "text, blocks or attachments is required"
	}
	return "", ""
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
