package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// maxAckSize is the size at which Slack silently drops a Socket Mode ack.
const maxAckSize = 20 * 1024

// writeWait bounds every write to a WebSocket.
const writeWait = 5 * time.Second

// conn is one Socket Mode WebSocket connection.
type conn struct {
	id   int
	ws   *websocket.Conn
	done chan struct{} // closed when the read loop ends

	wmu sync.Mutex // serialises data frames; control frames need no lock

	// Guarded by Server.mu.
	live     bool                      // hello sent and no disconnect sent
	draining bool                      // told to disconnect, or dropped
	pongs    map[string]chan time.Time // RTT pings waiting for their pong
}

// writeText writes one text frame and returns the time the write started.
// Taking the time after the write instead would let a fast ack be read
// (by another goroutine) before the writer gets to note the time.
func (c *conn) writeText(b []byte) (time.Time, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	start := time.Now()
	err := c.ws.WriteMessage(websocket.TextMessage, b)
	return start, err
}

// pending is an envelope waiting for its ack.
type pending struct {
	conn int
	done chan ackFrame // buffered
}

// ackFrame is an ack as read from a connection.
type ackFrame struct {
	payload json.RawMessage
	at      time.Time
	err     error
}

var upgrader = websocket.Upgrader{
	// slack-go sends "Origin: https://api.slack.com", which is not our host.
	CheckOrigin: func(*http.Request) bool { return true },
}

// connectionsOpen serves apps.connections.open. The app-level token must come
// in the Authorization header; Slack rejects it as a POST parameter.
func (s *Server) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	revoked := s.appTokenErr
	s.mu.Unlock()
	switch {
	case !ok || tok == "":
		writeError(w, "not_authed")
		return
	case tok != s.cfg.appToken:
		writeError(w, "invalid_auth")
		return
	case revoked != "":
		writeError(w, revoked)
		return
	}
	ticket := newUUID()
	s.mu.Lock()
	s.tickets[ticket] = time.Now()
	s.connectCount++
	s.notify()
	s.mu.Unlock()
	q := url.Values{"ticket": {ticket}, "app_id": {s.cfg.appID}}
	link := "ws://" + s.http.Listener.Addr().String() + "/link/?" + q.Encode()
	writeJSON(w, http.StatusOK, reply{"ok": true, "url": link})
}

// serveLink accepts a WebSocket dialled with a ticket from apps.connections.open.
func (s *Server) serveLink(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	_, ok := s.tickets[ticket]
	delete(s.tickets, ticket)
	if !ok {
		s.protoErr("websocket dialled with unknown or used ticket %q", ticket)
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("fakeslack: websocket upgrade: %v", err)
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.nextConnID++
	c := &conn{id: s.nextConnID, ws: ws, done: make(chan struct{}), pongs: make(map[string]chan time.Time)}
	open := 0
	for _, x := range s.conns {
		if !x.draining {
			open++
		}
	}
	if open >= s.cfg.maxConns {
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		s.refuse(c, open)
		return
	}
	s.conns = append(s.conns, c)
	s.wg.Add(2) // this handler and the pinger
	s.mu.Unlock()
	defer s.wg.Done()

	ws.SetPongHandler(func(p string) error {
		s.onPong(c, p, time.Now())
		return nil
	})
	go s.pinger(c)

	hello, _ := json.Marshal(helloFrame{
		Type:           "hello",
		NumConnections: open + 1,
		DebugInfo: debugInfo{
			Host:                      fmt.Sprintf("applink-fakeslack-%d", c.id),
			BuildNumber:               1,
			ApproximateConnectionTime: 18060,
		},
		ConnectionInfo: connectionInfo{AppID: s.cfg.appID},
	})
	// Go live while holding the write lock, so that envelopes queue behind
	// hello and a client that has read hello finds the connection live.
	c.wmu.Lock()
	s.mu.Lock()
	c.live = true
	s.notify()
	s.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	err = c.ws.WriteMessage(websocket.TextMessage, hello)
	c.wmu.Unlock()
	if err != nil {
		s.logf("fakeslack: conn %d: write hello: %v", c.id, err)
		s.dropConn(c)
		return
	}
	s.logf("fakeslack: conn %d: open (%d open)", c.id, open+1)
	s.readLoop(c)
}

// refuse tells an 11th connection to go away, as Slack does.
func (s *Server) refuse(c *conn, open int) {
	s.logf("fakeslack: conn %d: refused, %d connections open", c.id, open)
	b, _ := json.Marshal(disconnectFrame{
		Type:           "disconnect",
		Reason:         "too_many_websockets",
		NumConnections: open,
		DebugInfo:      debugInfo{Host: fmt.Sprintf("applink-fakeslack-%d", c.id)},
		ConnectionInfo: &connectionInfo{AppID: s.cfg.appID},
	})
	c.writeText(b)
	// Give the client a moment to read the frame and hang up itself.
	c.ws.SetReadDeadline(time.Now().Add(s.cfg.grace))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			break
		}
	}
	c.ws.Close()
}

// liveCount returns the number of connections that may receive envelopes.
// The caller holds s.mu.
func (s *Server) liveCount() int {
	n := 0
	for _, c := range s.conns {
		if c.live {
			n++
		}
	}
	return n
}

// pickConn returns the next live connection, round robin, or nil. The caller
// holds s.mu.
func (s *Server) pickConn() *conn {
	var live []*conn
	for _, c := range s.conns {
		if c.live {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return nil
	}
	s.rr++
	return live[s.rr%len(live)]
}

func (s *Server) pinger(c *conn) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		stopped := s.stopPing
		s.pingSeq++
		payload := fmt.Sprintf("ping-%d", s.pingSeq)
		s.mu.Unlock()
		if stopped {
			continue
		}
		if err := c.ws.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(writeWait)); err != nil {
			s.logf("fakeslack: conn %d: ping: %v", c.id, err)
		}
	}
}

func (s *Server) onPong(c *conn, payload string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := c.pongs[payload]; ok {
		delete(c.pongs, payload)
		ch <- at
	}
}

func (s *Server) readLoop(c *conn) {
	defer s.dropConn(c)
	for {
		typ, data, err := c.ws.ReadMessage()
		at := time.Now()
		if err != nil {
			s.logf("fakeslack: conn %d: closed: %v", c.id, err)
			return
		}
		s.handleFrame(c, typ, data, at)
	}
}

// dropConn forgets a connection whose read loop ended.
func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
			break
		}
	}
	c.live = false
	s.notify()
	s.mu.Unlock()
	close(c.done)
	c.ws.Close()
}

// handleFrame matches a frame from the app to the envelope it acks.
func (s *Server) handleFrame(c *conn, typ int, data []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ != websocket.TextMessage {
		s.protoErr("conn %d: non-text frame (type %d, %d bytes)", c.id, typ, len(data))
		return
	}
	var ack struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		s.protoErr("conn %d: frame is not a JSON ack: %v: %.200s", c.id, err, data)
		return
	}
	if ack.EnvelopeID == "" {
		s.protoErr("conn %d: frame without envelope_id: %.200s", c.id, data)
		return
	}
	if len(data) >= maxAckSize {
		s.protoErr("conn %d: ack for %s is %d bytes; Slack drops acks of 20 KB or more", c.id, ack.EnvelopeID, len(data))
		if p := s.popPending(ack.EnvelopeID); p != nil {
			p.done <- ackFrame{at: at, err: ErrAckTooLarge}
		}
		return
	}
	p := s.popPending(ack.EnvelopeID)
	if p == nil {
		if s.lateAcks[ack.EnvelopeID] {
			s.protoErr("conn %d: late ack for %s, after the ack timeout", c.id, ack.EnvelopeID)
		} else {
			s.protoErr("conn %d: ack for unknown or already acknowledged envelope %s", c.id, ack.EnvelopeID)
		}
		return
	}
	if string(ack.Payload) == "null" {
		ack.Payload = nil
	}
	p.done <- ackFrame{payload: ack.Payload, at: at}
}

// popPending removes and returns the oldest envelope waiting under id. The
// caller holds s.mu.
func (s *Server) popPending(id string) *pending {
	list := s.pending[id]
	if len(list) == 0 {
		return nil
	}
	p := list[0]
	if len(list) == 1 {
		delete(s.pending, id)
	} else {
		s.pending[id] = list[1:]
	}
	return p
}

// removePending forgets p and reports true if it is still waiting; false
// means its ack has been handed over. The caller holds s.mu.
func (s *Server) removePending(id string, p *pending) bool {
	list := s.pending[id]
	for i, x := range list {
		if x != p {
			continue
		}
		if list = append(list[:i:i], list[i+1:]...); len(list) == 0 {
			delete(s.pending, id)
		} else {
			s.pending[id] = list
		}
		return true
	}
	return false
}

// deliver writes frame to one live connection and, unless id is empty, waits
// for the ack of envelope id.
func (s *Server) deliver(ctx context.Context, id string, frame []byte) (Ack, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	c := s.pickConn()
	if c == nil {
		s.dropped++
		s.notify()
		s.mu.Unlock()
		return Ack{}, ErrNotConnected
	}
	p := &pending{conn: c.id, done: make(chan ackFrame, 1)}
	if id != "" {
		s.pending[id] = append(s.pending[id], p)
	}
	s.mu.Unlock()

	ack := Ack{EnvelopeID: id, ConnID: c.id}
	sent, err := c.writeText(frame)
	if err != nil {
		s.mu.Lock()
		s.removePending(id, p)
		s.mu.Unlock()
		return ack, fmt.Errorf("fakeslack: conn %d: write envelope: %w", c.id, err)
	}
	if id == "" {
		return ack, nil
	}

	timer := time.NewTimer(s.cfg.ackTimeout)
	defer timer.Stop()
	var f ackFrame
	select {
	case f = <-p.done:
	case <-timer.C:
		s.mu.Lock()
		if s.removePending(id, p) {
			s.unacked++
			s.lateAcks[id] = true
			s.notify()
			s.mu.Unlock()
			s.logf("fakeslack: envelope %s not acked within %v", id, s.cfg.ackTimeout)
			return ack, fmt.Errorf("%w (envelope %s, %v)", ErrNoAck, id, s.cfg.ackTimeout)
		}
		s.mu.Unlock()
		f = <-p.done // the ack came in just now
	case <-ctx.Done():
		s.mu.Lock()
		removed := s.removePending(id, p)
		s.mu.Unlock()
		if removed {
			return ack, ctx.Err()
		}
		f = <-p.done
	case <-s.done:
		return ack, ErrClosed
	}
	ack.Latency = max(f.at.Sub(sent), 0)
	ack.Payload = f.payload
	if f.err != nil {
		s.mu.Lock()
		s.unacked++
		s.notify()
		s.mu.Unlock()
		return ack, f.err
	}
	return ack, nil
}

// Ping sends a WebSocket PING with a unique payload on one live connection
// and returns the time until the matching PONG was read: the floor for ack
// latency.
func (s *Server) Ping(ctx context.Context) (time.Duration, error) {
	s.mu.Lock()
	c := s.pickConn()
	if c == nil {
		s.mu.Unlock()
		return 0, ErrNotConnected
	}
	s.pingSeq++
	payload := fmt.Sprintf("rtt-%d", s.pingSeq)
	ch := make(chan time.Time, 1)
	c.pongs[payload] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(c.pongs, payload)
		s.mu.Unlock()
	}()

	sent := time.Now()
	if err := c.ws.WriteControl(websocket.PingMessage, []byte(payload), sent.Add(writeWait)); err != nil {
		return 0, fmt.Errorf("fakeslack: conn %d: ping: %w", c.id, err)
	}
	select {
	case at := <-ch:
		return max(at.Sub(sent), 0), nil
	case <-c.done:
		return 0, fmt.Errorf("fakeslack: conn %d closed before pong", c.id)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Disconnect sends {"type":"disconnect","reason":reason} on every live
// connection, as Slack does before refreshing a connection ("warning",
// "refresh_requested") or when Socket Mode is turned off ("link_disabled").
// The connections get no more envelopes and are closed after the disconnect
// grace period unless the app hangs up first. It returns the number of
// connections told.
func (s *Server) Disconnect(reason string) int {
	s.mu.Lock()
	var told []*conn
	for _, c := range s.conns {
		if c.live {
			c.live, c.draining = false, true
			told = append(told, c)
		}
	}
	s.notify()
	s.mu.Unlock()
	for _, c := range told {
		b, _ := json.Marshal(disconnectFrame{
			Type:      "disconnect",
			Reason:    reason,
			DebugInfo: debugInfo{Host: fmt.Sprintf("applink-fakeslack-%d", c.id)},
		})
		if _, err := c.writeText(b); err != nil {
			s.logf("fakeslack: conn %d: write disconnect: %v", c.id, err)
		}
		time.AfterFunc(s.cfg.grace, func() { c.ws.Close() })
	}
	s.logf("fakeslack: disconnect %q sent to %d connections", reason, len(told))
	return len(told)
}

// DropConnections closes every connection's TCP socket without a close frame,
// like a network failure. It returns the number of connections dropped.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := append([]*conn(nil), s.conns...)
	for _, c := range conns {
		c.live, c.draining = false, true
	}
	s.notify()
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.NetConn().Close()
	}
	s.logf("fakeslack: dropped %d connections", len(conns))
	return len(conns)
}

// StopPinging stops (true) or resumes (false) the periodic WebSocket PINGs.
// slack-go reconnects when it sees no PING for its ping interval (30s by
// default).
func (s *Server) StopPinging(stop bool) {
	s.mu.Lock()
	s.stopPing = stop
	s.mu.Unlock()
}

// RevokeAppToken makes apps.connections.open answer {"ok":false,"error":code}
// (for example "invalid_auth", "token_revoked", "account_inactive"). An empty
// code restores the token. Open connections are left alone.
func (s *Server) RevokeAppToken(code string) {
	s.mu.Lock()
	s.appTokenErr = code
	s.mu.Unlock()
}

// RevokeBotToken makes every Web API call answer {"ok":false,"error":code}.
// An empty code restores the token.
func (s *Server) RevokeBotToken(code string) {
	s.mu.Lock()
	s.botTokenErr = code
	s.mu.Unlock()
}
