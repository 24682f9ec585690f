package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Modal limits.
const (
	maxViewSize     = 250000 // bytes; view_too_large above
	maxTitle        = 24     // title, submit and close texts
	maxCallbackID   = 255
	maxMetadata     = 3000
	maxViewStack    = 3
	maxOpenTriggers = 4096
)

// View is an open modal or a published Home tab.
type View struct {
	ID   string
	Type string // "modal" or "home"
	// User is the user the modal is open for or the Home tab belongs to.
	User            string
	CallbackID      string
	PrivateMetadata string
	ExternalID      string
	Title           string
	Hash            string
	Blocks          json.RawMessage
	// Errors are the field errors of the last view_submission ack with
	// response_action "errors".
	Errors map[string]string
	// Raw is the view object as the Web API returns it.
	Raw json.RawMessage
}

// view is an open modal as stored.
type view struct {
	id     string
	user   string
	obj    map[string]any // as returned by views.open
	errors map[string]string
}

func (v *view) export() View {
	raw, _ := json.Marshal(v.obj)
	blocks, _ := json.Marshal(v.obj["blocks"])
	return View{
		ID:              v.id,
		Type:            str(v.obj["type"]),
		User:            v.user,
		CallbackID:      str(v.obj["callback_id"]),
		PrivateMetadata: str(v.obj["private_metadata"]),
		ExternalID:      str(v.obj["external_id"]),
		Title:           textOf(v.obj["title"]),
		Hash:            str(v.obj["hash"]),
		Blocks:          blocks,
		Errors:          maps.Clone(v.errors),
		Raw:             raw,
	}
}

// trigger is an issued trigger_id.
type trigger struct {
	user   string
	issued time.Time
	used   bool
}

// issueTrigger returns a new trigger_id for user. The caller holds s.mu.
func (s *Server) issueTrigger(user string) string {
	// Forget the oldest triggers first: they expire first. Scanning the
	// whole map instead would cost every command of a burst thousands of
	// clock reads under the lock, and show up as ack latency.
	for len(s.trigOrder) >= maxOpenTriggers {
		delete(s.triggers, s.trigOrder[0])
		s.trigOrder = s.trigOrder[1:]
	}
	s.seq++
	id := fmt.Sprintf("%d.%d.%s", 1000000+s.seq, 4242424242, randHex(16))
	s.triggers[id] = &trigger{user: user, issued: time.Now()}
	s.trigOrder = append(s.trigOrder, id)
	return id
}

// useTrigger checks a trigger_id and marks it used. The caller holds s.mu.
func (s *Server) useTrigger(id string) (*trigger, error) {
	t := s.triggers[id]
	switch {
	case t == nil:
		return nil, errCode("invalid_trigger_id")
	case t.used:
		return nil, errCode("exchanged_trigger_id")
	case time.Since(t.issued) > s.cfg.triggerTTL:
		return nil, errCode("expired_trigger_id")
	}
	return t, nil
}

// parseView decodes and validates a modal view. It returns "" or an error
// code and a detail.
func parseView(raw json.RawMessage) (obj map[string]any, code, detail string) {
	return parseViewOf(raw, "modal")
}

// parseViewOf decodes and validates a view of type typ, "modal" (views.open,
// views.push, views.update) or "home" (views.publish). Both surfaces take
// 100 blocks and the same block limits; only modals have a title and
// submit and close buttons.
func parseViewOf(raw json.RawMessage, typ string) (obj map[string]any, code, detail string) {
	if !present(raw) {
		return nil, "invalid_arguments", "missing required field: view"
	}
	if len(raw) > maxViewSize {
		return nil, "view_too_large", ""
	}
	if err := decodeJSON(raw, &obj); err != nil || obj == nil {
		return nil, "invalid_arguments", "view must be a JSON object"
	}
	if obj["type"] != typ {
		return nil, "invalid_arguments", "must be " + typ + " [json-pointer:/view/type]"
	}
	if typ == "modal" {
		if d := checkLen("/view/title/text", textOf(obj["title"]), 1, maxTitle); d != "" {
			return nil, "invalid_arguments", d
		}
		for _, k := range []string{"submit", "close"} {
			if v, ok := obj[k]; ok && v != nil {
				if d := checkLen("/view/"+k+"/text", textOf(v), 1, maxTitle); d != "" {
					return nil, "invalid_arguments", d
				}
			}
		}
	}
	if d := checkLen("/view/callback_id", str(obj["callback_id"]), 0, maxCallbackID); d != "" {
		return nil, "invalid_arguments", d
	}
	if d := checkLen("/view/private_metadata", str(obj["private_metadata"]), 0, maxMetadata); d != "" {
		return nil, "invalid_arguments", d
	}
	blocks, _ := json.Marshal(obj["blocks"])
	if d := checkBlocks(blocks, maxViewBlocks); d != "" {
		return nil, "invalid_arguments", d
	}
	if n := markdownChars(decodeBlocks(blocks)); n > maxMarkdown {
		return nil, "invalid_arguments", fmt.Sprintf("markdown blocks hold %d characters; the limit is %d [json-pointer:/view/blocks]", n, maxMarkdown)
	}
	if typ == "modal" && obj["submit"] == nil {
		for _, b := range decodeBlocks(blocks) {
			if b["type"] == "input" {
				return nil, "invalid_arguments", "must provide submit when using input blocks [json-pointer:/view/submit]"
			}
		}
	}
	return obj, "", ""
}

// openView stores a new view for user, pushed on top of prev if prev is
// set. The caller holds s.mu.
func (s *Server) openView(user string, obj map[string]any, prev string) *view {
	s.seq++
	id := fmt.Sprintf("V%09d", s.seq)
	root := id
	var previous any
	if p := s.views[prev]; p != nil {
		root, previous = str(p.obj["root_view_id"]), prev
	}
	for k, v := range map[string]any{
		"private_metadata": "", "callback_id": "", "external_id": "",
		"clear_on_close": false, "notify_on_close": false,
	} {
		if _, ok := obj[k]; !ok {
			obj[k] = v
		}
	}
	s.stampView(obj, id, root, previous)
	v := &view{id: id, user: user, obj: obj}
	s.views[id] = v
	s.viewOrder = append(s.viewOrder, id)
	s.logf("fakeslack: view %s opened for %s (callback_id %q)", id, user, obj["callback_id"])
	s.notify()
	return v
}

// stampView adds the fields Slack adds to a view it stores. The caller
// holds s.mu.
func (s *Server) stampView(obj map[string]any, id, root string, previous any) {
	obj["id"] = id
	obj["team_id"] = s.cfg.teamID
	obj["state"] = map[string]any{"values": map[string]any{}}
	obj["hash"] = fmt.Sprintf("%d.%s", time.Now().Unix(), randHex(4))
	obj["root_view_id"] = root
	obj["previous_view_id"] = previous
	obj["app_id"] = s.cfg.appID
	obj["app_installed_team_id"] = s.cfg.teamID
	obj["bot_id"] = s.cfg.botID
}

// replaceView replaces a view's content, keeping its identity. The caller
// holds s.mu.
func (s *Server) replaceView(v *view, obj map[string]any) {
	for _, k := range []string{"id", "team_id", "root_view_id", "previous_view_id", "app_id", "app_installed_team_id", "bot_id"} {
		obj[k] = v.obj[k]
	}
	for k, def := range map[string]any{"private_metadata": "", "callback_id": "", "external_id": "", "clear_on_close": false, "notify_on_close": false} {
		if _, ok := obj[k]; !ok {
			obj[k] = def
		}
	}
	obj["state"] = map[string]any{"values": map[string]any{}}
	obj["hash"] = fmt.Sprintf("%d.%s", time.Now().Unix(), randHex(4))
	v.obj, v.errors = obj, nil
	s.notify()
}

// closeView forgets a view. The caller holds s.mu.
func (s *Server) closeView(id string) {
	if _, ok := s.views[id]; !ok {
		return
	}
	delete(s.views, id)
	for i, x := range s.viewOrder {
		if x == id {
			s.viewOrder = append(s.viewOrder[:i:i], s.viewOrder[i+1:]...)
			break
		}
	}
	s.notify()
}

// inputElement returns the element of the input block blockID in a view,
// or nil.
func inputElement(obj map[string]any, blockID string) map[string]any {
	blocks, _ := obj["blocks"].([]any)
	for _, b := range blocks {
		blk, ok := b.(map[string]any)
		if ok && blk["block_id"] == blockID {
			if el, ok := blk["element"].(map[string]any); ok {
				return el
			}
			if el, ok := blk["accessory"].(map[string]any); ok {
				return el
			}
		}
	}
	return nil
}

// hasInputBlock reports whether a view has an input block blockID; Slack
// accepts response_action "errors" only for those.
func hasInputBlock(obj map[string]any, blockID string) bool {
	blocks, _ := obj["blocks"].([]any)
	for _, b := range blocks {
		if blk, ok := b.(map[string]any); ok && blk["type"] == "input" && blk["block_id"] == blockID {
			return true
		}
	}
	return false
}

func (s *Server) viewsOpen(p params) (reply, error) {
	t, err := s.useTrigger(p["trigger_id"])
	if err != nil {
		return nil, err
	}
	obj, code, detail := parseView(json.RawMessage(p["view"]))
	if code != "" {
		return nil, &apiError{code: code, detail: detail}
	}
	t.used = true
	v := s.openView(t.user, obj, "")
	return reply{"view": v.obj}, nil
}

func (s *Server) viewsPush(p params) (reply, error) {
	t, err := s.useTrigger(p["trigger_id"])
	if err != nil {
		return nil, err
	}
	obj, code, detail := parseView(json.RawMessage(p["view"]))
	if code != "" {
		return nil, &apiError{code: code, detail: detail}
	}
	var top *view
	stack := 0
	for _, id := range s.viewOrder {
		if v := s.views[id]; v.user == t.user {
			top = v
			stack++
		}
	}
	if top == nil {
		return nil, errCode("not_found")
	}
	if stack >= maxViewStack {
		return nil, errCode("push_limit_reached")
	}
	t.used = true
	v := s.openView(t.user, obj, top.id)
	return reply{"view": v.obj}, nil
}

func (s *Server) viewsUpdate(p params) (reply, error) {
	var v *view
	if id := p["view_id"]; id != "" {
		v = s.views[id]
	} else if ext := p["external_id"]; ext != "" {
		for _, x := range s.views {
			if x.obj["external_id"] == ext {
				v = x
			}
		}
	} else {
		return nil, &apiError{code: "invalid_arguments", detail: "view_id or external_id is required"}
	}
	if v == nil {
		return nil, errCode("not_found")
	}
	if h := p["hash"]; h != "" && h != v.obj["hash"] {
		return nil, errCode("hash_conflict")
	}
	obj, code, detail := parseView(json.RawMessage(p["view"]))
	if code != "" {
		return nil, &apiError{code: code, detail: detail}
	}
	s.replaceView(v, obj)
	return reply{"view": v.obj}, nil
}

// Views returns the modals open for user, oldest first.
func (s *Server) Views(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewsOf(user)
}

func (s *Server) viewsOf(user string) []View {
	var out []View
	for _, id := range s.viewOrder {
		if v := s.views[id]; v.user == user {
			out = append(out, v.export())
		}
	}
	return out
}

// WaitView waits until a modal open for user satisfies match and returns
// the first one that does. A nil match matches any view.
func (s *Server) WaitView(ctx context.Context, user string, match func(View) bool) (View, error) {
	var found View
	err := s.wait(ctx, func() bool {
		for _, v := range s.viewsOf(user) {
			if match == nil || match(v) {
				found = v
				return true
			}
		}
		return false
	})
	if err != nil {
		return View{}, fmt.Errorf("fakeslack: no matching view for %s (%d open): %w", user, len(s.Views(user)), err)
	}
	return found, nil
}
