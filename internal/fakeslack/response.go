package fakeslack

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// responseURL is an issued response_url.
type responseURL struct {
	user      string
	channel   string
	messageTS string // the message whose button was clicked; "" for commands
	issued    time.Time
	uses      int
}

// replyMessage is a message posted to a response_url or returned in a
// slash command ack.
type replyMessage struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	ThreadTS        string          `json:"thread_ts"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
}

// issueResponseURL returns a new response_url for an interaction by user in
// channel, on the message at messageTS if any. The caller holds s.mu.
func (s *Server) issueResponseURL(user, channel, messageTS string) string {
	id := randHex(12)
	s.responses[id] = &responseURL{user: user, channel: channel, messageTS: messageTS, issued: time.Now()}
	return s.http.URL + "/response/" + id
}

// serveResponse serves POST /response/<id>. Slack answers a response_url
// with a plain-text "ok", which is what slack-go expects from a
// non-JSON answer. A response_url can be used 5 times within 30 minutes.
//
// A message with delete_original deletes the clicked message; with
// replace_original it replaces it; otherwise it is posted to the channel
// if response_type is "in_channel" and shown to the user alone if not.
func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	const method = "response_url"
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	s.mu.Lock()
	s.calls[method]++
	s.callTimes[method] = append(s.callTimes[method], time.Now())
	var channel string
	if ru := s.responses[id]; ru != nil {
		channel = ru.channel
	}
	f := s.takeFault(method, channel)
	s.notify()
	s.mu.Unlock()
	if f != nil && s.applyFault(w, r, method, f, true) {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method_not_allowed", http.StatusMethodNotAllowed)
		return
	}
	var m replyMessage
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		s.logf("fakeslack: response_url %s: invalid payload: %v", id, err)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	status, answer := s.respond(id, m)
	if status != http.StatusOK {
		s.logf("fakeslack: response_url %s: %d %s", id, status, answer)
		http.Error(w, answer, status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

// respond applies a response_url message and returns the HTTP status and
// answer.
func (s *Server) respond(id string, m replyMessage) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.responses[id]
	switch {
	case ru == nil:
		return http.StatusNotFound, "no_service"
	case time.Since(ru.issued) > s.cfg.responseTTL:
		return http.StatusNotFound, "expired_url"
	case ru.uses >= s.cfg.responseUses:
		return http.StatusNotFound, "used_url"
	}
	var orig *record
	if ru.messageTS != "" {
		orig = s.find(ru.channel, ru.messageTS)
		if orig != nil && orig.cur.Deleted {
			orig = nil
		}
	}
	if m.DeleteOriginal {
		ru.uses++
		if orig != nil {
			s.remove(orig)
		}
		return http.StatusOK, "ok"
	}
	if code, _ := checkMessage(m.Text, m.Blocks, m.Attachments); code != "" {
		return http.StatusBadRequest, code
	}
	ru.uses++
	text, _ := truncateText(m.Text) // no room for a warning in "ok"
	msg := Message{
		Channel:     ru.channel,
		ThreadTS:    m.ThreadTS,
		Text:        text,
		Blocks:      compact(m.Blocks),
		Attachments: compact(m.Attachments),
		Source:      "response_url",
	}
	switch {
	case m.ReplaceOriginal && orig != nil:
		s.edit(orig, msg.Text, msg.Blocks, msg.Attachments)
	case m.ResponseType == "in_channel":
		// A bad thread_ts posts at top level here: no error code is
		// documented for response URLs.
		msg.ThreadTS, _ = s.threadParent(msg.Channel, msg.ThreadTS)
		s.post(msg)
	default:
		s.postEphemeral(msg, ru.user)
	}
	return http.StatusOK, "ok"
}
