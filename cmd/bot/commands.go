package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/federation"
)

// envOr returns the environment variable or def.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// healthcheck probes /healthz of the bot running on HTTP_ADDR.
func healthcheck(ctx context.Context, stderr io.Writer) int {
	addr := envOr("HTTP_ADDR", ":8080")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: HTTP_ADDR: %q is not host:port\n", addr)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}

// auditLine is one audit event as printed by `bot audit`.
type auditLine struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	RequestID string            `json:"request_id"`
	Event     string            `json:"event"`
	Actor     string            `json:"actor,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// audit prints the audit log. It needs only DATABASE_URL, so an operator
// can read it without the bot's tokens.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.Duration("since", 0, "only events newer than this (like 24h)")
	request := fs.String("request", "", "only events of this request ID")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	store, err := openStore(ctx, envOr("DATABASE_URL", "sqlite:share-bucket.db"))
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return 1
	}
	defer store.Close()
	f := approval.AuditFilter{RequestID: *request}
	if *since > 0 {
		f.Since = time.Now().Add(-*since)
	}
	evs, err := store.Audit(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, ev := range evs {
		_ = enc.Encode(auditLine{Seq: ev.Seq, Time: ev.At.UTC(), RequestID: ev.RequestID, Event: string(ev.Kind), Actor: ev.Actor, Detail: ev.Detail})
	}
	return 0
}

// check validates the configuration and tries Slack and AWS, printing what
// is wrong in plain words. It grants nothing: the AssumeRole it makes
// carries a deny-everything session policy.
func check(ctx context.Context, stdout, stderr io.Writer) int {
	ok := true
	say := func(good bool, format string, args ...any) {
		mark := "ok  "
		if !good {
			mark, ok = "FAIL", false
		}
		fmt.Fprintf(stdout, "%s %s\n", mark, fmt.Sprintf(format, args...))
	}
	cfg, warnings, err := loadConfig()
	if err != nil {
		say(false, "configuration: %v", err)
		return 1
	}
	say(true, "configuration")
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warn %s\n", w)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		say(false, "%v", err)
	} else {
		say(store.Ping(ctx) == nil, "database %s", redactURL(cfg.DatabaseURL))
		store.Close()
	}

	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken))
	if auth, err := api.AuthTestContext(ctx); err != nil {
		say(false, "SLACK_BOT_TOKEN: auth.test failed: %v", err)
	} else {
		say(true, "slack bot %s in %s", auth.User, auth.Team)
	}
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		say(false, "SLACK_APP_TOKEN: cannot open a Socket Mode connection: %v (is Socket Mode on, and does the token have connections:write?)", err)
	} else {
		say(true, "slack socket mode")
	}
	if cfg.ApprovalChannel != "" {
		_, _, err := api.PostMessageContext(ctx, cfg.ApprovalChannel,
			slack.MsgOptionText(":white_check_mark: share-bucket check: approval requests will be posted in this channel.", false))
		say(err == nil, "APPROVAL_CHANNEL %s: post a test message%s", cfg.ApprovalChannel, errSuffix(err, " (invite the bot to the channel: /invite @share-bucket)"))
	}
	for _, id := range cfg.Approvers {
		u, err := api.GetUserInfoContext(ctx, id)
		say(err == nil && !u.Deleted, "approver %s%s", id, errSuffix(err, ""))
	}

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil || awsCfg.Region == "" {
		say(false, "AWS configuration: region and credentials from the standard chain (set AWS_REGION)%s", errSuffix(err, ""))
		return 1
	}
	id, err := federation.New(cfg.AWSConfig, awsCfg).Check(ctx)
	if err != nil {
		say(false, "AWS: %v", err)
	} else {
		say(true, "AWS: running as %s; it may assume %s (checked with a deny-everything policy)", id.ARN, cfg.RoleARN)
	}
	if !ok {
		return 1
	}
	return 0
}

func errSuffix(err error, hint string) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf(": %v%s", err, hint)
}

// redactURL shows a database URL without its password.
func redactURL(s string) string {
	kind, _, err := storeKind(s)
	if err != nil || kind == "sqlite" {
		return s
	}
	return "postgres (" + prefixOf(s) + "…)"
}
