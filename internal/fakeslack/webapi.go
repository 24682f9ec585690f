package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// reply is the JSON body of a Web API answer.
type reply map[string]any

// apiError is an {"ok":false,"error":code} answer.
type apiError struct {
	code   string
	detail string // Slack's explanation, sent in "errors" and response_metadata
	extra  reply  // further top-level fields, such as missing_scope's needed
}

func (e *apiError) Error() string { return e.code }

func errCode(code string) error { return &apiError{code: code} }

// params holds a request's arguments, from the query, a form or a JSON body.
// JSON values that are not strings are kept as their JSON text.
type params map[string]string

// handlers are the Web API methods, called with s.mu held.
var handlers = map[string]func(*Server, params) (reply, error){
	"auth.test":          (*Server).authTest,
	"chat.postMessage":   (*Server).chatPostMessage,
	"chat.postEphemeral": (*Server).chatPostEphemeral,
	"chat.update":        (*Server).chatUpdate,
	"chat.delete":        (*Server).chatDelete,
	"conversations.open": (*Server).conversationsOpen,
	"users.info":         (*Server).usersInfo,
	"views.open":         (*Server).viewsOpen,
	"views.update":       (*Server).viewsUpdate,
	"views.push":         (*Server).viewsPush,
	"views.publish":      (*Server).viewsPublish,

	"usergroups.users.list": (*Server).usergroupsUsersList,
}

// serveAPI serves POST /api/<method>: the call is counted, injected faults
// apply, then apps.connections.open or a handler answers. The request is
// parsed first so that a fault limited to one channel can see the channel.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	var (
		p    params
		tok  string
		perr error
	)
	if method != "apps.connections.open" {
		p, tok, perr = parseRequest(r)
	}
	s.mu.Lock()
	s.calls[method]++
	s.callTimes[method] = append(s.callTimes[method], time.Now())
	f := s.takeFault(method, faultTarget(p))
	s.notify()
	s.mu.Unlock()
	if f != nil && s.applyFault(w, r, method, f, false) {
		return
	}
	if method == "apps.connections.open" {
		s.connectionsOpen(w, r)
		return
	}
	h, ok := handlers[method]
	if !ok {
		s.logf("fakeslack: %s: unknown method", method)
		writeJSON(w, http.StatusNotFound, reply{"ok": false, "error": "unknown_method"})
		return
	}
	if perr != nil {
		writeError(w, perr.Error())
		return
	}

	status, body, retry := s.dispatch(method, h, p, tok)
	if status == http.StatusTooManyRequests {
		writeRateLimited(w, retry, "ratelimited")
		return
	}
	writeJSON(w, status, body)
}

// dispatch checks the token and the rate limit and calls h, holding s.mu.
// It returns the HTTP status, the body and, for a 429, the Retry-After.
func (s *Server) dispatch(method string, h func(*Server, params) (reply, error), p params, tok string) (int, reply, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch {
	case tok == "":
		err = errCode("not_authed")
	case tok != s.cfg.botToken:
		err = errCode("invalid_auth")
	case s.botTokenErr != "":
		err = errCode(s.botTokenErr)
	}
	if err == nil && method == "chat.postMessage" && s.cfg.postEvery > 0 {
		if wait := s.limit(p["channel"]); wait > 0 {
			s.rateLimited[method]++
			s.notify()
			s.logf("fakeslack: %s: rate limited, retry after %ds", method, wait)
			return http.StatusTooManyRequests, nil, wait
		}
	}
	var out reply
	if err == nil {
		out, err = h(s, p)
	}
	if err != nil {
		e, ok := err.(*apiError)
		if !ok {
			e = &apiError{code: "internal_error", detail: err.Error()}
		}
		s.logf("fakeslack: %s: %s %s", method, e.code, e.detail)
		body := reply{"ok": false, "error": e.code}
		for k, v := range e.extra {
			body[k] = v
		}
		if e.detail != "" {
			body["errors"] = []string{e.detail}
			body["response_metadata"] = reply{"messages": []string{"[ERROR] " + e.detail}}
		}
		return http.StatusOK, body, 0
	}
	out["ok"] = true
	return http.StatusOK, out, 0
}

// parseRequest returns a request's arguments and token. The token comes from
// "Authorization: Bearer" or, failing that, the "token" argument.
func parseRequest(r *http.Request) (params, string, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return nil, "", errCode("invalid_json")
		}
		if len(bytes.TrimSpace(body)) > 0 {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				return nil, "", errCode("invalid_json")
			}
			for k, raw := range m {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					p[k] = s
				} else {
					p[k] = string(raw)
				}
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			return nil, "", errCode("invalid_form_data")
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, "", errCode("invalid_form_data")
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = p["token"]
	}
	return p, tok, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError writes {"ok":false,"error":code} with HTTP 200, as Slack does.
func writeError(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusOK, reply{"ok": false, "error": code})
}

// writeRateLimited writes HTTP 429 with Retry-After (omitted if negative).
func writeRateLimited(w http.ResponseWriter, retryAfter int, code string) {
	if retryAfter >= 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, http.StatusTooManyRequests, reply{"ok": false, "error": code})
}

// Fault is a failure injected into a Web API method, into
// "apps.connections.open" or, as method "response_url", into response URLs.
type Fault struct {
	// Status is the HTTP status. 0 means 200 if Error is set; with neither
	// Status nor Error set the fault only delays the call.
	Status int
	// RetryAfter is the Retry-After header in seconds sent with a 429;
	// 0 sends 1, a negative value sends no header.
	RetryAfter int
	// Error is the ok:false error code, for example "channel_not_found".
	// A 429 defaults to "ratelimited".
	Error string
	// Count is how many calls FailNext fails (0 means 1). FailAlways
	// ignores it.
	Count int
	// Delay holds the answer back, then the call fails or proceeds.
	Delay time.Duration
	// Channel, if set, limits the fault to calls that name that
	// conversation; other calls of the method pass it by and neither see
	// nor use it up. A call names the conversation in its channel argument,
	// or, for conversations.open, views.publish and users.info, in its
	// users, user_id or user argument; a response URL names the channel of
	// the interaction that issued it. A user ID and that user's DM with the
	// bot name the same conversation, so Channel "U123" also catches
	// chat.postMessage to D123 and Channel "D123" catches conversations.open
	// of U123. Slack rate-limits chat.postMessage per channel, so a 429 with
	// Channel set models one busy channel.
	Channel string
	// For, if positive, ends the fault that long after it is injected, even
	// if FailNext's count is not used up: apps.connections.open refusing for
	// a while, as when Slack is down, then accepting again.
	For time.Duration
	// Drop, if set, closes the TCP connection without any answer, like a
	// network failure; Status and Error are then ignored. A Delay still
	// applies first.
	Drop bool
}

type fault struct {
	Fault
	left  int       // calls left to fail; -1 is forever
	until time.Time // zero: no end
}

// FailNext makes the next f.Count calls of method fail with f. Faults queue
// up behind earlier ones for the same method; a call takes the first one
// whose Channel matches it.
func (s *Server) FailNext(method string, f Fault) {
	s.addFault(method, &fault{Fault: f, left: max(f.Count, 1)})
}

// FailAlways makes every call of method fail with f until ClearFaults, or
// until f.For has passed.
func (s *Server) FailAlways(method string, f Fault) {
	s.addFault(method, &fault{Fault: f, left: -1})
}

func (s *Server) addFault(method string, f *fault) {
	if f.For > 0 {
		f.until = time.Now().Add(f.For)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// faultTarget returns the conversation or user a call names, for
// Fault.Channel.
func faultTarget(p params) string {
	for _, k := range []string{"channel", "users", "user_id", "user"} {
		if v := strings.TrimSpace(p[k]); v != "" {
			return v
		}
	}
	return ""
}

// takeFault returns the fault for this call of method, naming target, if
// any, and uses it up. Expired faults are dropped. The caller holds s.mu.
func (s *Server) takeFault(method, target string) *Fault {
	if len(s.faults[method]) == 0 {
		return nil
	}
	now := time.Now()
	list := s.faults[method][:0:0]
	for _, f := range s.faults[method] {
		if f.until.IsZero() || now.Before(f.until) {
			list = append(list, f)
		}
	}
	s.faults[method] = list
	for i, f := range list {
		if f.Channel != "" && !s.sameConversation(f.Channel, target) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults[method] = append(list[:i:i], list[i+1:]...)
			}
		}
		out := f.Fault
		return &out
	}
	return nil
}

// sameConversation reports whether a and b name the same conversation, a
// user and the user's DM with the bot counting as one. The caller holds
// s.mu.
func (s *Server) sameConversation(a, b string) bool {
	return a != "" && b != "" && s.conversationKey(a) == s.conversationKey(b)
}

// conversationKey maps a DM to its user and anything else to itself. A DM
// not opened yet is recognised by the ID DMOf gives it. The caller holds
// s.mu.
func (s *Server) conversationKey(id string) string {
	if u, ok := s.dmUsers[id]; ok {
		return u
	}
	if strings.HasPrefix(id, "D") {
		for u := range s.users {
			if DMOf(u) == id {
				return u
			}
		}
	}
	return id
}

// applyFault delays and then, unless the fault is a pure delay, writes the
// failure and reports true. plain writes text bodies, as response URLs do.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, method string, f *Fault, plain bool) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.done:
		}
		t.Stop()
	}
	if f.Drop {
		s.logf("fakeslack: %s: injected fault: connection dropped", method)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		// No hijacking (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	if f.Status == 0 && f.Error == "" {
		return false
	}
	s.logf("fakeslack: %s: injected fault %+v", method, *f)
	status := f.Status
	if status == 0 {
		status = http.StatusOK
		if plain {
			status = http.StatusBadRequest
		}
	}
	code := f.Error
	if status == http.StatusTooManyRequests {
		s.mu.Lock()
		s.rateLimited[method]++
		s.notify()
		s.mu.Unlock()
		if code == "" {
			code = "ratelimited"
		}
		retry := f.RetryAfter
		if retry == 0 {
			retry = 1
		}
		if plain {
			if retry >= 0 {
				w.Header().Set("Retry-After", strconv.Itoa(retry))
			}
			http.Error(w, code, status)
			return true
		}
		writeRateLimited(w, retry, code)
		return true
	}
	if code == "" {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	switch {
	case plain:
		http.Error(w, code, status)
	case status >= 500:
		// Slack sends HTML with 5xx; slack-go doesn't read it.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
	default:
		writeJSON(w, status, reply{"ok": false, "error": code})
	}
	return true
}

// bucket is a token bucket for one channel's chat.postMessage calls.
type bucket struct {
	tokens float64
	last   time.Time
}

// limit takes a token for channel and returns 0, or the seconds to wait
// when none is left. The caller holds s.mu.
func (s *Server) limit(channel string) int {
	if d, ok := s.dms[channel]; ok {
		channel = d // a user ID posts into the user's DM
	}
	now := time.Now()
	burst := float64(s.cfg.postBurst)
	b := s.buckets[channel]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		s.buckets[channel] = b
	}
	b.tokens = min(burst, b.tokens+float64(now.Sub(b.last))/float64(s.cfg.postEvery))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	wait := time.Duration((1 - b.tokens) * float64(s.cfg.postEvery))
	return max(1, int(math.Ceil(wait.Seconds())))
}

func (s *Server) authTest(params) (reply, error) {
	return reply{
		"url":                   "https://" + s.cfg.teamDomain + ".slack.com/",
		"team":                  "Fake Team",
		"user":                  s.users[s.cfg.botUserID].Name,
		"team_id":               s.cfg.teamID,
		"user_id":               s.cfg.botUserID,
		"bot_id":                s.cfg.botID,
		"is_enterprise_install": false,
	}, nil
}

// resolveChannel returns the conversation a message for ch goes to: a known
// channel, an open DM, or, for a user ID, the bot's DM with that user. The
// caller holds s.mu.
//
// A deactivated user still gets the message: Slack answers ok, since the
// DM's history outlives the account (Slack staff in
// slackapi/python-slack-sdk#1156, "chat_postMessage succeeds to deleted
// user"). Only conversations.open refuses, with user_disabled. A bot user
// has no DM with the bot, so its ID is not a channel.
func (s *Server) resolveChannel(ch string) (string, error) {
	if _, ok := s.channels[ch]; ok {
		return ch, nil
	}
	if _, ok := s.dmUsers[ch]; ok {
		return ch, nil
	}
	if u, ok := s.users[ch]; ok && !u.IsBot {
		return s.dmFor(ch), nil
	}
	return "", errCode("channel_not_found")
}

// dmFor returns the bot's DM with user, opening it if needed. The caller
// holds s.mu.
func (s *Server) dmFor(user string) string {
	if d, ok := s.dms[user]; ok {
		return d
	}
	d := DMOf(user)
	if _, taken := s.dmUsers[d]; taken || d == "D" {
		d = fmt.Sprintf("D%s%d", d[1:], len(s.dms)+1)
	}
	s.dms[user], s.dmUsers[d] = d, user
	s.notify()
	return d
}

// messageObject is a message as chat.postMessage and chat.update return it.
func (s *Server) messageObject(m Message) reply {
	o := reply{"type": "message", "text": m.Text, "user": m.User, "ts": m.TS, "team": s.cfg.teamID}
	if m.BotID != "" {
		o["bot_id"], o["app_id"] = m.BotID, s.cfg.appID
	}
	if m.Blocks != nil {
		o["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		o["attachments"] = m.Attachments
	}
	switch {
	case m.ThreadTS != "":
		o["thread_ts"] = m.ThreadTS
		if m.Broadcast {
			o["subtype"] = "thread_broadcast"
		}
	case m.ReplyCount > 0:
		o["thread_ts"], o["reply_count"], o["latest_reply"] = m.TS, m.ReplyCount, m.LatestReply
	}
	return o
}

// isTrue reports whether a boolean argument is set, as "true" or "1".
func isTrue(v string) bool { return v == "true" || v == "1" }

func messageError(text string, blocks, attachments json.RawMessage) error {
	if code, detail := checkMessage(text, blocks, attachments); code != "" {
		return &apiError{code: code, detail: detail}
	}
	return nil
}

func (s *Server) chatPostMessage(p params) (reply, error) {
	ch, err := s.resolveChannel(p["channel"])
	if err != nil {
		return nil, err
	}
	thread, err := s.threadParent(ch, p["thread_ts"])
	if err != nil {
		return nil, err
	}
	text, blocks, atts := p["text"], json.RawMessage(p["blocks"]), json.RawMessage(p["attachments"])
	if err := messageError(text, blocks, atts); err != nil {
		return nil, err
	}
	text, cut := truncateText(text)
	m := s.post(Message{
		Channel:     ch,
		ThreadTS:    thread,
		Broadcast:   isTrue(p["reply_broadcast"]),
		Text:        text,
		Blocks:      compact(blocks),
		Attachments: compact(atts),
		Source:      "chat.postMessage",
	})
	return warnIf(cut, reply{"channel": ch, "ts": m.TS, "message": s.messageObject(m)}), nil
}

// warnIf adds Slack's truncation warning to out if cut is set.
func warnIf(cut bool, out reply) reply {
	if cut {
		out["warning"] = "message_truncated"
		out["response_metadata"] = truncationWarning
	}
	return out
}

func (s *Server) chatPostEphemeral(p params) (reply, error) {
	ch, err := s.resolveChannel(p["channel"])
	if err != nil {
		return nil, err
	}
	user := p["user"]
	if _, ok := s.users[user]; !ok {
		return nil, errCode("user_not_found")
	}
	if dmUser, ok := s.dmUsers[ch]; ok && dmUser != user {
		return nil, errCode("user_not_in_channel")
	}
	text, blocks, atts := p["text"], json.RawMessage(p["blocks"]), json.RawMessage(p["attachments"])
	if err := messageError(text, blocks, atts); err != nil {
		return nil, err
	}
	text, cut := truncateText(text)
	m := s.postEphemeral(Message{
		Channel:     ch,
		ThreadTS:    p["thread_ts"],
		Text:        text,
		Blocks:      compact(blocks),
		Attachments: compact(atts),
		Source:      "chat.postEphemeral",
	}, user)
	return warnIf(cut, reply{"message_ts": m.TS}), nil
}

// editable returns the bot's message at ts in ch, which must be a channel or
// DM ID (not a user ID). The caller holds s.mu.
func (s *Server) editable(ch, ts string, cant string) (*record, error) {
	_, public := s.channels[ch]
	_, dm := s.dmUsers[ch]
	if !public && !dm {
		return nil, errCode("channel_not_found")
	}
	r := s.find(ch, ts)
	if r == nil || r.cur.Deleted {
		return nil, errCode("message_not_found")
	}
	if r.cur.BotID != s.cfg.botID {
		return nil, errCode(cant)
	}
	return r, nil
}

func (s *Server) chatUpdate(p params) (reply, error) {
	r, err := s.editable(p["channel"], p["ts"], "cant_update_message")
	if err != nil {
		return nil, err
	}
	text, blocks, atts := p["text"], json.RawMessage(p["blocks"]), json.RawMessage(p["attachments"])
	if n := utf8.RuneCountInString(text); n > maxUpdateText {
		return nil, &apiError{code: "msg_too_long", detail: fmt.Sprintf("text is %d characters; the limit is %d", n, maxUpdateText)}
	}
	if err := messageError(text, blocks, atts); err != nil {
		return nil, err
	}
	s.edit(r, text, compact(blocks), compact(atts))
	return reply{"channel": r.cur.Channel, "ts": r.cur.TS, "text": text, "message": s.messageObject(r.cur)}, nil
}

func (s *Server) chatDelete(p params) (reply, error) {
	r, err := s.editable(p["channel"], p["ts"], "cant_delete_message")
	if err != nil {
		return nil, err
	}
	s.remove(r)
	return reply{"channel": r.cur.Channel, "ts": r.cur.TS}, nil
}

// conversationsOpen opens DMs. Group DMs (several users) are not supported.
func (s *Server) conversationsOpen(p params) (reply, error) {
	if ch := p["channel"]; ch != "" {
		if _, ok := s.dmUsers[ch]; !ok {
			return nil, errCode("channel_not_found")
		}
		return reply{"channel": reply{"id": ch}}, nil
	}
	var users []string
	for u := range strings.SplitSeq(p["users"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	switch {
	case len(users) == 0:
		return nil, errCode("users_list_not_supplied")
	case len(users) > 8:
		return nil, errCode("too_many_users")
	case len(users) > 1:
		return nil, &apiError{code: "not_supported", detail: "fakeslack supports 1:1 DMs only"}
	}
	// user_disabled is documented for a deactivated user; cannot_dm_bot is
	// not in the method's error table but is what Slack answers a bot
	// token asking for a DM with a bot user: public clients special-case
	// it right after conversations.open and im.open.
	u, ok := s.users[users[0]]
	switch {
	case !ok:
		return nil, errCode("user_not_found")
	case u.Deleted:
		return nil, errCode("user_disabled")
	case u.IsBot:
		return nil, errCode("cannot_dm_bot")
	}
	_, existed := s.dms[u.ID]
	d := s.dmFor(u.ID)
	if !isTrue(p["return_im"]) {
		return reply{"channel": reply{"id": d}}, nil
	}
	return reply{
		"no_op":        existed,
		"already_open": existed,
		"channel": reply{
			"id": d, "created": 1700000000, "is_im": true, "is_org_shared": false,
			"user": u.ID, "last_read": "0000000000.000000", "latest": nil,
			"unread_count": 0, "unread_count_display": 0, "is_open": true, "priority": 0,
		},
	}, nil
}

func (s *Server) usersInfo(p params) (reply, error) {
	if p["user"] == "" && p["users"] != "" {
		var list []reply
		for id := range strings.SplitSeq(p["users"], ",") {
			u, ok := s.users[strings.TrimSpace(id)]
			if !ok {
				return nil, errCode("user_not_found")
			}
			list = append(list, s.userObject(u))
		}
		return reply{"users": list}, nil
	}
	u, ok := s.users[p["user"]]
	if !ok {
		return nil, errCode("user_not_found")
	}
	return reply{"user": s.userObject(u)}, nil
}

// userObject is a user as users.info returns it.
func (s *Server) userObject(u User) reply {
	label, offset := u.TZ, 0
	if loc, err := time.LoadLocation(u.TZ); err == nil {
		label, offset = time.Now().In(loc).Zone()
	}
	profile := reply{
		"real_name": u.RealName, "real_name_normalized": u.RealName,
		"display_name": u.Name, "display_name_normalized": u.Name,
		"team": s.cfg.teamID,
	}
	if u.Email != "" {
		profile["email"] = u.Email
	}
	if u.IsBot {
		profile["bot_id"] = s.cfg.botID
	}
	o := reply{
		"id": u.ID, "team_id": s.cfg.teamID, "name": u.Name, "deleted": u.Deleted,
		"color": "9f69e7", "real_name": u.RealName,
		"tz": u.TZ, "tz_label": label, "tz_offset": offset,
		"profile":  profile,
		"is_admin": false, "is_owner": false, "is_primary_owner": false,
		"is_restricted": false, "is_ultra_restricted": false,
		"is_bot": u.IsBot, "is_app_user": false, "updated": 1700000000,
		"locale": "en-US",
	}
	return o
}
