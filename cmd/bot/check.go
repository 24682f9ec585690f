package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/federation"
)

// Each step of check has its own deadline, so one slow service neither
// hides the others nor makes the command hang.
const (
	slackStepTimeout = 5 * time.Second
	awsStepTimeout   = 10 * time.Second
)

// checker prints one line per step: ok, FAIL or warn.
type checker struct {
	out    io.Writer
	failed bool
}

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.out, "ok   %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) fail(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(c.out, "FAIL %s\n", fmt.Sprintf(format, args...))
}

func (c *checker) warn(format string, args ...any) {
	fmt.Fprintf(c.out, "warn %s\n", fmt.Sprintf(format, args...))
}

// step runs fn with its own deadline.
func step(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(ctx)
}

// check validates the configuration and tries the database, Slack and
// AWS, printing what is wrong in plain words. It grants nothing: the
// AssumeRole calls it makes carry a deny-everything or read-only session
// policy for the shortest session, and its only writes are a test line in
// the approval channel.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code := parseFlags(flags("check", stdout, stderr), args, stderr); code >= 0 {
		return code
	}
	c := &checker{out: stdout}
	cfg, warnings, err := loadConfig()
	if err != nil {
		c.fail("configuration:\n%s", indent(err.Error()))
		return 1
	}
	c.ok("configuration")
	for _, w := range warnings {
		c.warn("%s", w)
	}
	checkDatabase(ctx, c, cfg)
	checkSlack(ctx, c, cfg)
	checkAWS(ctx, c, cfg)
	if c.failed {
		return 1
	}
	return 0
}

func checkDatabase(ctx context.Context, c *checker, cfg *Config) {
	err := step(ctx, awsStepTimeout, func(ctx context.Context) error {
		store, err := openStore(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer store.Close()
		return store.Ping(ctx)
	})
	if err != nil {
		c.fail("database: %v", err)
		return
	}
	c.ok("database %s", redactURL(cfg.DatabaseURL))
}

func checkSlack(ctx context.Context, c *checker, cfg *Config) {
	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken))
	var auth *slack.AuthTestResponse
	err := step(ctx, slackStepTimeout, func(ctx context.Context) (err error) {
		auth, err = api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		c.fail("SLACK_BOT_TOKEN: auth.test failed: %s", slackHint(err, cfg.APIURL, "SLACK_BOT_TOKEN"))
		if isUnreachable(err) {
			return // every other Slack step would say the same
		}
	} else {
		c.ok("slack bot %s in %s", auth.User, auth.Team)
	}

	if err := step(ctx, slackStepTimeout, func(ctx context.Context) error { return socketHello(ctx, api) }); err != nil {
		c.fail("SLACK_APP_TOKEN: Socket Mode: %s", slackHint(err, cfg.APIURL, "SLACK_APP_TOKEN"))
	} else {
		c.ok("slack socket mode (connected, hello received)")
	}

	if cfg.ApprovalChannel != "" {
		err := step(ctx, slackStepTimeout, func(ctx context.Context) error {
			_, _, err := api.PostMessageContext(ctx, cfg.ApprovalChannel,
				slack.MsgOptionText(":white_check_mark: share-bucket check: approval requests will be posted in this channel.", false))
			return err
		})
		if err != nil {
			hint := slackHint(err, cfg.APIURL, "SLACK_BOT_TOKEN")
			if code := slackCode(err); code == "not_in_channel" || code == "channel_not_found" {
				hint += " (invite the bot to the channel: /invite @share-bucket, and use the channel's ID)"
			}
			c.fail("APPROVAL_CHANNEL %s: post a test message: %s", cfg.ApprovalChannel, hint)
		} else {
			c.ok("APPROVAL_CHANNEL %s: test message posted", cfg.ApprovalChannel)
		}
	}
	for _, g := range cfg.Approvers.Groups {
		var members []string
		err := step(ctx, slackStepTimeout, func(ctx context.Context) (err error) {
			members, err = api.GetUserGroupMembersContext(ctx, g)
			return err
		})
		switch {
		case slackCode(err) == "missing_scope":
			c.fail("approver group %s: the bot token lacks usergroups:read; reinstall the app from slack-app-manifest.yaml", g)
		case slackCode(err) == "no_such_subteam":
			c.fail("approver group %s: Slack knows no such user group (or it is disabled)", g)
		case err != nil:
			c.fail("approver group %s: %s", g, slackHint(err, cfg.APIURL, "SLACK_BOT_TOKEN"))
		case len(members) == 0:
			c.warn("approver group %s has no members", g)
		default:
			c.ok("approver group %s (%d members)", g, len(members))
		}
	}
	for _, id := range cfg.Approvers.Users {
		var u *slack.User
		err := step(ctx, slackStepTimeout, func(ctx context.Context) (err error) {
			u, err = api.GetUserInfoContext(ctx, id)
			return err
		})
		switch {
		case err != nil:
			c.fail("approver %s: %s", id, slackHint(err, cfg.APIURL, "SLACK_BOT_TOKEN"))
		case u.Deleted:
			c.fail("approver %s: the account is deactivated", id)
		case u.IsBot:
			c.fail("approver %s: is a bot, not a person", id)
		default:
			c.ok("approver %s (%s)", id, u.Name)
		}
	}
}

// socketHello opens a Socket Mode connection the way the bot does and
// waits for Slack's hello, proving the app token, Socket Mode and the
// WebSocket path all work.
func socketHello(ctx context.Context, api *slack.Client) error {
	_, wsURL, err := api.StartSocketModeContext(ctx)
	if err != nil {
		return err
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return fmt.Errorf("cannot open the WebSocket: %w", withoutURL(err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("connected, but no hello from Slack: %w", withoutURL(err))
		}
		var m struct{ Type string }
		if json.Unmarshal(data, &m) == nil && m.Type == "hello" {
			return nil
		}
	}
}

// slackHint words a Slack error so that it points at what to fix.
func slackHint(err error, apiURL, tokenVar string) string {
	if isUnreachable(err) {
		return fmt.Sprintf("cannot reach Slack at SLACK_API_URL (%s): %v", apiURL, withoutURL(err))
	}
	switch code := slackCode(err); code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return fmt.Sprintf("Slack rejected %s (%s)", tokenVar, code)
	case "not_allowed_token_type":
		return fmt.Sprintf("%s is the wrong kind of token (%s)", tokenVar, code)
	case "missing_scope":
		if tokenVar == "SLACK_APP_TOKEN" {
			return "the app-level token lacks the connections:write scope (missing_scope)"
		}
		return "the bot token lacks a scope: reinstall the app from slack-app-manifest.yaml (missing_scope)"
	case "":
		return withoutURL(err).Error()
	default:
		if tokenVar == "SLACK_APP_TOKEN" {
			return code + " (is Socket Mode enabled for the app?)"
		}
		return code
	}
}

func slackCode(err error) string {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return se.Err
	}
	return ""
}

// isUnreachable reports whether err is a failure to reach a server at all.
func isUnreachable(err error) bool {
	var (
		oe *net.OpError
		de *net.DNSError
	)
	return errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded)
}

// withoutURL drops the URL net/http and gorilla put in errors: Slack's
// WebSocket URL carries a connection ticket.
func withoutURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}

func checkAWS(ctx context.Context, c *checker, cfg *Config) {
	var awsCfg aws.Config
	err := step(ctx, awsStepTimeout, func(ctx context.Context) (err error) {
		awsCfg, err = awsconfig.LoadDefaultConfig(ctx)
		return err
	})
	if pe, ok := errors.AsType[awsconfig.SharedConfigProfileNotExistError](err); ok {
		c.fail("AWS_PROFILE: the profile %q is not in the AWS config or credentials files", pe.Profile)
		return
	}
	if err != nil {
		c.fail("AWS configuration (the SDK's standard chain): %v", err)
		return
	}
	if awsCfg.Region == "" {
		c.fail("AWS_REGION: not set; the bot needs the region of its STS endpoint (like us-east-1)")
		return
	}
	err = step(ctx, awsStepTimeout, func(ctx context.Context) error {
		_, err := awsCfg.Credentials.Retrieve(ctx)
		return err
	})
	if err != nil {
		c.fail("AWS credentials: none found in the standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or task role): %v", err)
		return
	}
	broker := federation.New(cfg.AWSConfig, awsCfg)
	var id federation.Identity
	err = step(ctx, awsStepTimeout, func(ctx context.Context) (err error) {
		id, err = broker.Check(ctx)
		return err
	})
	if err != nil {
		c.fail("AWS: %v", err)
		return
	}
	who := id.ARN
	if who == "" {
		who = "an identity STS would not name"
	}
	c.ok("AWS: running as %s; it may assume %s (checked with a deny-everything policy)", who, cfg.RoleARN)
	for _, e := range cfg.AllowedBuckets {
		err := step(ctx, awsStepTimeout, func(ctx context.Context) error { return broker.CheckScope(ctx, e) })
		if err != nil {
			c.fail("ALLOWED_BUCKETS %s: %v", e, err)
			continue
		}
		c.ok("ALLOWED_BUCKETS %s: a read grant can list it", e)
	}
	if !cfg.RevokeSessions {
		c.warn("REVOKE_SESSIONS is false: a grant ended early keeps its open AWS sessions until they end (at most MAX_SESSION_DURATION)")
		return
	}
	revoker, err := federation.NewRevoker(cfg.AWSConfig, awsCfg)
	if err == nil {
		err = step(ctx, awsStepTimeout, revoker.CheckAccess)
	}
	if err != nil {
		c.fail("REVOKE_SESSIONS: the bot cannot read the collaborator role's inline policies, so it could not cut the sessions of grants ended early: %v (grant the stack's BotPolicyArn, or set REVOKE_SESSIONS=false)", err)
		return
	}
	c.ok("REVOKE_SESSIONS: the bot can read the collaborator role's inline policies (%s)", federation.RevokedPolicyName)
}
