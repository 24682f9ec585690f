// Package slackapp is share-bucket's Slack side: the Socket Mode
// connection, command parsing, Block Kit rendering, the handlers that turn
// clicks into approval.Service calls, and the notifier that keeps messages
// in step with each request's state.
package slackapp

import (
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/share-bucket/share-bucket/internal/config"
)

// Config is the Slack part of the bot's environment.
type Config struct {
	AppToken        string `envconfig:"SLACK_APP_TOKEN" required:"true" desc:"app-level token (xapp-…) with the connections:write scope, for Socket Mode"`
	BotToken        string `envconfig:"SLACK_BOT_TOKEN" required:"true" desc:"bot user OAuth token (xoxb-…)"`
	ApprovalChannel string `envconfig:"APPROVAL_CHANNEL" desc:"channel ID (C…) where approval requests are posted; empty: DM each approver"`
	APIURL          string `envconfig:"SLACK_API_URL" default:"https://slack.com/api/" desc:"Slack Web API base URL (GovSlack and tests point elsewhere)"`
}

var channelIDRE = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// Validate checks the shape of each setting and returns every problem, as
// *config.VarError. Messages never repeat a token.
func (c *Config) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.AppToken, "xapp-") {
		errs = append(errs, config.Problem("SLACK_APP_TOKEN", "must be an app-level token starting with xapp- (Basic Information → App-Level Tokens, scope connections:write)"))
	}
	if !strings.HasPrefix(c.BotToken, "xoxb-") {
		errs = append(errs, config.Problem("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb- (OAuth & Permissions → Bot User OAuth Token)"))
	}
	if c.ApprovalChannel != "" && !channelIDRE.MatchString(c.ApprovalChannel) {
		errs = append(errs, config.Problem("APPROVAL_CHANNEL", "%q is not a channel ID; use the ID (like C0123ABCD) from the channel's details, not its name", c.ApprovalChannel))
	}
	u, err := url.Parse(c.APIURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, config.Problem("SLACK_API_URL", "%q is not an http(s) URL", c.APIURL))
	} else if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	return errors.Join(errs...)
}
