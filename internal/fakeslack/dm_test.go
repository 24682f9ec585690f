package fakeslack_test

import (
	"testing"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func TestDMFailures(t *testing.T) {
	srv := fakeslack.New(t,
		fakeslack.WithUser(fakeslack.User{ID: "U_GONE", Deleted: true}),
		fakeslack.WithUser(fakeslack.User{ID: "U_HUBOT", IsBot: true}))
	api := newAPI(srv)
	open := func(user string) error {
		_, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{user}})
		return err
	}
	tests := []struct {
		user string
		want string
	}{
		{"U_GONE", "user_disabled"},
		{"U_HUBOT", "cannot_dm_bot"},
		{srv.BotUserID(), "cannot_dm_bot"},
		{"U_NOBODY", "user_not_found"},
		{"U_REQ", ""},
	}
	for _, tt := range tests {
		if err := open(tt.user); slackErr(err) != tt.want {
			t.Errorf("conversations.open %s: err = %v; want %q", tt.user, err, tt.want)
		}
	}

	// Posting to a deactivated user succeeds, as in Slack; a bot user's ID
	// is no channel.
	ch, _, err := api.PostMessage("U_GONE", slack.MsgOptionText("your link", false))
	if err != nil || ch != fakeslack.DMOf("U_GONE") {
		t.Errorf("post to U_GONE = %q, %v; want ok in %s", ch, err, fakeslack.DMOf("U_GONE"))
	}
	if _, _, err := api.PostMessage("U_HUBOT", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("post to U_HUBOT: err = %v; want channel_not_found", err)
	}

	// A user deactivated during the test.
	srv.SetUser(fakeslack.User{ID: "U_APP1", Deleted: true})
	if err := open("U_APP1"); slackErr(err) != "user_disabled" {
		t.Errorf("conversations.open of U_APP1 after deactivation: err = %v; want user_disabled", err)
	}
	u, err := api.GetUserInfo("U_APP1")
	if err != nil || !u.Deleted || u.Name != "app1" {
		t.Errorf("users.info U_APP1 = %+v, %v; want deleted, named app1", u, err)
	}
}
