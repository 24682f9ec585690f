package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxEventRetries is how often Slack redelivers an event: "up to 3 times".
const maxEventRetries = 3

// Event is an Events API event for SendEvent.
type Event struct {
	// ID is the event_id; "Ev" and random characters if empty. Every
	// delivery of the event carries it, so apps dedupe on it.
	ID string
	// Time is the event_time; now if zero.
	Time time.Time
	// Inner is the "event" object, with at least a "type".
	Inner json.RawMessage
}

// EventDelivery is one delivery of an events_api envelope.
type EventDelivery struct {
	EnvelopeID string
	// RetryAttempt and RetryReason are as sent: 0 and "" the first time,
	// then 1, 2, 3 and "timeout".
	RetryAttempt int
	RetryReason  string
	At           time.Time
	// Err is nil if the app acked the envelope, else ErrNoAck,
	// ErrAckTooLarge or ErrNotConnected.
	Err error
}

// eventState is the delivery history of one event.
type eventState struct {
	deliveries []EventDelivery
	settled    bool // acked, dropped, or out of retries
}

// WithEventRetries turns on redelivery of events_api envelopes that are not
// acked in time, after each of delays in turn (at most 3), with
// retry_attempt 1, 2, 3 and retry_reason "timeout" as Slack documents for
// Events API retries ("nearly immediately", then after 1 minute and after 5
// minutes; https://docs.slack.dev/apis/events-api, "Retries"). Each
// redelivery is a new envelope with a new envelope_id and the same
// event_id. Retries are off by default. A redelivery that finds no
// connection open is dropped and ends the retries, as Slack drops events
// while an app is disconnected.
func WithEventRetries(delays ...time.Duration) Option {
	return func(c *config) {
		c.eventRetries = append([]time.Duration(nil), delays[:min(len(delays), maxEventRetries)]...)
	}
}

// eventCallback is the Events API wrapper, the payload of an events_api
// envelope.
type eventCallback struct {
	Token              string               `json:"token"`
	TeamID             string               `json:"team_id"`
	APIAppID           string               `json:"api_app_id"`
	Event              json.RawMessage      `json:"event"`
	Type               string               `json:"type"`
	EventID            string               `json:"event_id"`
	EventTime          int64                `json:"event_time"`
	Authorizations     []eventAuthorization `json:"authorizations"`
	IsExtSharedChannel bool                 `json:"is_ext_shared_channel"`
	EventContext       string               `json:"event_context"`
}

type eventAuthorization struct {
	EnterpriseID        *string `json:"enterprise_id"`
	TeamID              string  `json:"team_id"`
	UserID              string  `json:"user_id"`
	IsBot               bool    `json:"is_bot"`
	IsEnterpriseInstall bool    `json:"is_enterprise_install"`
}

// SendEvent delivers e in an events_api envelope, inside the event_callback
// wrapper (token, team_id, api_app_id, event, type, event_id, event_time,
// authorizations for the bot user, is_ext_shared_channel, event_context),
// with accepts_response_payload false, retry_attempt 0 and retry_reason "".
// It waits for the first delivery's ack and returns it with Ack.EventID
// set; errors are Send's. If the envelope is not acked and WithEventRetries
// is set, redeliveries follow in the background: see EventDeliveries and
// WaitEvent.
func (s *Server) SendEvent(ctx context.Context, e Event) (Ack, error) {
	var inner struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
	}
	if err := json.Unmarshal(e.Inner, &inner); err != nil || inner.Type == "" {
		return Ack{}, fmt.Errorf("fakeslack: event must be a JSON object with a type: %.100s", e.Inner)
	}
	if e.ID == "" {
		e.ID = "Ev" + strings.ToUpper(randHex(5))
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := json.Marshal(eventCallback{
		Token:    verificationToken,
		TeamID:   s.cfg.teamID,
		APIAppID: s.cfg.appID,
		Event:    e.Inner,
		Type:     "event_callback",
		EventID:  e.ID,
		Authorizations: []eventAuthorization{{
			TeamID: s.cfg.teamID, UserID: s.cfg.botUserID, IsBot: true,
		}},
		EventTime:    e.Time.Unix(),
		EventContext: fmt.Sprintf("1-%s-%s-%s", inner.Type, s.cfg.teamID, inner.Channel),
	})
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode event: %w", err)
	}

	s.mu.Lock()
	st := &eventState{}
	s.events[e.ID] = st
	s.mu.Unlock()
	ack, err := s.deliverEvent(ctx, e.ID, b, 0, "")
	ack.EventID = e.ID
	if !unacked(err) || len(s.cfg.eventRetries) == 0 {
		s.settle(st)
		return ack, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ack, err
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.retryEvent(st, e.ID, b)
	return ack, err
}

// retryEvent redelivers an unacked event after each configured delay until
// it is acked, dropped or out of retries.
func (s *Server) retryEvent(st *eventState, id string, payload []byte) {
	defer s.wg.Done()
	defer s.settle(st)
	for i, d := range s.cfg.eventRetries {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
		if _, err := s.deliverEvent(context.Background(), id, payload, i+1, "timeout"); !unacked(err) {
			return
		}
	}
}

// deliverEvent sends one events_api envelope and records the delivery.
func (s *Server) deliverEvent(ctx context.Context, id string, payload []byte, attempt int, reason string) (Ack, error) {
	envID := newUUID()
	at := time.Now()
	ack, err := s.Send(ctx, Envelope{ID: envID, Type: "events_api", Payload: payload, RetryAttempt: attempt, RetryReason: reason})
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ack, err
	}
	s.mu.Lock()
	if st := s.events[id]; st != nil {
		st.deliveries = append(st.deliveries, EventDelivery{
			EnvelopeID: envID, RetryAttempt: attempt, RetryReason: reason, At: at, Err: err,
		})
	}
	s.notify()
	s.mu.Unlock()
	return ack, err
}

// unacked reports whether a delivery failed for want of a usable ack, the
// case Slack retries.
func unacked(err error) bool {
	return errors.Is(err, ErrNoAck) || errors.Is(err, ErrAckTooLarge)
}

func (s *Server) settle(st *eventState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.settled = true
	s.notify()
}

// EventDeliveries returns the deliveries of the event with eventID so far,
// oldest first.
func (s *Server) EventDeliveries(eventID string) []EventDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.events[eventID]; st != nil {
		return append([]EventDelivery(nil), st.deliveries...)
	}
	return nil
}

// WaitEvent waits until the event with eventID is settled, acked, dropped
// or out of retries, and returns its deliveries.
func (s *Server) WaitEvent(ctx context.Context, eventID string) ([]EventDelivery, error) {
	err := s.wait(ctx, func() bool {
		st := s.events[eventID]
		return st != nil && st.settled
	})
	if err != nil {
		return s.EventDeliveries(eventID), fmt.Errorf("fakeslack: event %s not settled: %w", eventID, err)
	}
	return s.EventDeliveries(eventID), nil
}

// appHomeOpened is the app_home_opened event, fields in the order of
// Slack's example.
type appHomeOpened struct {
	Type    string         `json:"type"`
	User    string         `json:"user"`
	Channel string         `json:"channel"`
	EventTS string         `json:"event_ts"`
	Tab     string         `json:"tab"`
	View    map[string]any `json:"view,omitempty"`
}

// AppHomeOpened sends the app_home_opened event Slack sends when user opens
// the app's App Home on tab "home" or "messages" ("home" if empty), and
// waits for the ack, as SendEvent. The event's channel is the user's DM
// with the bot, which the fake opens if needed. On the Home tab the event
// carries the view last published for the user, if any; Slack sends a view
// only then.
func (s *Server) AppHomeOpened(ctx context.Context, user, tab string) (Ack, error) {
	if tab == "" {
		tab = "home"
	}
	s.mu.Lock()
	ev := appHomeOpened{Type: "app_home_opened", User: user, Channel: s.dmFor(user), EventTS: s.nextTS(), Tab: tab}
	if v := s.homes[user]; v != nil && tab == "home" {
		ev.View = cloneJSON(v.obj)
	}
	s.mu.Unlock()
	b, err := json.Marshal(ev)
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode app_home_opened: %w", err)
	}
	return s.SendEvent(ctx, Event{Inner: b})
}
