package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
)

// viewsPublish serves views.publish: the Home tab of user_id becomes view.
// Errors follow the method's table: not_enabled without a Home tab,
// view_too_large over 250 kB, hash_conflict when hash is given and is not
// the stored view's, duplicate_external_id, and invalid_arguments for
// anything malformed, including a view whose type is not "home". An
// unknown user_id gets invalid_arguments too; Slack documents no code for
// it.
func (s *Server) viewsPublish(p params) (reply, error) {
	if !s.cfg.homeTab {
		return nil, errCode("not_enabled")
	}
	user := p["user_id"]
	if _, ok := s.users[user]; !ok {
		return nil, &apiError{code: "invalid_arguments", detail: "invalid user_id [json-pointer:/user_id]"}
	}
	obj, code, detail := parseViewOf(json.RawMessage(p["view"]), "home")
	if code != "" {
		return nil, &apiError{code: code, detail: detail}
	}
	cur := s.homes[user]
	if h := p["hash"]; h != "" && (cur == nil || h != cur.obj["hash"]) {
		return nil, errCode("hash_conflict")
	}
	if ext := str(obj["external_id"]); ext != "" && s.externalIDTaken(ext, cur) {
		return nil, errCode("duplicate_external_id")
	}
	if _, ok := obj["title"]; !ok {
		// Slack gives Home views a title nobody sees.
		obj["title"] = map[string]any{"type": "plain_text", "text": "View Title", "emoji": true}
	}
	for _, k := range []string{"close", "submit"} {
		if _, ok := obj[k]; !ok {
			obj[k] = nil
		}
	}
	if cur != nil {
		s.replaceView(cur, obj)
	} else {
		s.seq++
		id := fmt.Sprintf("V%09d", s.seq)
		for k, v := range map[string]any{
			"private_metadata": "", "callback_id": "", "external_id": "",
			"clear_on_close": false, "notify_on_close": false,
		} {
			if _, ok := obj[k]; !ok {
				obj[k] = v
			}
		}
		s.stampView(obj, id, id, nil)
		cur = &view{id: id, user: user, obj: obj}
		s.homes[user] = cur
	}
	s.homeCount[user]++
	s.logf("fakeslack: home %s published for %s (callback_id %q)", cur.id, user, obj["callback_id"])
	s.notify()
	return reply{"view": cur.obj}, nil
}

// externalIDTaken reports whether a view other than self uses external_id
// ext. The caller holds s.mu.
func (s *Server) externalIDTaken(ext string, self *view) bool {
	for _, v := range s.views {
		if v != self && v.obj["external_id"] == ext {
			return true
		}
	}
	for _, v := range s.homes {
		if v != self && v.obj["external_id"] == ext {
			return true
		}
	}
	return false
}

// HomeView returns the Home tab last published for user, and false if none
// has been.
func (s *Server) HomeView(user string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.homes[user]; v != nil {
		return v.export(), true
	}
	return View{}, false
}

// HomePublishes returns how many times views.publish succeeded for user.
func (s *Server) HomePublishes(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.homeCount[user]
}

// WaitHome waits until user's Home tab satisfies match and returns it. A
// nil match matches any published Home tab.
func (s *Server) WaitHome(ctx context.Context, user string, match func(View) bool) (View, error) {
	var found View
	err := s.wait(ctx, func() bool {
		v := s.homes[user]
		if v == nil {
			return false
		}
		found = v.export()
		return match == nil || match(found)
	})
	if err != nil {
		return View{}, fmt.Errorf("fakeslack: no matching Home tab for %s (%d published): %w", user, s.HomePublishes(user), err)
	}
	return found, nil
}

// Buttons returns the buttons in the view's actions blocks and section
// accessories, in order.
func (v View) Buttons() []Button { return buttonsIn(decodeBlocks(v.Blocks)) }

// ClickOn returns user's click on the button of v with actionID, as v
// looked when it was read.
func (v View) ClickOn(user, actionID string) Click {
	c := Click{User: user, ViewID: v.ID, ActionID: actionID}
	for _, b := range v.Buttons() {
		if b.ActionID == actionID {
			c.BlockID, c.Value = b.BlockID, b.Value
			break
		}
	}
	return c
}

// viewByID returns the open modal or Home tab with id, or nil. The caller
// holds s.mu.
func (s *Server) viewByID(id string) *view {
	if v := s.views[id]; v != nil {
		return v
	}
	for _, v := range s.homes {
		if v.id == id {
			return v
		}
	}
	return nil
}

// clickView sends the block_actions envelope for a click on a button in a
// view. The payload's shape follows a Home tab click captured from Slack:
// the container is {"type":"view","view_id":…}, the view comes whole with
// its state, and there is no channel, no message and no response_url; a
// trigger_id is included.
func (s *Server) clickView(ctx context.Context, c Click) (Ack, error) {
	s.mu.Lock()
	v := s.viewByID(c.ViewID)
	if v == nil || v.user != c.User {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("%w: %s for %s", ErrUnknownView, c.ViewID, c.User)
	}
	obj := cloneJSON(v.obj)
	blocks, _ := json.Marshal(obj["blocks"])
	for _, b := range buttonsIn(decodeBlocks(blocks)) {
		if b.ActionID == c.ActionID && (c.Value == "" || b.Value == c.Value) && (c.BlockID == "" || b.BlockID == c.BlockID) {
			c.BlockID, c.Value = b.BlockID, b.Value
			if c.Text == "" {
				c.Text = b.Text
			}
			break
		}
	}
	p := viewActionsPayload{
		Type:      "block_actions",
		User:      s.payloadUser(c.User),
		APIAppID:  s.cfg.appID,
		Token:     verificationToken,
		Container: viewContainer{Type: "view", ViewID: v.id},
		TriggerID: s.issueTrigger(c.User),
		Team:      payloadTeam{ID: s.cfg.teamID, Domain: s.cfg.teamDomain},
		View:      obj,
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
	s.mu.Unlock()

	b, err := json.Marshal(p)
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode block_actions: %w", err)
	}
	return s.Send(ctx, Envelope{Type: "interactive", Payload: b})
}
