package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Ack is an app's acknowledgement of one envelope.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's "payload" as sent, nil if there was none. Node's
	// SDK always sends one ({} when empty); slack-go only when given.
	Payload json.RawMessage
	// Latency runs from the write of the envelope frame to the read of the
	// ack frame (the same span Ping measures for a PING and its PONG).
	Latency time.Duration
	// ConnID identifies the connection the envelope was delivered on.
	ConnID int
	// EventID is the event_id of an event sent with SendEvent.
	EventID string
}

// Envelope is a Socket Mode envelope for Send, for payloads the helpers
// don't build and for hostile input.
type Envelope struct {
	// ID is the envelope_id; a random UUID if empty. Sending the same ID
	// twice models a redelivery.
	ID string
	// Type is "events_api", "slash_commands", "interactive" or anything else.
	Type                   string
	Payload                json.RawMessage
	AcceptsResponsePayload bool
	// RetryAttempt and RetryReason are sent when either is set or Type is
	// "events_api" (whose first delivery carries 0 and "").
	RetryAttempt int
	RetryReason  string
	// Raw, if set, is written as the frame instead of the fields above, and
	// Send waits for an ack of ID only if ID is set.
	Raw []byte
}

// Send delivers e to one open connection (round robin) and waits for its ack.
// It returns ErrNotConnected if no connection is open, ErrNoAck if no ack
// arrives within the ack timeout and ErrAckTooLarge if the ack is 20 KB or
// more; the last two are counted by Unacked.
func (s *Server) Send(ctx context.Context, e Envelope) (Ack, error) {
	if e.Raw != nil {
		return s.deliver(ctx, e.ID, e.Raw)
	}
	if e.ID == "" {
		e.ID = newUUID()
	}
	f := envelopeFrame{
		EnvelopeID:             e.ID,
		Payload:                e.Payload,
		Type:                   e.Type,
		AcceptsResponsePayload: e.AcceptsResponsePayload,
	}
	if e.Type == "events_api" || e.RetryAttempt != 0 || e.RetryReason != "" {
		f.RetryAttempt, f.RetryReason = &e.RetryAttempt, &e.RetryReason
	}
	b, err := json.Marshal(f)
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode envelope: %w", err)
	}
	s.logf("fakeslack: envelope %s: %s", e.ID, e.Type)
	return s.deliver(ctx, e.ID, b)
}

// Command is a slash command invocation.
type Command struct {
	User    string
	Text    string
	Channel string // where it is typed; the first known channel if empty
	Name    string // "/share-bucket" if empty
}

// SlashCommand sends "/share-bucket text" typed by user, as a slash_commands
// envelope, and waits for the ack. An ack payload with text or blocks is the
// command's reply: ephemeral to the user unless its response_type is
// "in_channel".
func (s *Server) SlashCommand(ctx context.Context, user, text string) (Ack, error) {
	return s.Command(ctx, Command{User: user, Text: text})
}

// Command sends a slash command envelope; see SlashCommand.
func (s *Server) Command(ctx context.Context, c Command) (Ack, error) {
	if c.Name == "" {
		c.Name = "/share-bucket"
	}
	s.mu.Lock()
	if c.Channel == "" && len(s.cfg.channels) > 0 {
		c.Channel = s.cfg.channels[0]
	}
	p := slashPayload{
		Token:       verificationToken,
		TeamID:      s.cfg.teamID,
		TeamDomain:  s.cfg.teamDomain,
		ChannelID:   c.Channel,
		ChannelName: s.channelNameOf(c.Channel),
		UserID:      c.User,
		UserName:    s.userName(c.User),
		Command:     c.Name,
		Text:        c.Text,
		APIAppID:    s.cfg.appID,
		ResponseURL: s.issueResponseURL(c.User, c.Channel, ""),
		TriggerID:   s.issueTrigger(c.User),
	}
	s.mu.Unlock()

	b, _ := json.Marshal(p)
	ack, err := s.Send(ctx, Envelope{Type: "slash_commands", Payload: b, AcceptsResponsePayload: true})
	if err == nil && ack.Payload != nil {
		s.commandReply(c.User, c.Channel, ack.Payload)
	}
	return ack, err
}

// commandReply records a slash command's ack payload as the reply message.
func (s *Server) commandReply(user, channel string, payload json.RawMessage) {
	var m replyMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		s.mu.Lock()
		s.protoErr("slash command ack payload is not a message: %v", err)
		s.mu.Unlock()
		return
	}
	if m.Text == "" && len(m.Blocks) == 0 && len(m.Attachments) == 0 {
		return // {} or a payload without a message: nothing to show
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, detail := checkMessage(m.Text, m.Blocks, m.Attachments); code != "" {
		s.protoErr("slash command ack payload rejected: %s %s", code, detail)
		return
	}
	text, _ := truncateText(m.Text)
	msg := Message{
		Channel:     channel,
		Text:        text,
		Blocks:      compact(m.Blocks),
		Attachments: compact(m.Attachments),
		Source:      "ack",
	}
	if m.ResponseType == "in_channel" {
		s.post(msg)
		return
	}
	s.postEphemeral(msg, user)
}

// Click is a click on a button of a message.
type Click struct {
	User string
	// Channel and MessageTS locate the message. If Channel is empty the
	// message is looked up by MessageTS alone.
	Channel   string
	MessageTS string
	ActionID  string
	// BlockID, Value and Text default to those of the message's button
	// with ActionID (and Value, if given).
	BlockID string
	Value   string
	Text    string
	// ViewID, if set, makes this a click on a button in that view, a Home
	// tab (HomeView) or a modal open for User, instead of in a message;
	// Channel and MessageTS are then ignored.
	ViewID string
}

// Click sends the block_actions envelope Slack sends when c.User clicks a
// button, and waits for the ack. For a message the payload carries the
// message as the fake holds it now, a response_url that can replace or
// delete it, and a fresh trigger_id. For a view (c.ViewID) it carries the
// view and a trigger_id but no channel, message or response_url, as Slack
// sends from a Home tab or modal; it returns ErrUnknownView if the view is
// not User's.
func (s *Server) Click(ctx context.Context, c Click) (Ack, error) {
	if c.ViewID != "" {
		return s.clickView(ctx, c)
	}
	s.mu.Lock()
	rec := s.find(c.Channel, c.MessageTS)
	if rec != nil {
		c.Channel = rec.cur.Channel
		for _, b := range rec.cur.Buttons() {
			if b.ActionID == c.ActionID && (c.Value == "" || b.Value == c.Value) && (c.BlockID == "" || b.BlockID == c.BlockID) {
				c.BlockID = b.BlockID
				c.Value = b.Value
				if c.Text == "" {
					c.Text = b.Text
				}
				break
			}
		}
	}
	p := blockActionsPayload{
		Type:     "block_actions",
		User:     s.payloadUser(c.User),
		APIAppID: s.cfg.appID,
		Token:    verificationToken,
		Container: payloadContainer{
			Type:      "message",
			MessageTS: c.MessageTS,
			ChannelID: c.Channel,
		},
		TriggerID:   s.issueTrigger(c.User),
		Team:        payloadTeam{ID: s.cfg.teamID, Domain: s.cfg.teamDomain},
		Channel:     payloadChannel{ID: c.Channel, Name: s.channelNameOf(c.Channel)},
		State:       json.RawMessage(`{"values":{}}`),
		ResponseURL: s.issueResponseURL(c.User, c.Channel, c.MessageTS),
		Actions: []payloadAction{{
			ActionID: c.ActionID,
			BlockID:  c.BlockID,
			Value:    c.Value,
			Type:     "button",
			ActionTS: s.nextTS(),
		}},
	}
	if c.Text != "" {
		p.Actions[0].Text = &textObject{Type: "plain_text", Text: c.Text, Emoji: true}
	}
	if rec != nil {
		m := rec.cur
		p.Container.ThreadTS = m.ThreadTS
		p.Message = &payloadMessage{
			BotID:       m.BotID,
			Type:        "message",
			Text:        m.Text,
			User:        m.User,
			TS:          m.TS,
			ThreadTS:    m.ThreadTS,
			Team:        s.cfg.teamID,
			Blocks:      m.Blocks,
			Attachments: m.Attachments,
		}
		if m.BotID != "" {
			p.Message.AppID = s.cfg.appID
		}
	}
	s.mu.Unlock()

	b, _ := json.Marshal(p)
	return s.Send(ctx, Envelope{Type: "interactive", Payload: b})
}

// SubmitView sends the view_submission envelope for user submitting the open
// view viewID with values (block_id → action_id → value) and waits for the
// ack. Each value is shaped by its input element's type: "value" for text
// inputs, "selected_option" for static_select and radio_buttons, and so on.
// It returns ErrUnknownView if the view is not open for user.
//
// The ack's response_action is honoured: none or "clear" closes the view,
// "errors" keeps it open with View.Errors set, "update" replaces it and
// "push" opens a new one.
func (s *Server) SubmitView(ctx context.Context, user, viewID string, values map[string]map[string]string) (Ack, error) {
	s.mu.Lock()
	v := s.views[viewID]
	if v == nil || v.user != user {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("%w: %s for %s", ErrUnknownView, viewID, user)
	}
	obj := cloneJSON(v.obj)
	state := map[string]any{}
	for blockID, actions := range values {
		elem := inputElement(obj, blockID)
		entry := map[string]any{}
		for actionID, value := range actions {
			entry[actionID] = stateValue(elem, value)
		}
		state[blockID] = entry
	}
	obj["state"] = map[string]any{"values": state}
	p := viewSubmissionPayload{
		Type:         "view_submission",
		Team:         payloadTeam{ID: s.cfg.teamID, Domain: s.cfg.teamDomain},
		User:         s.payloadUser(user),
		APIAppID:     s.cfg.appID,
		Token:        verificationToken,
		TriggerID:    s.issueTrigger(user),
		View:         obj,
		ResponseURLs: []any{},
		Enterprise:   json.RawMessage("null"),
	}
	s.mu.Unlock()

	b, err := json.Marshal(p)
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode view_submission: %w", err)
	}
	ack, err := s.Send(ctx, Envelope{Type: "interactive", Payload: b, AcceptsResponsePayload: true})
	if err == nil {
		s.viewResponse(user, viewID, ack.Payload)
	}
	return ack, err
}

// viewResponse applies the response_action of a view_submission ack.
func (s *Server) viewResponse(user, viewID string, payload json.RawMessage) {
	var r struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if payload != nil {
		if err := json.Unmarshal(payload, &r); err != nil {
			s.mu.Lock()
			s.protoErr("view_submission ack payload: %v", err)
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notify()
	switch r.ResponseAction {
	case "", "clear":
		if r.ResponseAction == "clear" {
			for id, v := range s.views {
				if v.user == user {
					s.closeView(id)
				}
			}
		}
		s.closeView(viewID)
	case "errors":
		v := s.views[viewID]
		if v == nil {
			return
		}
		for blockID := range r.Errors {
			if !hasInputBlock(v.obj, blockID) {
				s.protoErr("view_submission ack has an error for %q, which is not an input block of view %s", blockID, viewID)
			}
		}
		v.errors = maps.Clone(r.Errors)
	case "update", "push":
		obj, code, detail := parseView(r.View)
		if code != "" {
			s.protoErr("view_submission ack %q rejected: %s %s", r.ResponseAction, code, detail)
			return
		}
		if r.ResponseAction == "update" {
			if v := s.views[viewID]; v != nil {
				s.replaceView(v, obj)
			}
			return
		}
		s.openView(user, obj, viewID)
	default:
		s.protoErr("view_submission ack with unknown response_action %q", r.ResponseAction)
	}
}

// payloadUser returns the "user" object of an interaction payload. The
// caller holds s.mu.
func (s *Server) payloadUser(id string) payloadUser {
	name := s.userName(id)
	return payloadUser{ID: id, Username: name, Name: name, TeamID: s.cfg.teamID}
}

// userName returns the handle of a user, known or not. The caller holds s.mu.
func (s *Server) userName(id string) string {
	if u, ok := s.users[id]; ok {
		return u.Name
	}
	return fillUser(User{ID: id}).Name
}

// channelNameOf returns the name Slack puts beside a channel ID. The caller
// holds s.mu.
func (s *Server) channelNameOf(id string) string {
	if name, ok := s.channels[id]; ok {
		return name
	}
	if _, ok := s.dmUsers[id]; ok || (id != "" && id[0] == 'D') {
		return "directmessage"
	}
	return channelName(id)
}

// cloneJSON deep-copies a decoded JSON object.
func cloneJSON(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	decodeJSON(b, &out)
	return out
}

// Text returns the "text" of the ack's payload: for a slash command, what
// the user was told. It is "" when the ack has no payload or no text.
func (a Ack) Text() string {
	var p struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(a.Payload, &p)
	return p.Text
}
