package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newAPI(srv *fakeslack.Server) *slack.Client {
	return slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken()))
}

// runBot runs a slack-go Socket Mode client against srv until the test ends
// and passes each slash command, interaction and event to handle, one at a
// time. It returns the client's Web API client and a channel that receives
// RunContext's error.
func runBot(t *testing.T, srv *fakeslack.Server, handle func(*socketmode.Client, socketmode.Event), opts ...socketmode.Option) (*slack.Client, <-chan error) {
	t.Helper()
	api := newAPI(srv)
	sm := socketmode.New(api, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { runErr <- sm.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				switch evt.Type {
				case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
					if handle != nil {
						handle(sm, evt)
					}
				}
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return api, runErr
}

func ackAll(sm *socketmode.Client, evt socketmode.Event) { sm.Ack(*evt.Request) }

func waitConnected(t *testing.T, srv *fakeslack.Server, n int) {
	t.Helper()
	if err := srv.WaitConnected(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
}

func slackErr(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	if err == nil {
		return ""
	}
	return "unexpected error type: " + err.Error()
}

func TestSlashCommandAckWithPayload(t *testing.T) {
	srv := fakeslack.New(t)
	cmds := make(chan slack.SlashCommand, 1)
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		cmds <- evt.Data.(slack.SlashCommand)
		sm.Ack(*evt.Request, map[string]any{"text": "got it"})
	})
	waitConnected(t, srv, 1)

	ack, err := srv.SlashCommand(testCtx(t), "U_REQ", "my-bucket <@U_APP1> 2h")
	if err != nil {
		t.Fatal(err)
	}
	cmd := <-cmds
	if got, want := cmd.Command, "/share-bucket"; got != want {
		t.Errorf("command = %q; want %q", got, want)
	}
	if got, want := cmd.UserID, "U_REQ"; got != want {
		t.Errorf("user_id = %q; want %q", got, want)
	}
	if got, want := cmd.Text, "my-bucket <@U_APP1> 2h"; got != want {
		t.Errorf("text = %q; want %q", got, want)
	}
	if got, want := cmd.ChannelID, "C_APPROVALS"; got != want {
		t.Errorf("channel_id = %q; want %q", got, want)
	}
	if !strings.HasPrefix(cmd.ResponseURL, srv.URL()+"/response/") || cmd.TriggerID == "" || cmd.APIAppID != srv.AppID() || cmd.TeamID != srv.TeamID() {
		t.Errorf("command = %+v; want response_url, trigger_id, api_app_id and team_id set", cmd)
	}
	if got, want := string(ack.Payload), `{"text":"got it"}`; got != want {
		t.Errorf("ack payload = %s; want %s", got, want)
	}
	if ack.Latency <= 0 || ack.ConnID == 0 || ack.EnvelopeID == "" {
		t.Errorf("ack = %+v; want latency, conn and envelope ID set", ack)
	}
	eph := srv.Ephemerals("U_REQ")
	if len(eph) != 1 || eph[0].Text != "got it" || eph[0].Channel != "C_APPROVALS" || !eph[0].Ephemeral {
		t.Errorf("ephemerals = %+v; want one ephemeral %q in C_APPROVALS", eph, "got it")
	}
	if got := srv.ProtocolErrors(); len(got) != 0 {
		t.Errorf("protocol errors = %q; want none", got)
	}
}

func approvalBlocks() slack.MsgOption {
	return slack.MsgOptionBlocks(
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Access request", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*U_REQ* wants `my-bucket`", false, false),
			[]*slack.TextBlockObject{slack.NewTextBlockObject(slack.MarkdownType, "*Duration*\n2h", false, false)}, nil),
		slack.NewActionBlock("decision",
			slack.NewButtonBlockElement("approve", "req-1", slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)),
			slack.NewButtonBlockElement("deny", "req-1", slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)),
		),
	)
}

func TestClickAndReplaceOriginal(t *testing.T) {
	srv := fakeslack.New(t)
	clicks := make(chan slack.InteractionCallback, 1)
	api, _ := runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		cb := evt.Data.(slack.InteractionCallback)
		clicks <- cb
		// Replace the clicked message through the response_url.
		_, _, err := newAPI(srv).PostMessage("", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Approved by <@U_APP1>", false))
		if err != nil {
			t.Errorf("replace original: %v", err)
		}
	})
	waitConnected(t, srv, 1)

	ch, ts, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("Access request", false), approvalBlocks())
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages("C_APPROVALS")
	if len(msgs) != 1 {
		t.Fatalf("messages = %+v; want 1", msgs)
	}
	m := msgs[0]
	if got, want := m.BlockText(), "Access request\n*U_REQ* wants `my-bucket`\n*Duration*\n2h"; got != want {
		t.Errorf("BlockText = %q; want %q", got, want)
	}
	buttons := m.Buttons()
	if len(buttons) != 2 || buttons[0] != (fakeslack.Button{ActionID: "approve", BlockID: "decision", Value: "req-1", Text: "Approve"}) {
		t.Errorf("buttons = %+v; want approve and deny in block decision", buttons)
	}

	if _, err := srv.Click(testCtx(t), fakeslack.Click{User: "U_APP1", Channel: ch, MessageTS: ts, ActionID: "approve"}); err != nil {
		t.Fatal(err)
	}
	cb := <-clicks
	if got, want := cb.Type, slack.InteractionTypeBlockActions; got != want {
		t.Errorf("type = %q; want %q", got, want)
	}
	if len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("actions = %+v; want 1", cb.ActionCallback.BlockActions)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "approve" || a.BlockID != "decision" || a.Value != "req-1" || a.Text.Text != "Approve" {
		t.Errorf("action = %+v; want approve/decision/req-1", a)
	}
	if cb.User.ID != "U_APP1" || cb.Channel.ID != ch || cb.Container.MessageTs != ts || cb.Container.ChannelID != ch || cb.Message.Timestamp != ts {
		t.Errorf("callback user/channel/container/message = %v/%v/%+v/%v; want U_APP1, %s, %s", cb.User.ID, cb.Channel.ID, cb.Container, cb.Message.Timestamp, ch, ts)
	}
	if len(cb.Message.Blocks.BlockSet) != 3 || cb.Message.BotID != srv.BotID() {
		t.Errorf("message = %+v; want the posted blocks and bot_id", cb.Message)
	}

	got, err := srv.WaitMessage(testCtx(t), func(m fakeslack.Message) bool { return m.Updated > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "Approved by <@U_APP1>" || got.Blocks != nil || got.TS != ts {
		t.Errorf("replaced message = %+v; want text only at %s", got, ts)
	}
	if h := srv.History(ch, ts); len(h) != 2 {
		t.Errorf("history has %d versions; want 2", len(h))
	}
}

func TestDisconnectReconnects(t *testing.T) {
	srv := fakeslack.New(t)
	runBot(t, srv, ackAll)
	waitConnected(t, srv, 1)

	if got, want := srv.Disconnect("refresh_requested"), 1; got != want {
		t.Fatalf("Disconnect told %d connections; want %d", got, want)
	}
	waitConnected(t, srv, 1)
	if got, want := srv.ConnectCount(), 2; got != want {
		t.Errorf("ConnectCount = %d; want %d", got, want)
	}
	if _, err := srv.SlashCommand(testCtx(t), "U_REQ", "after reconnect"); err != nil {
		t.Errorf("slash command after reconnect: %v", err)
	}

	// The connection told to disconnect may not be closed yet.
	if got := srv.DropConnections(); got < 1 {
		t.Fatalf("DropConnections dropped %d; want at least 1", got)
	}
	waitConnected(t, srv, 1)
	if got, want := srv.ConnectCount(), 3; got != want {
		t.Errorf("ConnectCount = %d; want %d", got, want)
	}
}

func TestStopPingingMakesClientReconnect(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithPingInterval(50*time.Millisecond))
	runBot(t, srv, ackAll, socketmode.OptionPingInterval(300*time.Millisecond))
	waitConnected(t, srv, 1)
	srv.StopPinging(true)
	ctx := testCtx(t)
	for srv.ConnectCount() < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("ConnectCount = %d; want a reconnect after pings stopped", srv.ConnectCount())
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv.StopPinging(false)
}

func TestPing(t *testing.T) {
	srv := fakeslack.New(t)
	runBot(t, srv, ackAll)
	waitConnected(t, srv, 1)
	rtt, err := srv.Ping(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if rtt <= 0 || rtt > time.Second {
		t.Errorf("rtt = %v; want (0, 1s]", rtt)
	}
}

func TestRoundRobin(t *testing.T) {
	srv := fakeslack.New(t)
	runBot(t, srv, ackAll)
	runBot(t, srv, ackAll)
	waitConnected(t, srv, 2)
	seen := map[int]int{}
	for range 4 {
		ack, err := srv.SlashCommand(testCtx(t), "U_REQ", "x")
		if err != nil {
			t.Fatal(err)
		}
		seen[ack.ConnID]++
	}
	if len(seen) != 2 {
		t.Errorf("deliveries per connection = %v; want both connections used", seen)
	}
}

func TestNoConnection(t *testing.T) {
	srv := fakeslack.New(t)
	_, err := srv.SlashCommand(testCtx(t), "U_REQ", "x")
	if !errors.Is(err, fakeslack.ErrNotConnected) {
		t.Errorf("err = %v; want ErrNotConnected", err)
	}
	if got, want := srv.Dropped(), 1; got != want {
		t.Errorf("Dropped = %d; want %d", got, want)
	}
}

func TestNoAckAndLateAck(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithAckTimeout(100*time.Millisecond))
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		time.Sleep(200 * time.Millisecond)
		sm.Ack(*evt.Request)
	})
	waitConnected(t, srv, 1)
	_, err := srv.SlashCommand(testCtx(t), "U_REQ", "slow")
	if !errors.Is(err, fakeslack.ErrNoAck) {
		t.Fatalf("err = %v; want ErrNoAck", err)
	}
	if got, want := srv.Unacked(), 1; got != want {
		t.Errorf("Unacked = %d; want %d", got, want)
	}
	ctx := testCtx(t)
	for len(srv.ProtocolErrors()) == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if got := srv.ProtocolErrors(); len(got) != 1 || !strings.Contains(got[0], "late ack") {
		t.Errorf("protocol errors = %q; want one late ack", got)
	}
}

func TestSendDuplicateAndHostileEnvelopes(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithAckTimeout(200*time.Millisecond))
	var mu sync.Mutex
	var retries []int
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		mu.Lock()
		retries = append(retries, evt.Request.RetryAttempt)
		mu.Unlock()
		sm.Ack(*evt.Request)
	})
	waitConnected(t, srv, 1)
	ctx := testCtx(t)

	payload := json.RawMessage(`{"token":"t","team_id":"T_FAKE","api_app_id":"A_FAKE","type":"event_callback","event_id":"Ev1","event_time":1700000000,` +
		`"event":{"type":"app_mention","user":"U_REQ","text":"<@U_BOT> hi","ts":"1700000000.000001","channel":"C_GENERAL","event_ts":"1700000000.000001"}}`)
	for i, reason := range []string{"", "timeout"} {
		ack, err := srv.Send(ctx, fakeslack.Envelope{ID: "dup-1", Type: "events_api", Payload: payload, RetryAttempt: i, RetryReason: reason})
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if ack.EnvelopeID != "dup-1" || ack.Payload != nil {
			t.Errorf("delivery %d: ack = %+v; want dup-1 without payload", i, ack)
		}
	}
	mu.Lock()
	if got := retries; len(got) != 2 || got[1] != 1 {
		t.Errorf("retry attempts seen = %v; want [0 1]", got)
	}
	mu.Unlock()

	// slack-go drops unknown types and undecodable payloads without an ack.
	if _, err := srv.Send(ctx, fakeslack.Envelope{Type: "bogus", Payload: json.RawMessage(`{}`)}); !errors.Is(err, fakeslack.ErrNoAck) {
		t.Errorf("unknown type: err = %v; want ErrNoAck", err)
	}
	if _, err := srv.Send(ctx, fakeslack.Envelope{ID: "raw-1", Raw: []byte(`{"envelope_id":"raw-1","type":"slash_commands","payload":{"user_id":42}}`)}); !errors.Is(err, fakeslack.ErrNoAck) {
		t.Errorf("bad payload: err = %v; want ErrNoAck", err)
	}
	if _, err := srv.Send(ctx, fakeslack.Envelope{Raw: []byte(`not json`)}); err != nil {
		t.Errorf("garbage frame: err = %v; want nil (no ack awaited)", err)
	}
	// The connection survives all of it.
	if _, err := srv.SlashCommand(ctx, "U_REQ", "still there"); err != nil {
		t.Errorf("slash command after hostile envelopes: %v", err)
	}
}

// rawClient opens a Socket Mode connection with gorilla/websocket directly,
// to send acks slack-go refuses to send.
func rawClient(t *testing.T, srv *fakeslack.Server) *websocket.Conn {
	t.Helper()
	_, wsURL, err := newAPI(srv).StartSocketModeContext(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var hello struct {
		Type           string `json:"type"`
		NumConnections int    `json:"num_connections"`
	}
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first frame = %+v, %v; want hello", hello, err)
	}
	return ws
}

// ackWith reads one envelope from ws in the background and acks it with the
// frame built by ack. The returned channel is closed when it is done.
func ackWith(ws *websocket.Conn, ack func(id string) []byte) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var env struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if ws.ReadJSON(&env) == nil {
			ws.WriteMessage(websocket.TextMessage, ack(env.EnvelopeID))
		}
	}()
	return done
}

func TestAckShapes(t *testing.T) {
	srv := fakeslack.New(t)
	ws := rawClient(t, srv)
	ctx := testCtx(t)

	done := ackWith(ws, func(id string) []byte { return []byte(`{"envelope_id":"` + id + `","payload":{}}`) })
	ack, err := srv.SlashCommand(ctx, "U_REQ", "node style")
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if got, want := string(ack.Payload), `{}`; got != want {
		t.Errorf("payload = %s; want %s", got, want)
	}
	if got := srv.Ephemerals("U_REQ"); len(got) != 0 {
		t.Errorf("ephemerals = %+v; want none for an empty payload", got)
	}

	big := strings.Repeat("x", 20*1024)
	done = ackWith(ws, func(id string) []byte { return []byte(`{"envelope_id":"` + id + `","payload":{"text":"` + big + `"}}`) })
	if _, err := srv.SlashCommand(ctx, "U_REQ", "too big"); !errors.Is(err, fakeslack.ErrAckTooLarge) {
		t.Errorf("err = %v; want ErrAckTooLarge", err)
	}
	<-done
	if got, want := srv.Unacked(), 1; got != want {
		t.Errorf("Unacked = %d; want %d", got, want)
	}
	if got := srv.ProtocolErrors(); len(got) != 1 || !strings.Contains(got[0], "20 KB") {
		t.Errorf("protocol errors = %q; want one about size", got)
	}
}

func TestTooManyConnections(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithMaxConnections(1), fakeslack.WithDisconnectGrace(100*time.Millisecond))
	rawClient(t, srv)
	_, wsURL, err := newAPI(srv).StartSocketModeContext(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var frame struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if err := ws.ReadJSON(&frame); err != nil {
		t.Fatal(err)
	}
	if frame.Type != "disconnect" || frame.Reason != "too_many_websockets" {
		t.Errorf("frame = %+v; want disconnect too_many_websockets", frame)
	}
	// Tickets are single use.
	if _, _, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil {
		t.Error("second dial with the same ticket succeeded; want refusal")
	}
}

func TestAppTokenErrors(t *testing.T) {
	srv := fakeslack.New(t)
	srv.RevokeAppToken("token_revoked")
	_, runErr := runBot(t, srv, nil)
	select {
	case err := <-runErr:
		if got, want := slackErr(err), "token_revoked"; got != want {
			t.Errorf("RunContext error = %v; want %s", err, want)
		}
	case <-testCtx(t).Done():
		t.Fatal("RunContext did not return")
	}

	bad := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	if _, _, err := bad.StartSocketModeContext(testCtx(t)); slackErr(err) != "invalid_auth" {
		t.Errorf("wrong app token: err = %v; want invalid_auth", err)
	}
}

func TestWebAPIRoundTrips(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)

	auth, err := api.AuthTest()
	if err != nil {
		t.Fatal(err)
	}
	if auth.UserID != srv.BotUserID() || auth.BotID != srv.BotID() || auth.TeamID != srv.TeamID() {
		t.Errorf("auth.test = %+v; want bot user, bot ID and team", auth)
	}

	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL()))
	if _, err := bad.AuthTest(); slackErr(err) != "invalid_auth" {
		t.Errorf("wrong bot token: err = %v; want invalid_auth", err)
	}

	u, err := api.GetUserInfo("U_APP1")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "U_APP1" || u.Name != "app1" || u.IsBot || u.Deleted || u.TZ == "" {
		t.Errorf("user = %+v; want U_APP1 named app1", u)
	}
	if _, err := api.GetUserInfo("U_NOBODY"); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: err = %v; want user_not_found", err)
	}

	dm, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U_REQ"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dm.ID, srv.DMChannel("U_REQ"); got != want || !strings.HasPrefix(got, "D") {
		t.Errorf("DM = %q; want %q starting with D", got, want)
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U_NOBODY"}}); slackErr(err) != "user_not_found" {
		t.Errorf("open DM with unknown user: err = %v; want user_not_found", err)
	}

	ch, ts, err := api.PostMessage(dm.ID, slack.MsgOptionText("your link", false))
	if err != nil {
		t.Fatal(err)
	}
	if ch != dm.ID || ts == "" {
		t.Errorf("postMessage = %q, %q; want %q and a ts", ch, ts, dm.ID)
	}
	ch2, ts2, err := api.PostMessage("U_REQ", slack.MsgOptionText("by user ID", false))
	if err != nil {
		t.Fatal(err)
	}
	if ch2 != dm.ID || ts2 <= ts {
		t.Errorf("postMessage to user ID = %q, %q; want %q and a ts after %q", ch2, ts2, dm.ID, ts)
	}
	if _, _, err := api.PostMessage("C_NOWHERE", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel: err = %v; want channel_not_found", err)
	}

	if _, _, _, err := api.UpdateMessage(dm.ID, ts, slack.MsgOptionText("expired", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.MessageAt(dm.ID, ts); m.Text != "expired" || m.Updated != 1 {
		t.Errorf("updated message = %+v; want text expired, Updated 1", m)
	}
	if _, _, _, err := api.UpdateMessage("U_REQ", ts, slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("update with user ID: err = %v; want channel_not_found", err)
	}
	if _, _, _, err := api.UpdateMessage(dm.ID, "1.000000", slack.MsgOptionText("x", false)); slackErr(err) != "message_not_found" {
		t.Errorf("update unknown ts: err = %v; want message_not_found", err)
	}
	seed := srv.PostAsUser("C_GENERAL", "U_OTHER", "hello")
	if _, _, _, err := api.UpdateMessage("C_GENERAL", seed.TS, slack.MsgOptionText("x", false)); slackErr(err) != "cant_update_message" {
		t.Errorf("update someone else's message: err = %v; want cant_update_message", err)
	}

	ets, err := api.PostEphemeral("C_APPROVALS", "U_APP2", slack.MsgOptionText("only you", false))
	if err != nil {
		t.Fatal(err)
	}
	if e := srv.Ephemerals("U_APP2"); len(e) != 1 || e[0].TS != ets || e[0].Text != "only you" {
		t.Errorf("ephemerals = %+v; want one at %s", e, ets)
	}

	if got, want := srv.Calls("chat.postMessage"), 3; got != want {
		t.Errorf("Calls(chat.postMessage) = %d; want %d", got, want)
	}
	if got, want := len(srv.AllMessages()), 3; got != want {
		t.Errorf("AllMessages has %d; want %d", got, want)
	}

	var sce slack.StatusCodeError
	if _, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C_GENERAL"}); !errors.As(err, &sce) || sce.Code != http.StatusNotFound {
		t.Errorf("unknown method: err = %v; want HTTP 404", err)
	}
}

func TestMessageLimits(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	section := func(text string) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = section("x")
	}
	tests := []struct {
		name string
		opts []slack.MsgOption
		want string
	}{
		// chat.postMessage truncates text over 40,000 characters rather than
		// failing; chat.update's 4,000 limit is tested in TestTextLimits.
		{"LongTextTruncated", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("a", 40001), false)}, ""},
		{"TooManyBlocks", []slack.MsgOption{slack.MsgOptionBlocks(many...)}, "invalid_blocks"},
		{"LongSection", []slack.MsgOption{slack.MsgOptionBlocks(section(strings.Repeat("a", 3001)))}, "invalid_blocks"},
		{"LongButtonValue", []slack.MsgOption{slack.MsgOptionBlocks(slack.NewActionBlock("b",
			slack.NewButtonBlockElement("a", strings.Repeat("v", 2001), slack.NewTextBlockObject(slack.PlainTextType, "Go", false, false))))}, "invalid_blocks"},
		{"NoText", nil, "no_text"},
		{"Fine", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("a", 4000), false), slack.MsgOptionBlocks(section(strings.Repeat("a", 3000)))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := api.PostMessage("C_GENERAL", tt.opts...)
			if got := slackErr(err); got != tt.want {
				t.Errorf("err = %v; want %q", err, tt.want)
			}
		})
	}
}

// TestRequestForms checks that every method takes both a form body with
// token= and a JSON body with a bearer token, as Slack does.
func TestRequestForms(t *testing.T) {
	srv := fakeslack.New(t)
	post := func(req *http.Request) (ok bool, code string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.OK, body.Error
	}
	jsonReq := func(token, body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, srv.APIURL()+"chat.postMessage", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+token)
		return req
	}
	formReq := func(form url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, srv.APIURL()+"chat.postMessage", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}

	if ok, code := post(jsonReq(srv.BotToken(), `{"channel":"C_GENERAL","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"json"}}]}`)); !ok {
		t.Errorf("JSON body: error %q; want ok", code)
	}
	if m := srv.Messages("C_GENERAL"); len(m) != 1 || m[0].BlockText() != "json" {
		t.Errorf("messages = %+v; want the JSON-posted one", m)
	}
	if _, code := post(jsonReq("xoxb-wrong", `{"channel":"C_GENERAL","text":"x"}`)); code != "invalid_auth" {
		t.Errorf("JSON body with wrong token: error %q; want invalid_auth", code)
	}
	if _, code := post(formReq(url.Values{"channel": {"C_GENERAL"}, "text": {"x"}})); code != "not_authed" {
		t.Errorf("no token: error %q; want not_authed", code)
	}
	if _, code := post(formReq(url.Values{"token": {srv.BotToken()}, "channel": {"C_GENERAL"}, "blocks": {"[{not json"}})); code != "invalid_blocks" {
		t.Errorf("blocks not JSON: error %q; want invalid_blocks", code)
	}
}

func TestRateLimits(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithPostMessageLimit(time.Hour, 2))
	api := newAPI(srv)

	srv.FailNext("chat.postMessage", fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7})
	_, _, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("x", false))
	var rle *slack.RateLimitedError
	if !errors.As(err, &rle) || rle.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v; want *slack.RateLimitedError after 7s", err)
	}

	for i := range 2 {
		if _, _, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("x", false)); err != nil {
			t.Fatalf("post %d within burst: %v", i, err)
		}
	}
	_, _, err = api.PostMessage("C_APPROVALS", slack.MsgOptionText("x", false))
	if !errors.As(err, &rle) || rle.RetryAfter < time.Second {
		t.Errorf("err = %v; want *slack.RateLimitedError", err)
	}
	if _, _, err := api.PostMessage("C_GENERAL", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("other channel: %v; want no limit", err)
	}
	if got, want := srv.RateLimited("chat.postMessage"), 2; got != want {
		t.Errorf("RateLimited = %d; want %d", got, want)
	}

	srv.FailNext("users.info", fakeslack.Fault{Error: "fatal_error", Count: 2})
	for range 2 {
		if _, err := api.GetUserInfo("U_REQ"); slackErr(err) != "fatal_error" {
			t.Errorf("err = %v; want fatal_error", err)
		}
	}
	if _, err := api.GetUserInfo("U_REQ"); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	srv.FailAlways("auth.test", fakeslack.Fault{Status: http.StatusInternalServerError})
	var sce slack.StatusCodeError
	if _, err := api.AuthTest(); !errors.As(err, &sce) || sce.Code != http.StatusInternalServerError {
		t.Errorf("err = %v; want HTTP 500", err)
	}
}

func TestResponseURL(t *testing.T) {
	srv := fakeslack.New(t)
	urls := make(chan string, 1)
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		urls <- evt.Data.(slack.SlashCommand).ResponseURL
	})
	waitConnected(t, srv, 1)
	if _, err := srv.SlashCommand(testCtx(t), "U_REQ", "x"); err != nil {
		t.Fatal(err)
	}
	respURL := <-urls
	api := newAPI(srv)

	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(respURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("working on it", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitEphemeral(testCtx(t), "U_REQ", func(m fakeslack.Message) bool { return m.Text == "working on it" }); err != nil {
		t.Error(err)
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(respURL, slack.ResponseTypeInChannel), slack.MsgOptionText("for all", false)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages("C_APPROVALS"); len(m) != 1 || m[0].Text != "for all" || m[0].Source != "response_url" {
		t.Errorf("channel messages = %+v; want the in_channel reply", m)
	}
	for i := 3; i <= 5; i++ {
		if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(respURL, ""), slack.MsgOptionText("again", false)); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(respURL, ""), slack.MsgOptionText("sixth", false)); err == nil {
		t.Error("sixth use succeeded; want an error")
	}
}

func TestOpenViewAndSubmit(t *testing.T) {
	srv := fakeslack.New(t)
	subs := make(chan slack.InteractionCallback, 1)
	opened := make(chan error, 1)
	var respond func(socketmode.Event) any
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		switch d := evt.Data.(type) {
		case slack.SlashCommand:
			sm.Ack(*evt.Request)
			_, err := newAPI(srv).OpenView(d.TriggerID, requestModal())
			if err == nil {
				_, err = newAPI(srv).OpenView(d.TriggerID, requestModal())
				if slackErr(err) != "exchanged_trigger_id" {
					err = errors.New("reused trigger: " + slackErr(err))
				} else {
					err = nil
				}
			}
			opened <- err
		case slack.InteractionCallback:
			sm.Ack(*evt.Request, respond(evt))
			subs <- d
		}
	})
	waitConnected(t, srv, 1)
	ctx := testCtx(t)
	if _, err := srv.SlashCommand(ctx, "U_REQ", ""); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	v, err := srv.WaitView(ctx, "U_REQ", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.CallbackID != "share_request" || v.PrivateMetadata != "C_APPROVALS" || !strings.HasPrefix(v.ID, "V") {
		t.Errorf("view = %+v; want callback share_request", v)
	}

	respond = func(socketmode.Event) any {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{"bucket": "Bucket name must be lowercase"})
	}
	values := map[string]map[string]string{"bucket": {"bucket_name": "My-Bucket"}, "duration": {"duration_select": "2h"}}
	if _, err := srv.SubmitView(ctx, "U_REQ", v.ID, values); err != nil {
		t.Fatal(err)
	}
	sub := <-subs
	if sub.Type != slack.InteractionTypeViewSubmission || sub.View.ID != v.ID || sub.View.CallbackID != "share_request" || sub.View.PrivateMetadata != "C_APPROVALS" {
		t.Errorf("submission = %+v; want view_submission of %s", sub, v.ID)
	}
	state := sub.View.State.Values
	if got := state["bucket"]["bucket_name"].Value; got != "My-Bucket" {
		t.Errorf("bucket value = %q; want My-Bucket", got)
	}
	if got := state["duration"]["duration_select"].SelectedOption; got.Value != "2h" || got.Text.Text != "2 hours" {
		t.Errorf("duration = %+v; want option 2h, \"2 hours\"", got)
	}
	if vs := srv.Views("U_REQ"); len(vs) != 1 || vs[0].Errors["bucket"] == "" {
		t.Errorf("views = %+v; want the view open with errors", vs)
	}
	if got := srv.ProtocolErrors(); len(got) != 0 {
		t.Errorf("protocol errors = %q; want none", got)
	}

	respond = func(socketmode.Event) any { return nil }
	if _, err := srv.SubmitView(ctx, "U_REQ", v.ID, values); err != nil {
		t.Fatal(err)
	}
	<-subs
	if vs := srv.Views("U_REQ"); len(vs) != 0 {
		t.Errorf("views = %+v; want none after a plain ack", vs)
	}
	if _, err := srv.SubmitView(ctx, "U_REQ", v.ID, values); !errors.Is(err, fakeslack.ErrUnknownView) {
		t.Errorf("err = %v; want ErrUnknownView", err)
	}
}

func requestModal() slack.ModalViewRequest {
	text := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           text("Share a bucket"),
		Submit:          text("Request"),
		CallbackID:      "share_request",
		PrivateMetadata: "C_APPROVALS",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("bucket", text("Bucket"), nil, slack.NewPlainTextInputBlockElement(nil, "bucket_name")),
			slack.NewInputBlock("duration", text("Duration"), nil, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, "duration_select",
				slack.NewOptionBlockObject("1h", text("1 hour"), nil),
				slack.NewOptionBlockObject("2h", text("2 hours"), nil))),
		}},
	}
}

func TestTriggerErrors(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithTriggerTTL(20*time.Millisecond))
	triggers := make(chan string, 1)
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		triggers <- evt.Data.(slack.SlashCommand).TriggerID
	})
	waitConnected(t, srv, 1)
	if _, err := srv.SlashCommand(testCtx(t), "U_REQ", ""); err != nil {
		t.Fatal(err)
	}
	trigger := <-triggers
	time.Sleep(30 * time.Millisecond)
	api := newAPI(srv)
	if _, err := api.OpenView(trigger, requestModal()); slackErr(err) != "expired_trigger_id" {
		t.Errorf("expired trigger: err = %v; want expired_trigger_id", err)
	}
	if _, err := api.OpenView("1.2.nope", requestModal()); slackErr(err) != "invalid_trigger_id" {
		t.Errorf("unknown trigger: err = %v; want invalid_trigger_id", err)
	}
}

func TestBlockTextAndButtons(t *testing.T) {
	m := fakeslack.Message{Blocks: json.RawMessage(`[
		{"type":"header","text":{"type":"plain_text","text":"Title"}},
		{"type":"section","text":{"type":"mrkdwn","text":"Body"},"fields":[{"type":"mrkdwn","text":"F1"}],
		 "accessory":{"type":"button","action_id":"open","text":{"type":"plain_text","text":"Open"},"url":"https://example.com"}},
		{"type":"context","elements":[{"type":"image","image_url":"x","alt_text":"y"},{"type":"mrkdwn","text":"ctx"}]},
		{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"hi "},{"type":"user","user_id":"U1"}]}]},
		{"type":"actions","block_id":"act","elements":[{"type":"button","action_id":"ok","value":"v","style":"primary","text":{"type":"plain_text","text":"OK"}}]}
	]`)}
	if got, want := m.BlockText(), "Title\nBody\nF1\nctx\nhi <@U1>"; got != want {
		t.Errorf("BlockText = %q; want %q", got, want)
	}
	want := []fakeslack.Button{
		{ActionID: "open", Text: "Open", URL: "https://example.com"},
		{ActionID: "ok", BlockID: "act", Value: "v", Text: "OK", Style: "primary"},
	}
	got := m.Buttons()
	if len(got) != len(want) {
		t.Fatalf("Buttons = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("button %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

// TestLinks: what a reader can copy from rich text, links and
// preformatted text, in order; links in mrkdwn and buttons are not it.
func TestLinks(t *testing.T) {
	m := fakeslack.Message{Blocks: json.RawMessage(`[
		{"type":"section","text":{"type":"mrkdwn","text":"<https://mrkdwn.example|not this>"}},
		{"type":"rich_text","elements":[
			{"type":"rich_text_section","elements":[{"type":"text","text":"go "},{"type":"link","url":"https://a.example/x","text":"A"}]},
			{"type":"rich_text_preformatted","elements":[{"type":"text","text":"curl -T FILE 'https://b.example/y'"}]}]},
		{"type":"actions","elements":[{"type":"button","action_id":"b","url":"https://button.example","text":{"type":"plain_text","text":"B"}}]}
	]`)}
	got, want := m.Links(), []string{"https://a.example/x", "curl -T FILE 'https://b.example/y'"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Links = %q; want %q", got, want)
	}
	if got := (fakeslack.Message{Text: "<https://x.example>"}).Links(); got != nil {
		t.Errorf("Links of a message without blocks = %q", got)
	}
}

func TestStartAndClose(t *testing.T) {
	srv, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.APIURL(), "http://127.0.0.1:") || !strings.HasSuffix(srv.APIURL(), "/api/") {
		t.Errorf("APIURL = %q; want http://127.0.0.1:PORT/api/", srv.APIURL())
	}
	srv.Close()
	srv.Close()
}

func BenchmarkSlashCommandAck(b *testing.B) {
	srv := fakeslack.New(b, fakeslack.WithLogf(func(string, ...any) {}))
	api := newAPI(srv)
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sm.RunContext(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				if evt.Type == socketmode.EventTypeSlashCommand {
					sm.Ack(*evt.Request)
				}
			}
		}
	}()
	if err := srv.WaitConnected(ctx, 1); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		ack, err := srv.SlashCommand(ctx, "U_REQ", "x")
		if err != nil {
			b.Fatal(err)
		}
		total += ack.Latency
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "ack-µs/op")
}
