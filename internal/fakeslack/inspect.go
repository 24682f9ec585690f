package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Message is one message as the fake holds it.
type Message struct {
	Channel string
	TS      string
	// ThreadTS is the ts of the thread's parent message if the message is a
	// reply in a thread, and "" for a top-level message (a parent included).
	ThreadTS string
	// Broadcast is set on a reply also shown in the channel
	// (chat.postMessage with reply_broadcast).
	Broadcast bool
	// ReplyCount and LatestReply describe the thread under a parent message.
	ReplyCount  int
	LatestReply string
	User        string // author; the bot user for messages the bot posted
	BotID       string // set on the bot's messages
	Text        string
	Blocks      json.RawMessage // compacted JSON array, nil if none
	Attachments json.RawMessage
	Ephemeral   bool
	ForUser     string // the only user who sees an ephemeral message
	Updated     int    // number of edits (chat.update, replace_original)
	Deleted     bool
	// Source is how the message was made: "chat.postMessage",
	// "chat.postEphemeral", "response_url", "ack" (a slash command ack
	// payload) or "seed" (PostAsUser).
	Source string
}

// Button is a button found in a message's blocks.
type Button struct {
	ActionID string
	BlockID  string
	Value    string
	Text     string
	URL      string
	Style    string
}

// BlockText returns all the text in the message's blocks, one piece per
// line: header and section text, section fields, context elements and rich
// text. It is meant for tests to search.
func (m Message) BlockText() string {
	var b strings.Builder
	for _, blk := range decodeBlocks(m.Blocks) {
		blockText(&b, blk)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// AllText returns Text followed by BlockText.
func (m Message) AllText() string {
	if bt := m.BlockText(); bt != "" {
		return m.Text + "\n" + bt
	}
	return m.Text
}

// Buttons returns the buttons in the message's actions blocks and section
// accessories, in order.
func (m Message) Buttons() []Button { return buttonsIn(decodeBlocks(m.Blocks)) }

// Links returns what a reader can copy from the message's rich text
// blocks, in order: the URL of each link element, and the text of each
// preformatted element.
func (m Message) Links() []string {
	var out []string
	for _, blk := range decodeBlocks(m.Blocks) {
		if blk["type"] != "rich_text" {
			continue
		}
		sections, _ := blk["elements"].([]any)
		for _, sec := range sections {
			sm, _ := sec.(map[string]any)
			elems, _ := sm["elements"].([]any)
			for _, e := range elems {
				el, _ := e.(map[string]any)
				switch {
				case el["type"] == "link":
					out = append(out, str(el["url"]))
				case sm["type"] == "rich_text_preformatted":
					out = append(out, str(el["text"]))
				}
			}
		}
	}
	return out
}

// buttonsIn returns the buttons in actions blocks and section accessories.
func buttonsIn(blocks []map[string]any) []Button {
	var out []Button
	for _, blk := range blocks {
		blockID, _ := blk["block_id"].(string)
		var elems []any
		switch blk["type"] {
		case "actions":
			elems, _ = blk["elements"].([]any)
		case "section":
			if acc, ok := blk["accessory"]; ok {
				elems = []any{acc}
			}
		}
		for _, e := range elems {
			el, ok := e.(map[string]any)
			if !ok || el["type"] != "button" {
				continue
			}
			out = append(out, Button{
				ActionID: str(el["action_id"]),
				BlockID:  blockID,
				Value:    str(el["value"]),
				Text:     textOf(el["text"]),
				URL:      str(el["url"]),
				Style:    str(el["style"]),
			})
		}
	}
	return out
}

// record is a message with its earlier versions.
type record struct {
	cur     Message
	history []Message // earlier versions, oldest first
}

// post stores a new channel message, or a reply if m.ThreadTS is set (to
// a parent found with threadParent). Messages without a User are the
// bot's. The caller holds s.mu.
func (s *Server) post(m Message) Message {
	if m.User == "" {
		m.User, m.BotID = s.cfg.botUserID, s.cfg.botID
	}
	m.TS = s.nextTS()
	if m.ThreadTS == "" {
		m.Broadcast = false
	} else if parent := s.find(m.Channel, m.ThreadTS); parent != nil {
		parent.cur.ReplyCount++
		parent.cur.LatestReply = m.TS
	}
	r := &record{cur: m}
	s.msgs[m.Channel] = append(s.msgs[m.Channel], r)
	s.order = append(s.order, r)
	s.logf("fakeslack: message %s/%s (%s, thread %q): %.120q", m.Channel, m.TS, m.Source, m.ThreadTS, m.Text)
	s.notify()
	return m
}

// threadParent returns the thread a reply with thread_ts ts in channel ch
// goes to. Slack rejects a malformed ts with invalid_thread_ts ("0 is not a
// valid thread_ts"), files a reply to a reply under the reply's parent, and
// posts a reply to a message that does not exist (or was deleted) as a
// top-level message, without an error: the answer then lacks
// message.thread_ts. The caller holds s.mu.
func (s *Server) threadParent(ch, ts string) (string, error) {
	if ts == "" {
		return "", nil
	}
	if !validTS(ts) {
		return "", &apiError{code: "invalid_thread_ts", detail: ts + " is not a valid thread_ts"}
	}
	r := s.find(ch, ts)
	switch {
	case r == nil || r.cur.Deleted:
		s.logf("fakeslack: thread_ts %s names no message in %s; posting at top level", ts, ch)
		return "", nil
	case r.cur.ThreadTS != "":
		return r.cur.ThreadTS, nil
	}
	return ts, nil
}

// validTS reports whether ts has the form of a message timestamp, digits, a
// dot and digits.
func validTS(ts string) bool {
	sec, frac, ok := strings.Cut(ts, ".")
	digits := func(s string) bool {
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
		}
		return s != ""
	}
	return ok && digits(sec) && digits(frac)
}

// postEphemeral stores an ephemeral message for user. The caller holds s.mu.
func (s *Server) postEphemeral(m Message, user string) Message {
	m.User, m.BotID = s.cfg.botUserID, s.cfg.botID
	m.TS = s.nextTS()
	m.Ephemeral, m.ForUser = true, user
	s.ephemerals[user] = append(s.ephemerals[user], m)
	s.logf("fakeslack: ephemeral for %s in %s (%s): %.120q", user, m.Channel, m.Source, m.Text)
	s.notify()
	return m
}

// edit replaces a message's content. The caller holds s.mu.
func (s *Server) edit(r *record, text string, blocks, attachments json.RawMessage) {
	r.history = append(r.history, r.cur)
	r.cur.Text, r.cur.Blocks, r.cur.Attachments = text, blocks, attachments
	r.cur.Updated++
	s.logf("fakeslack: update %s/%s: %.120q", r.cur.Channel, r.cur.TS, text)
	s.notify()
}

// remove marks a message deleted. The caller holds s.mu.
func (s *Server) remove(r *record) {
	r.history = append(r.history, r.cur)
	r.cur.Deleted = true
	s.notify()
}

// find returns the message at ts in channel, or in any channel if channel is
// empty. The caller holds s.mu.
func (s *Server) find(channel, ts string) *record {
	for _, r := range s.order {
		if r.cur.TS == ts && (channel == "" || r.cur.Channel == channel) {
			return r
		}
	}
	return nil
}

// PostAsUser seeds a message by user in channel (one the bot cannot edit)
// and returns it.
func (s *Server) PostAsUser(channel, user, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.post(Message{Channel: channel, User: user, Text: text, Source: "seed"})
}

// inChannel reports whether a message shows in its channel, as
// conversations.history would list it: not deleted, and top-level or a
// reply broadcast to the channel.
func (m Message) inChannel() bool {
	return !m.Deleted && (m.ThreadTS == "" || m.Broadcast)
}

// Messages returns the current version of each message shown in channel,
// oldest first: not deleted, and not a thread reply unless the reply was
// broadcast. Replies lists a thread.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, r := range s.msgs[channel] {
		if r.cur.inChannel() {
			out = append(out, r.cur)
		}
	}
	return out
}

// AllMessages returns the current version of every message shown in a
// channel, as Messages does, in posting order. Ephemeral messages and
// thread replies that were not broadcast are not included.
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allMessages()
}

func (s *Server) allMessages() []Message {
	var out []Message
	for _, r := range s.order {
		if r.cur.inChannel() {
			out = append(out, r.cur)
		}
	}
	return out
}

// Replies returns the current version of each reply in the thread under
// the message at ts in channel, oldest first, deleted ones left out. The
// parent is not included.
func (s *Server) Replies(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replies(channel, ts)
}

func (s *Server) replies(channel, ts string) []Message {
	var out []Message
	for _, r := range s.msgs[channel] {
		if r.cur.ThreadTS == ts && !r.cur.Deleted {
			out = append(out, r.cur)
		}
	}
	return out
}

// WaitReply waits until a reply in the thread under the message at ts in
// channel satisfies match and returns the first one that does. A nil match
// matches any reply.
func (s *Server) WaitReply(ctx context.Context, channel, ts string, match func(Message) bool) (Message, error) {
	var found Message
	err := s.wait(ctx, func() bool {
		for _, m := range s.replies(channel, ts) {
			if match == nil || match(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return Message{}, fmt.Errorf("fakeslack: no matching reply under %s/%s (have %s): %w", channel, ts, summary(s.replies(channel, ts)), err)
	}
	return found, nil
}

// MessageAt returns the current version of the message at ts in channel,
// deleted or not.
func (s *Server) MessageAt(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(channel, ts); r != nil {
		return r.cur, true
	}
	return Message{}, false
}

// History returns every version of the message at ts in channel, oldest
// first, ending with the current one.
func (s *Server) History(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(channel, ts)
	if r == nil {
		return nil
	}
	return append(append([]Message(nil), r.history...), r.cur)
}

// Ephemerals returns the ephemeral messages shown to user, oldest first.
func (s *Server) Ephemerals(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.ephemerals[user]...)
}

// DMChannel returns the ID of the bot's DM with user, or "" if none has been
// opened.
func (s *Server) DMChannel(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dms[user]
}

// WaitMessage waits until a message shown in a channel (current version,
// as AllMessages lists them) satisfies match and returns the first one that
// does. A nil match matches any message. WaitReply waits for thread replies.
func (s *Server) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	var found Message
	err := s.wait(ctx, func() bool {
		for _, m := range s.allMessages() {
			if match == nil || match(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return Message{}, fmt.Errorf("fakeslack: no matching message (have %s): %w", summary(s.allMessages()), err)
	}
	return found, nil
}

// WaitEphemeral waits until an ephemeral message for user satisfies match and
// returns the first one that does. A nil match matches any message.
func (s *Server) WaitEphemeral(ctx context.Context, user string, match func(Message) bool) (Message, error) {
	var found Message
	err := s.wait(ctx, func() bool {
		for _, m := range s.ephemerals[user] {
			if match == nil || match(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return Message{}, fmt.Errorf("fakeslack: no matching ephemeral for %s (have %s): %w", user, summary(s.ephemerals[user]), err)
	}
	return found, nil
}

// summary describes messages briefly for error messages.
func summary(ms []Message) string {
	if len(ms) == 0 {
		return "none"
	}
	var parts []string
	for i, m := range ms {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("… %d more", len(ms)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s/%s %.60q", m.Channel, m.TS, m.AllText()))
	}
	return fmt.Sprintf("%d: %s", len(ms), strings.Join(parts, "; "))
}

// Calls returns how many requests reached a Web API method (such as
// "chat.postMessage" or "apps.connections.open") or, for method
// "response_url", the response URLs; failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// CallTimes returns when each request to method (as for Calls) arrived,
// oldest first, failed ones included: for apps.connections.open, the
// attempts a reconnecting client made, so a test can measure its backoff.
func (s *Server) CallTimes(method string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.callTimes[method]...)
}

// RateLimited returns how many HTTP 429 answers method got, from the rate
// limiter and from injected faults.
func (s *Server) RateLimited(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited[method]
}

// Connections returns the number of open Socket Mode connections that have
// received hello and have not been told to disconnect.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveCount()
}

// ConnectCount returns how many times apps.connections.open succeeded.
func (s *Server) ConnectCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connectCount
}

// WaitConnected waits until at least n connections count in Connections.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	err := s.wait(ctx, func() bool { return s.liveCount() >= n })
	if err != nil {
		return fmt.Errorf("fakeslack: waiting for %d connections (have %d, %d opens): %w", n, s.Connections(), s.ConnectCount(), err)
	}
	return nil
}

// Unacked returns how many envelopes got no usable ack in time.
func (s *Server) Unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unacked
}

// Dropped returns how many envelopes were dropped because no connection was
// open.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// ProtocolErrors returns the Socket Mode protocol violations seen so far:
// frames that are not acks, acks for unknown or timed-out envelopes, acks of
// 20 KB or more, dials with bad tickets, and ack payloads Slack would reject.
func (s *Server) ProtocolErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.protoErrs...)
}

// DMOf returns the ID the fake gives the bot's DM with user: "D" and the
// ID without its U or W (U123 → D123). Match functions of WaitMessage run
// under the fake's lock and cannot call DMChannel; they can call this.
func DMOf(user string) string {
	return "D" + strings.TrimPrefix(strings.TrimPrefix(user, "U"), "W")
}

// ClickOn returns user's click on the button of m with actionID, as m
// looked when it was read: the click carries that button's block ID and
// value even if the message has changed since, like a screen that has not
// refreshed yet.
func (m Message) ClickOn(user, actionID string) Click {
	c := Click{User: user, Channel: m.Channel, MessageTS: m.TS, ActionID: actionID}
	for _, b := range m.Buttons() {
		if b.ActionID == actionID {
			c.BlockID, c.Value = b.BlockID, b.Value
			break
		}
	}
	return c
}
