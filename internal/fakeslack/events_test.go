package fakeslack_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// eventSeen is an events_api envelope as the bot saw it.
type eventSeen struct {
	req   socketmode.Request
	event slackevents.EventsAPIEvent
}

// runEventBot runs a bot that passes each events_api envelope to seen and
// acks it if ack says so.
func runEventBot(t *testing.T, srv *fakeslack.Server, ack func(socketmode.Request) bool) (*slack.Client, <-chan eventSeen) {
	t.Helper()
	seen := make(chan eventSeen, 10)
	api, _ := runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeEventsAPI {
			sm.Ack(*evt.Request)
			return
		}
		seen <- eventSeen{req: *evt.Request, event: evt.Data.(slackevents.EventsAPIEvent)}
		if ack == nil || ack(*evt.Request) {
			sm.Ack(*evt.Request)
		}
	})
	waitConnected(t, srv, 1)
	return api, seen
}

func TestSendEvent(t *testing.T) {
	srv := fakeslack.New(t)
	_, seen := runEventBot(t, srv, nil)
	inner := json.RawMessage(`{"type":"app_mention","user":"U_REQ","text":"<@U_BOT> status","ts":"1700000000.000100","channel":"C_GENERAL","event_ts":"1700000000.000100"}`)
	at := time.Unix(1700000000, 0)
	ack, err := srv.SendEvent(testCtx(t), fakeslack.Event{ID: "Ev0001", Time: at, Inner: inner})
	if err != nil {
		t.Fatal(err)
	}
	if ack.EventID != "Ev0001" || ack.Payload != nil {
		t.Errorf("ack = %+v; want event Ev0001 without payload", ack)
	}
	got := <-seen
	if got.req.Type != "events_api" || got.req.AcceptsResponsePayload || got.req.RetryAttempt != 0 || got.req.RetryReason != "" {
		t.Errorf("envelope = %+v; want events_api, accepts_response_payload false, retry 0 \"\"", got.req)
	}
	ev := got.event
	if ev.Type != slackevents.CallbackEvent || ev.TeamID != srv.TeamID() || ev.APIAppID != srv.AppID() || ev.Token == "" {
		t.Errorf("event = %+v; want event_callback for the team and app", ev)
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		t.Fatalf("event data is %T; want *slackevents.EventsAPICallbackEvent", ev.Data)
	}
	if cb.EventID != "Ev0001" || cb.EventTime != int(at.Unix()) || len(cb.Authorizations) != 1 ||
		cb.Authorizations[0].UserID != srv.BotUserID() || !cb.Authorizations[0].IsBot || cb.Authorizations[0].TeamID != srv.TeamID() {
		t.Errorf("wrapper = %+v; want event_id, event_time and the bot's authorization", cb)
	}
	m, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || m.User != "U_REQ" || m.Channel != "C_GENERAL" {
		t.Errorf("inner event = %#v; want the app_mention", ev.InnerEvent.Data)
	}
	if d := srv.EventDeliveries("Ev0001"); len(d) != 1 || d[0].Err != nil || d[0].EnvelopeID != ack.EnvelopeID {
		t.Errorf("deliveries = %+v; want one acked", d)
	}

	if _, err := srv.SendEvent(testCtx(t), fakeslack.Event{Inner: json.RawMessage(`{"user":"U_REQ"}`)}); err == nil {
		t.Error("event without a type: no error; want one")
	}
}

func TestAppHomeOpened(t *testing.T) {
	srv := fakeslack.New(t)
	api, seen := runEventBot(t, srv, nil)
	opened := func(tab string) *slackevents.AppHomeOpenedEvent {
		t.Helper()
		if _, err := srv.AppHomeOpened(testCtx(t), "U_REQ", tab); err != nil {
			t.Fatal(err)
		}
		got := <-seen
		ev, ok := got.event.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
		if !ok {
			t.Fatalf("inner event is %T; want *slackevents.AppHomeOpenedEvent", got.event.InnerEvent.Data)
		}
		return ev
	}

	ev := opened("")
	if ev.User != "U_REQ" || ev.Tab != "home" || ev.Channel != srv.DMChannel("U_REQ") || ev.Channel == "" || ev.EventTimeStamp == "" || ev.View != nil {
		t.Errorf("first open = %+v; want home tab in the user's DM, no view", ev)
	}
	resp, err := api.PublishView("U_REQ", homeView("Your access"), "")
	if err != nil {
		t.Fatal(err)
	}
	ev = opened("home")
	if ev.View == nil || ev.View.ID != resp.View.ID || ev.View.Type != slack.VTHomeTab || ev.View.Hash != resp.View.Hash {
		t.Errorf("open after publish: view = %+v; want the published view %s", ev.View, resp.View.ID)
	}
	if ev := opened("messages"); ev.Tab != "messages" || ev.View != nil {
		t.Errorf("messages tab = %+v; want no view", ev)
	}
}

func TestEventRetries(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithAckTimeout(100*time.Millisecond),
		fakeslack.WithEventRetries(20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond))
	_, seen := runEventBot(t, srv, func(r socketmode.Request) bool { return r.RetryAttempt >= 2 })

	ack, err := srv.AppHomeOpened(testCtx(t), "U_REQ", "home")
	if !errors.Is(err, fakeslack.ErrNoAck) {
		t.Fatalf("first delivery: err = %v; want ErrNoAck", err)
	}
	d, err := srv.WaitEvent(testCtx(t), ack.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 3 {
		t.Fatalf("deliveries = %+v; want 3", d)
	}
	wantDelay := []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond}
	envelopes := map[string]bool{}
	for i, x := range d {
		reason := map[bool]string{true: "", false: "timeout"}[i == 0]
		if x.RetryAttempt != i || x.RetryReason != reason {
			t.Errorf("delivery %d: retry %d %q; want %d %q", i, x.RetryAttempt, x.RetryReason, i, reason)
		}
		if wantErr := i < 2; (x.Err != nil) != wantErr {
			t.Errorf("delivery %d: err = %v; want failed %v", i, x.Err, wantErr)
		}
		if i > 0 {
			// Each retry follows the ack timeout of the one before and its delay.
			if gap := x.At.Sub(d[i-1].At); gap < 100*time.Millisecond+wantDelay[i] {
				t.Errorf("delivery %d came %v after the one before; want at least %v", i, gap, 100*time.Millisecond+wantDelay[i])
			}
		}
		envelopes[x.EnvelopeID] = true
	}
	if len(envelopes) != 3 {
		t.Errorf("envelope IDs %v; want a new one per delivery", envelopes)
	}
	// The bot saw the same event_id three times (seen holds up to 10).
	for i := range 3 {
		s := <-seen
		if id := s.event.Data.(*slackevents.EventsAPICallbackEvent).EventID; id != ack.EventID || s.req.RetryAttempt != i {
			t.Errorf("envelope %d: event_id %s, retry %d; want %s, %d", i, id, s.req.RetryAttempt, ack.EventID, i)
		}
	}
}

func TestEventRetriesExhaustedAndOff(t *testing.T) {
	never := func(socketmode.Request) bool { return false }
	srv := fakeslack.New(t, fakeslack.WithAckTimeout(50*time.Millisecond), fakeslack.WithEventRetries(0, 0, 0, 0))
	runEventBot(t, srv, never)
	ack, _ := srv.SendEvent(testCtx(t), fakeslack.Event{Inner: json.RawMessage(`{"type":"app_home_opened","user":"U_REQ","tab":"messages"}`)})
	d, err := srv.WaitEvent(testCtx(t), ack.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 4 || d[3].RetryAttempt != 3 || !errors.Is(d[3].Err, fakeslack.ErrNoAck) {
		t.Errorf("deliveries = %+v; want 4, the last retry 3 unacked", d)
	}

	off := fakeslack.New(t, fakeslack.WithAckTimeout(50*time.Millisecond))
	runEventBot(t, off, never)
	ack, _ = off.SendEvent(testCtx(t), fakeslack.Event{Inner: json.RawMessage(`{"type":"app_home_opened","user":"U_REQ","tab":"messages"}`)})
	if d, err := off.WaitEvent(testCtx(t), ack.EventID); err != nil || len(d) != 1 {
		t.Errorf("retries off: deliveries = %+v, %v; want 1", d, err)
	}
}
