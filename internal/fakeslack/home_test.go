package fakeslack_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func homeView(texts ...string) slack.HomeTabViewRequest {
	var blocks []slack.Block
	for _, t := range texts {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, t, false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewActionBlock("grants",
		slack.NewButtonBlockElement("end_grant", "grant-7", slack.NewTextBlockObject(slack.PlainTextType, "End now", false, false))))
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}, CallbackID: "home", PrivateMetadata: "v1"}
}

func TestPublishHome(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)

	resp, err := api.PublishView("U_REQ", homeView("Your access"), "")
	if err != nil {
		t.Fatal(err)
	}
	v := resp.View
	if v.ID == "" || v.Type != slack.VTHomeTab || v.Hash == "" || v.CallbackID != "home" || v.PrivateMetadata != "v1" ||
		v.State == nil || v.State.Values == nil || v.AppID != srv.AppID() || v.BotID != srv.BotID() || v.RootViewID != v.ID {
		t.Errorf("published view = %+v; want a home view with id, hash, empty state and the app's IDs", v)
	}
	got, ok := srv.HomeView("U_REQ")
	if !ok || got.ID != v.ID || got.Type != "home" || got.Hash != v.Hash || !strings.Contains(string(got.Blocks), "Your access") {
		t.Errorf("HomeView = %+v, %v; want the published view", got, ok)
	}
	if _, ok := srv.HomeView("U_APP1"); ok {
		t.Error("HomeView(U_APP1) found a view; want none")
	}

	// A stale hash conflicts; the current one replaces the view, keeping
	// its ID and changing its hash.
	if _, err := api.PublishView("U_REQ", homeView("Stale"), "1.stale"); slackErr(err) != "hash_conflict" {
		t.Errorf("stale hash: err = %v; want hash_conflict", err)
	}
	resp2, err := api.PublishView("U_REQ", homeView("Updated"), v.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if resp2.View.ID != v.ID || resp2.View.Hash == v.Hash {
		t.Errorf("republished view ID %s hash %s; want ID %s and a new hash", resp2.View.ID, resp2.View.Hash, v.ID)
	}
	if _, err := api.PublishView("U_REQ", homeView("Stale again"), v.Hash); slackErr(err) != "hash_conflict" {
		t.Errorf("old hash: err = %v; want hash_conflict", err)
	}
	if _, err := srv.WaitHome(testCtx(t), "U_REQ", func(v fakeslack.View) bool { return strings.Contains(string(v.Blocks), "Updated") }); err != nil {
		t.Error(err)
	}
	if got, want := srv.HomePublishes("U_REQ"), 2; got != want {
		t.Errorf("HomePublishes = %d; want %d", got, want)
	}
}

func TestPublishHomeErrors(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	many := make([]string, 100) // plus the actions block: 101
	for i := range many {
		many[i] = "x"
	}
	modal := homeView("x")
	modal.Type = slack.VTModal
	huge := homeView(strings.Repeat("x", 3000))
	for range 90 {
		huge.Blocks.BlockSet = append(huge.Blocks.BlockSet, huge.Blocks.BlockSet[0])
	}
	tests := []struct {
		name string
		user string
		view slack.HomeTabViewRequest
		want string
	}{
		{"Fine", "U_REQ", homeView(many[:99]...), ""},
		{"TooManyBlocks", "U_REQ", homeView(many...), "invalid_arguments"},
		{"NotHome", "U_REQ", modal, "invalid_arguments"},
		{"LongSection", "U_REQ", homeView(strings.Repeat("x", 3001)), "invalid_arguments"},
		{"TooLarge", "U_REQ", huge, "view_too_large"},
		{"UnknownUser", "U_NOBODY", homeView("x"), "invalid_arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := api.PublishView(tt.user, tt.view, ""); slackErr(err) != tt.want {
				t.Errorf("err = %v; want %q", err, tt.want)
			}
		})
	}
	if got, want := srv.HomePublishes("U_REQ"), 1; got != want {
		t.Errorf("HomePublishes = %d; want %d (failures do not count)", got, want)
	}

	off := fakeslack.New(t, fakeslack.WithHomeTab(false))
	if _, err := newAPI(off).PublishView("U_REQ", homeView("x"), ""); slackErr(err) != "not_enabled" {
		t.Errorf("Home tab off: err = %v; want not_enabled", err)
	}
}

func TestClickHome(t *testing.T) {
	srv := fakeslack.New(t)
	clicks := make(chan slack.InteractionCallback, 1)
	payloads := make(chan json.RawMessage, 1)
	opened := make(chan error, 1)
	api, _ := runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		payloads <- evt.Request.Payload
		cb := evt.Data.(slack.InteractionCallback)
		_, err := newAPI(srv).OpenView(cb.TriggerID, requestModal())
		opened <- err
		clicks <- cb
	})
	waitConnected(t, srv, 1)
	if _, err := api.PublishView("U_REQ", homeView("Your access"), ""); err != nil {
		t.Fatal(err)
	}
	home, _ := srv.HomeView("U_REQ")
	if b := home.Buttons(); len(b) != 1 || b[0] != (fakeslack.Button{ActionID: "end_grant", BlockID: "grants", Value: "grant-7", Text: "End now"}) {
		t.Errorf("home buttons = %+v; want end_grant", b)
	}

	if _, err := srv.Click(testCtx(t), home.ClickOn("U_APP1", "end_grant")); !errors.Is(err, fakeslack.ErrUnknownView) {
		t.Errorf("click on someone else's Home: err = %v; want ErrUnknownView", err)
	}
	if _, err := srv.Click(testCtx(t), home.ClickOn("U_REQ", "end_grant")); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Errorf("views.open with the click's trigger_id: %v", err)
	}
	cb := <-clicks
	if cb.Type != slack.InteractionTypeBlockActions || cb.Container.Type != "view" || cb.Container.ViewID != home.ID {
		t.Errorf("type %q, container %+v; want block_actions in view %s", cb.Type, cb.Container, home.ID)
	}
	if cb.View.ID != home.ID || cb.View.Type != slack.VTHomeTab || cb.View.Hash != home.Hash || cb.View.State == nil || cb.View.CallbackID != "home" {
		t.Errorf("view = %+v; want the Home view with its state", cb.View)
	}
	if cb.ResponseURL != "" || cb.Channel.ID != "" || cb.Message.Timestamp != "" || cb.TriggerID == "" {
		t.Errorf("response_url %q, channel %q, message ts %q, trigger %q; want only a trigger_id", cb.ResponseURL, cb.Channel.ID, cb.Message.Timestamp, cb.TriggerID)
	}
	a := cb.ActionCallback.BlockActions
	if len(a) != 1 || a[0].ActionID != "end_grant" || a[0].BlockID != "grants" || a[0].Value != "grant-7" {
		t.Errorf("actions = %+v; want end_grant/grants/grant-7", a)
	}
	// The raw payload has none of the message-only keys.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(<-payloads, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"channel", "message", "response_url", "state"} {
		if _, ok := raw[k]; ok {
			t.Errorf("payload has %q; want none", k)
		}
	}
}

// TestClickModal checks that a button in an open modal can be clicked too.
func TestClickModal(t *testing.T) {
	srv := fakeslack.New(t)
	clicks := make(chan slack.InteractionCallback, 2)
	runBot(t, srv, func(sm *socketmode.Client, evt socketmode.Event) {
		sm.Ack(*evt.Request)
		if cmd, ok := evt.Data.(slack.SlashCommand); ok {
			m := requestModal()
			m.Blocks.BlockSet = append(m.Blocks.BlockSet, slack.NewActionBlock("more",
				slack.NewButtonBlockElement("add_folder", "1", slack.NewTextBlockObject(slack.PlainTextType, "Add folder", false, false))))
			newAPI(srv).OpenView(cmd.TriggerID, m)
			return
		}
		clicks <- evt.Data.(slack.InteractionCallback)
	})
	waitConnected(t, srv, 1)
	if _, err := srv.SlashCommand(testCtx(t), "U_REQ", ""); err != nil {
		t.Fatal(err)
	}
	v, err := srv.WaitView(testCtx(t), "U_REQ", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Click(testCtx(t), v.ClickOn("U_REQ", "add_folder")); err != nil {
		t.Fatal(err)
	}
	cb := <-clicks
	if cb.Container.ViewID != v.ID || cb.View.Type != slack.VTModal || cb.View.CallbackID != "share_request" || cb.ActionCallback.BlockActions[0].Value != "1" {
		t.Errorf("click = %+v; want add_folder in modal %s", cb, v.ID)
	}
}
