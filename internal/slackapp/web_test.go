package slackapp

import (
	"context"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/share-bucket/share-bucket/internal/metrics"
)

// TestRespondErrorHasNoURL: a failed post to a response_url does not put
// the URL (a capability to post in the conversation) in the error.
func TestRespondErrorHasNoURL(t *testing.T) {
	w := NewWeb(nil, zap.NewNop(), metrics.New())
	w.API = slackClientFor("http://127.0.0.1:1/api/")
	const secretPath = "/actions/T123/456/SECRETHOOK"
	err := w.Respond(context.Background(), "http://127.0.0.1:1"+secretPath, "hello")
	if err == nil {
		t.Fatal("Respond to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "SECRETHOOK") {
		t.Errorf("error %q contains the response_url", err)
	}
}

func slackClientFor(apiURL string) *slack.Client {
	return slack.New("xoxb-test", slack.OptionAPIURL(apiURL))
}
