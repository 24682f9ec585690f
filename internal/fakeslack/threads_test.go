package fakeslack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

// callRaw posts a form to a Web API method with the bot token and returns
// the decoded answer, for fields slack-go does not expose.
func callRaw(t *testing.T, srv *fakeslack.Server, method string, form url.Values) map[string]any {
	t.Helper()
	form.Set("token", srv.BotToken())
	resp, err := http.PostForm(srv.APIURL()+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestThreads(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	_, parent, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("request", false))
	if err != nil {
		t.Fatal(err)
	}
	_, reply, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("approved", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	// A reply to a reply goes under the thread's parent.
	body := callRaw(t, srv, "chat.postMessage", url.Values{"channel": {"C_APPROVALS"}, "text": {"again"}, "thread_ts": {reply}})
	msg, _ := body["message"].(map[string]any)
	if got := msg["thread_ts"]; got != parent {
		t.Errorf("reply to a reply: message.thread_ts = %v; want the parent %s", got, parent)
	}
	_, broadcast, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("for all", false), slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}

	replies := srv.Replies("C_APPROVALS", parent)
	if len(replies) != 3 || replies[0].TS != reply || replies[0].ThreadTS != parent || replies[0].Text != "approved" {
		t.Fatalf("replies = %+v; want approved, again and for all under %s", replies, parent)
	}
	if !replies[2].Broadcast || replies[0].Broadcast {
		t.Errorf("broadcast flags = %v, %v; want only the last", replies[0].Broadcast, replies[2].Broadcast)
	}
	// Channel listings hold the parent and the broadcast reply only.
	msgs := srv.Messages("C_APPROVALS")
	if len(msgs) != 2 || msgs[0].TS != parent || msgs[1].TS != broadcast {
		t.Errorf("messages = %+v; want the parent and the broadcast reply", msgs)
	}
	if msgs[0].ReplyCount != 3 || msgs[0].LatestReply != broadcast {
		t.Errorf("parent = %+v; want 3 replies, latest %s", msgs[0], broadcast)
	}
	if got := len(srv.AllMessages()); got != 2 {
		t.Errorf("AllMessages has %d; want 2", got)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := srv.WaitMessage(short, func(m fakeslack.Message) bool { return m.Text == "approved" }); err == nil {
		t.Errorf("WaitMessage found reply %+v; want replies left to WaitReply", m)
	}
	if got, err := srv.WaitReply(testCtx(t), "C_APPROVALS", parent, func(m fakeslack.Message) bool { return m.Text == "again" }); err != nil || got.ThreadTS != parent {
		t.Errorf("WaitReply = %+v, %v; want the reply again", got, err)
	}
	if m, ok := srv.MessageAt("C_APPROVALS", reply); !ok || m.Text != "approved" {
		t.Errorf("MessageAt(reply) = %+v, %v; want the reply", m, ok)
	}
	// Replies can be edited like any message of the bot's.
	if _, _, _, err := api.UpdateMessage("C_APPROVALS", reply, slack.MsgOptionText("approved by U_APP1", false)); err != nil {
		t.Errorf("update reply: %v", err)
	}
}

// TestThreadTSErrors checks Slack's answers to a thread_ts that is
// malformed or names no message.
func TestThreadTSErrors(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	if _, _, err := api.PostMessage("C_GENERAL", slack.MsgOptionText("x", false), slack.MsgOptionTS("0")); slackErr(err) != "invalid_thread_ts" {
		t.Errorf("thread_ts 0: err = %v; want invalid_thread_ts", err)
	}

	// A reply to a message that does not exist, or not in that channel, or
	// deleted, is posted at top level without an error and without
	// message.thread_ts.
	_, elsewhere, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("elsewhere", false))
	if err != nil {
		t.Fatal(err)
	}
	_, deleted, err := api.PostMessage("C_GENERAL", slack.MsgOptionText("gone", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessage("C_GENERAL", deleted); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{"1700000999.000100", elsewhere, deleted} {
		body := callRaw(t, srv, "chat.postMessage", url.Values{"channel": {"C_GENERAL"}, "text": {"orphan " + ts}, "thread_ts": {ts}})
		msg, _ := body["message"].(map[string]any)
		if body["ok"] != true || msg == nil {
			t.Fatalf("thread_ts %s: answer %v; want ok", ts, body)
		}
		if _, ok := msg["thread_ts"]; ok {
			t.Errorf("thread_ts %s: message.thread_ts = %v; want none", ts, msg["thread_ts"])
		}
	}
	var top []string
	for _, m := range srv.Messages("C_GENERAL") {
		top = append(top, m.Text)
	}
	if got, want := strings.Join(top, "|"), "orphan 1700000999.000100|orphan "+elsewhere+"|orphan "+deleted; got != want {
		t.Errorf("C_GENERAL top level = %q; want %q", got, want)
	}
}

// TestClickInThread checks the block_actions payload of a button in a
// thread reply carries the thread.
func TestClickInThread(t *testing.T) {
	srv := fakeslack.New(t)
	clicks := make(chan slack.InteractionCallback, 1)
	api, _ := runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		clicks <- evt.Data.(slack.InteractionCallback)
	})
	waitConnected(t, srv, 1)
	_, parent, err := api.PostMessage("C_APPROVALS", slack.MsgOptionText("request", false))
	if err != nil {
		t.Fatal(err)
	}
	_, reply, err := api.PostMessage("C_APPROVALS", slack.MsgOptionTS(parent), approvalBlocks())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := srv.MessageAt("C_APPROVALS", reply)
	if _, err := srv.Click(context.Background(), m.ClickOn("U_APP1", "approve")); err != nil {
		t.Fatal(err)
	}
	cb := <-clicks
	if cb.Container.ThreadTs != parent || cb.Message.ThreadTimestamp != parent || cb.Container.MessageTs != reply {
		t.Errorf("container = %+v, message thread_ts %q; want the reply %s in thread %s", cb.Container, cb.Message.ThreadTimestamp, reply, parent)
	}
}
