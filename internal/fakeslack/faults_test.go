package fakeslack_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func TestChannelFaults(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	post := func(channel string) error {
		_, _, err := api.PostMessage(channel, slack.MsgOptionText("x", false))
		return err
	}

	srv.FailAlways("chat.postMessage", fakeslack.Fault{Error: "is_archived", Channel: "C_GENERAL"})
	for range 2 {
		if err := post("C_GENERAL"); slackErr(err) != "is_archived" {
			t.Errorf("post to C_GENERAL: err = %v; want is_archived", err)
		}
		if err := post("C_APPROVALS"); err != nil {
			t.Errorf("post to C_APPROVALS: %v; want no fault", err)
		}
	}

	// A fault on a user catches the user's DM, whichever ID names it, and
	// other users' DMs pass it by without using it up.
	dm, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U_REQ"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext("chat.postMessage", fakeslack.Fault{Error: "channel_not_found", Channel: "U_REQ", Count: 2})
	if err := post("U_APP1"); err != nil {
		t.Errorf("post to U_APP1: %v; want no fault", err)
	}
	if err := post(dm.ID); slackErr(err) != "channel_not_found" {
		t.Errorf("post to %s: err = %v; want channel_not_found", dm.ID, err)
	}
	if err := post("U_REQ"); slackErr(err) != "channel_not_found" {
		t.Errorf("post to U_REQ: err = %v; want channel_not_found", err)
	}
	if err := post("U_REQ"); err != nil {
		t.Errorf("third post to U_REQ: %v; want the fault used up", err)
	}

	// A fault on a DM that is not open yet catches conversations.open of
	// its user.
	srv.FailNext("conversations.open", fakeslack.Fault{Error: "user_disabled", Channel: fakeslack.DMOf("U_APP2")})
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U_OTHER"}}); err != nil {
		t.Errorf("open DM with U_OTHER: %v; want no fault", err)
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U_APP2"}}); slackErr(err) != "user_disabled" {
		t.Errorf("open DM with U_APP2: err = %v; want user_disabled", err)
	}
}

// TestRateLimitsPerMethodAndChannel checks that 429s can be aimed at one
// channel's chat.postMessage and, independently, at another method, as
// Slack's limits are per method and, for chat.postMessage, per channel.
func TestRateLimitsPerMethodAndChannel(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	srv.FailNext("chat.postMessage", fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3, Channel: "C_APPROVALS"})
	srv.FailNext("users.info", fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: 5})

	if _, _, err := api.PostMessage("C_GENERAL", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("post to C_GENERAL: %v; want no limit", err)
	}
	var rle *slack.RateLimitedError
	if _, err := api.GetUserInfo("U_REQ"); !errors.As(err, &rle) || rle.RetryAfter != 5*time.Second {
		t.Errorf("users.info: err = %v; want *slack.RateLimitedError after 5s", err)
	}
	if _, _, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("x", false)); !errors.As(err, &rle) || rle.RetryAfter != 3*time.Second {
		t.Errorf("post to C_APPROVALS: err = %v; want *slack.RateLimitedError after 3s", err)
	}
	if _, _, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("second post to C_APPROVALS: %v; want the fault used up", err)
	}
	if _, err := api.GetUserInfo("U_REQ"); err != nil {
		t.Errorf("second users.info: %v; want the fault used up", err)
	}
	for method, want := range map[string]int{"chat.postMessage": 1, "users.info": 1} {
		if got := srv.RateLimited(method); got != want {
			t.Errorf("RateLimited(%s) = %d; want %d", method, got, want)
		}
	}
}

func TestFaultFor(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	srv.FailAlways("auth.test", fakeslack.Fault{Error: "fatal_error", For: 100 * time.Millisecond})
	if _, err := api.AuthTest(); slackErr(err) != "fatal_error" {
		t.Errorf("within For: err = %v; want fatal_error", err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("after For: %v; want the fault gone", err)
	}
}

func TestFaultDrop(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	srv.FailNext("auth.test", fakeslack.Fault{Drop: true})
	_, err := api.AuthTest()
	var sce slack.StatusCodeError
	var ser slack.SlackErrorResponse
	if err == nil || errors.As(err, &sce) || errors.As(err, &ser) {
		t.Errorf("dropped call: err = %#v; want a transport error", err)
	}
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("after the drop: %v", err)
	}
}

// TestConnectionsRefusedForAWhile has apps.connections.open answer 503, as
// Slack does when it is down, then accept again, and measures the client's
// backoff from the attempt times.
func TestConnectionsRefusedForAWhile(t *testing.T) {
	for _, f := range []fakeslack.Fault{
		{Status: http.StatusServiceUnavailable, For: 500 * time.Millisecond},
		{Drop: true, For: 500 * time.Millisecond},
	} {
		srv := fakeslack.New(t)
		srv.FailAlways("apps.connections.open", f)
		start := time.Now()
		runBot(t, srv, ackAll)
		waitConnected(t, srv, 1)

		times := srv.CallTimes("apps.connections.open")
		if len(times) < 3 {
			t.Fatalf("fault %+v: %d attempts; want at least 3 (2 refused, 1 accepted)", f, len(times))
		}
		if got, want := srv.ConnectCount(), 1; got != want {
			t.Errorf("fault %+v: ConnectCount = %d; want %d", f, got, want)
		}
		last := times[len(times)-1]
		if d := last.Sub(start); d < 500*time.Millisecond {
			t.Errorf("fault %+v: accepted after %v; want after the 500ms refusal", f, d)
		}
		// slack-go doubles its wait after each failure.
		for i := 2; i < len(times); i++ {
			if prev, gap := times[i-1].Sub(times[i-2]), times[i].Sub(times[i-1]); gap <= prev {
				t.Errorf("fault %+v: gap %d is %v after %v; want growing backoff", f, i, gap, prev)
			}
		}
	}
}

// TestChannelFaultOnResponseURL checks that a response URL counts as naming
// the channel of the interaction that issued it.
func TestChannelFaultOnResponseURL(t *testing.T) {
	srv := fakeslack.New(t)
	urls := make(chan string, 2)
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		urls <- evt.Data.(slack.SlashCommand).ResponseURL
	})
	waitConnected(t, srv, 1)
	srv.FailAlways("response_url", fakeslack.Fault{Status: http.StatusNotFound, Error: "no_service", Channel: "C_GENERAL"})
	for _, ch := range []string{"C_APPROVALS", "C_GENERAL"} {
		if _, err := srv.Command(testCtx(t), fakeslack.Command{User: "U_REQ", Channel: ch}); err != nil {
			t.Fatal(err)
		}
	}
	api := newAPI(srv)
	reply := func(u string) error {
		_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(u, slack.ResponseTypeInChannel), slack.MsgOptionText("done", false))
		return err
	}
	if err := reply(<-urls); err != nil {
		t.Errorf("response URL from C_APPROVALS: %v; want no fault", err)
	}
	if err := reply(<-urls); err == nil {
		t.Error("response URL from C_GENERAL: no error; want the fault")
	}
}
