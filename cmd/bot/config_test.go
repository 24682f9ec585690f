package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goodEnv is a valid configuration; tests change one variable at a time.
var goodEnv = map[string]string{
	"SLACK_APP_TOKEN":       "xapp-1-test",
	"SLACK_BOT_TOKEN":       "xoxb-test",
	"COLLABORATOR_ROLE_ARN": "arn:aws:iam::123456789012:role/share-bucket-collaborator",
	"APPROVERS":             "U0APPROVER1, U0APPROVER2",
	"ALLOWED_BUCKETS":       "collab-bucket/myfolder/,whole-bucket",
}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "COLLABORATOR_ROLE_ARN", "APPROVERS", "ALLOWED_BUCKETS",
		"APPROVAL_CHANNEL", "APPROVALS_REQUIRED", "DEFAULT_DURATION", "MAX_DURATION", "EXPIRY_WARNING", "APPROVAL_TIMEOUT",
		"MAX_SESSION_DURATION", "SLACK_API_URL", "FEDERATION_URL", "CONSOLE_URL", "DATABASE_URL", "HTTP_ADDR", "LOG_LEVEL", "KMS_KEY_ARNS",
		"MAX_PENDING_PER_USER"} {
		t.Setenv(k, "")
		if v, ok := env[k]; ok {
			t.Setenv(k, v)
		} else {
			unsetenv(t, k)
		}
	}
}

func with(changes ...string) map[string]string {
	env := map[string]string{}
	for k, v := range goodEnv {
		env[k] = v
	}
	for _, c := range changes {
		k, v, _ := strings.Cut(c, "=")
		if v == "<unset>" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}

func TestLoadConfigDefaults(t *testing.T) {
	setEnv(t, goodEnv)
	cfg, warnings, err := loadConfig()
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q; want none", warnings)
	}
	p := cfg.Policy()
	if got := strings.Join(p.Approvers, ","); got != "U0APPROVER1,U0APPROVER2" {
		t.Errorf("approvers = %s", got)
	}
	if p.MaxDuration.String() != "12h0m0s" || p.ExpiryWarning.String() != "10m0s" || p.ApprovalTimeout.String() != "8h0m0s" ||
		p.MaxSession.String() != "1h0m0s" || p.ApprovalsRequired != 1 || p.Allowed.String() != "collab-bucket/myfolder/,whole-bucket" ||
		p.MaxPending != 5 {
		t.Errorf("policy = %+v", p)
	}
	if cfg.DatabaseURL != "sqlite:share-bucket.db" || cfg.HTTPAddr != ":8080" || cfg.APIURL != "https://slack.com/api/" ||
		cfg.FederationURL != "https://signin.aws.amazon.com/federation" || cfg.ConsoleURL != "https://console.aws.amazon.com/" {
		t.Errorf("defaults = %+v", cfg)
	}
	if got := example(cfg); got != "/share-bucket collab-bucket/myfolder/ 2h write quarterly numbers for the auditors" {
		t.Errorf("example = %q", got)
	}
}

// TestLoadConfigErrors: each bad or missing variable stops the bot with a
// message naming it, and never repeats a token.
func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		change string
		want   string
	}{
		{"SLACK_APP_TOKEN=<unset>", "SLACK_APP_TOKEN: required: app-level token"},
		{"SLACK_BOT_TOKEN=<unset>", "SLACK_BOT_TOKEN"},
		{"COLLABORATOR_ROLE_ARN=<unset>", "COLLABORATOR_ROLE_ARN"},
		{"APPROVERS=<unset>", "APPROVERS"},
		{"ALLOWED_BUCKETS=<unset>", "ALLOWED_BUCKETS"},
		{"SLACK_APP_TOKEN=xoxb-wrong-kind-SECRET", "SLACK_APP_TOKEN: must be an app-level token"},
		{"SLACK_BOT_TOKEN=xapp-wrong-kind-SECRET", "SLACK_BOT_TOKEN: must be a bot token"},
		{"COLLABORATOR_ROLE_ARN=arn:aws:iam::123:role/x", "COLLABORATOR_ROLE_ARN"},
		{"COLLABORATOR_ROLE_ARN=arn:aws:s3:::bucket", "COLLABORATOR_ROLE_ARN"},
		{"APPROVERS=", "APPROVERS"},
		{"APPROVERS=alice", "APPROVERS"},
		{"APPROVERS=U0APPROVER1,@bob", "APPROVERS"},
		{"ALLOWED_BUCKETS=Bad_Bucket", "ALLOWED_BUCKETS"},
		{"ALLOWED_BUCKETS=collab-bucket/../x", "ALLOWED_BUCKETS"},
		{"ALLOWED_BUCKETS=collab-bucket/*", "ALLOWED_BUCKETS"},
		{"APPROVALS_REQUIRED=0", "APPROVALS_REQUIRED"},
		{"APPROVALS_REQUIRED=3", "APPROVALS_REQUIRED: 3 approvals needed but APPROVERS lists only 2"},
		{"APPROVALS_REQUIRED=two", `APPROVALS_REQUIRED: "two" is not a whole number (like 2)`},
		{"APPROVALS_REQUIRED=-1", `APPROVALS_REQUIRED: "-1" is not a whole number`},
		{"MAX_DURATION=13h", "MAX_DURATION: 13h is longer than 12h"},
		{"MAX_DURATION=2d", "MAX_DURATION: 2d is longer than 12h"},
		{"MAX_DURATION=10m", "MAX_DURATION"},
		{"MAX_DURATION=soon", `MAX_DURATION: "soon" is not a duration; write it like 15m, 2h, 1h30m or 1d`},
		{"MAX_SESSION_DURATION=1.5h", `MAX_SESSION_DURATION: "1.5h" is not a duration`},
		{"MAX_SESSION_DURATION=1d", "MAX_SESSION_DURATION: 1d is out of range: it must be between 15m and 12h"},
		{"DEFAULT_DURATION=5m", "DEFAULT_DURATION"},
		{"EXPIRY_WARNING=12h", "EXPIRY_WARNING"},
		{"APPROVAL_TIMEOUT=0s", "APPROVAL_TIMEOUT"},
		{"MAX_PENDING_PER_USER=0", "MAX_PENDING_PER_USER: must be at least 1"},
		{"MAX_PENDING_PER_USER=lots", `MAX_PENDING_PER_USER: "lots" is not a whole number`},
		{"MAX_SESSION_DURATION=5m", "MAX_SESSION_DURATION"},
		{"MAX_SESSION_DURATION=13h", "MAX_SESSION_DURATION"},
		{"APPROVAL_CHANNEL=#approvals", "APPROVAL_CHANNEL"},
		{"SLACK_API_URL=slack.com", "SLACK_API_URL"},
		{"FEDERATION_URL=ftp://x", "FEDERATION_URL"},
		{"DATABASE_URL=mysql://x", "DATABASE_URL"},
		{"DATABASE_URL=sqlite:", "DATABASE_URL"},
		{"HTTP_ADDR=8080", "HTTP_ADDR"},
		{"LOG_LEVEL=loud", "LOG_LEVEL"},
		{"KMS_KEY_ARNS=alias/collab-data", `KMS_KEY_ARNS: "alias/collab-data" is not a KMS key ARN; write arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (or …:alias/NAME)`},
		{"KMS_KEY_ARNS=arn:aws:kms:us-east-1:123456789012:alias/collab data", `KMS_KEY_ARNS: "arn:aws:kms:us-east-1:123456789012:alias/collab data": an alias name has letters`},
		{"KMS_KEY_ARNS=arn:aws:kms:mars-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", `"mars-1" is not an AWS region`},
		{"KMS_KEY_ARNS=arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			"KMS_KEY_ARNS: arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab is in the aws-cn partition but COLLABORATOR_ROLE_ARN is in aws"},
		{"KMS_KEY_ARNS=" + manyAliases(8), "KMS_KEY_ARNS: with these 8 keys the largest session policy a grant can need (write access to a folder of 256 characters in bucket collab-bucket) would be"},
	}
	for _, tt := range tests {
		t.Run(tt.change, func(t *testing.T) {
			setEnv(t, with(tt.change))
			_, _, err := loadConfig()
			if err == nil {
				t.Fatalf("loadConfig with %s succeeded; want an error naming %s", tt.change, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q; want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error repeats a token: %q", err)
			}
		})
	}
}

func TestLoadConfigWarnings(t *testing.T) {
	tests := []struct {
		changes []string
		want    string
	}{
		{[]string{"APPROVERS=U0ONLYONE"}, "an approver's own requests can never be approved"},
		{[]string{"APPROVALS_REQUIRED=2"}, "an approver's own requests can never be approved"},
		{[]string{"MAX_SESSION_DURATION=2h"}, "MAX_SESSION_DURATION is over 1h"},
	}
	for _, tt := range tests {
		setEnv(t, with(tt.changes...))
		_, warnings, err := loadConfig()
		if err != nil {
			t.Fatalf("%v: %v", tt.changes, err)
		}
		if !strings.Contains(strings.Join(warnings, "\n"), tt.want) {
			t.Errorf("%v: warnings = %q; want %q", tt.changes, warnings, tt.want)
		}
	}
}

// TestHelpListsEveryVariable: bot -help prints each variable, its default
// and meaning; the README's table is the same list.
func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-help"}, &out, &out); code != 0 {
		t.Fatalf("bot -help exit %d", code)
	}
	for _, want := range []string{
		"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "COLLABORATOR_ROLE_ARN", "APPROVERS", "ALLOWED_BUCKETS",
		"APPROVAL_CHANNEL", "APPROVALS_REQUIRED  ", "DEFAULT_DURATION    ", "1h", "MAX_DURATION", "12h", "EXPIRY_WARNING", "10m",
		"APPROVAL_TIMEOUT", "8h", "MAX_SESSION_DURATION", "SLACK_API_URL", "https://slack.com/api/",
		"FEDERATION_URL", "https://signin.aws.amazon.com/federation", "CONSOLE_URL", "https://console.aws.amazon.com/",
		"DATABASE_URL", "sqlite:share-bucket.db", "HTTP_ADDR", ":8080", "LOG_LEVEL", "info", "KMS_KEY_ARNS",
		"MAX_PENDING_PER_USER",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bot -help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStartupErrorExitCode(t *testing.T) {
	setEnv(t, with("COLLABORATOR_ROLE_ARN=nonsense"))
	var out bytes.Buffer
	if code := run(context.Background(), nil, &out, &out); code != 2 {
		t.Errorf("exit %d; want 2", code)
	}
	if !strings.Contains(out.String(), "COLLABORATOR_ROLE_ARN") {
		t.Errorf("output %q does not name the variable", out.String())
	}
}

func TestUnreachableDatabase(t *testing.T) {
	_, err := openStore(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("openStore on a missing directory = %v; want an error naming DATABASE_URL", err)
	}
	_, err = openStore(context.Background(), "postgres://nobody:SECRETPW@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "SECRETPW") {
		t.Errorf("openStore on an unreachable PostgreSQL = %v; want an error naming DATABASE_URL without the password", err)
	}
}

// TestLoadConfigReportsEverything: one run lists every missing or
// malformed variable with its hint; an unreadable value neither hides the
// others nor sets off checks that depend on it.
func TestLoadConfigReportsEverything(t *testing.T) {
	setEnv(t, with("SLACK_BOT_TOKEN=<unset>", "APPROVERS=alice", "APPROVALS_REQUIRED=two", "MAX_DURATION=soon",
		"DEFAULT_DURATION=2h", "EXPIRY_WARNING=1d", "FEDERATION_URL=https://signin.example/federation", "LOG_LEVEL=loud"))
	_, _, err := loadConfig()
	if err == nil {
		t.Fatal("loadConfig succeeded")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"SLACK_BOT_TOKEN: required: bot user OAuth token (xoxb-…)",
		`APPROVERS: "alice" is not a Slack user ID (like U0123ABCD: the user's profile → ⋮ → Copy member ID) or user group ID (like S0123ABCD: the group's page → ⋮ → Copy group ID)`,
		`APPROVALS_REQUIRED: "two" is not a whole number (like 2)`,
		`MAX_DURATION: "soon" is not a duration; write it like 15m, 2h, 1h30m or 1d`,
		`FEDERATION_URL: "https://signin.example/federation" is not an AWS signin host: sign-in links carry secrets and must only go to AWS; use https://signin.aws.amazon.com/federation`,
		`LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDurationsEverywhere: every duration variable takes the users' form.
func TestDurationsEverywhere(t *testing.T) {
	setEnv(t, with("MAX_DURATION=12h", "DEFAULT_DURATION=1h30m", "EXPIRY_WARNING=14m40s", "APPROVAL_TIMEOUT=1d", "MAX_SESSION_DURATION=45m"))
	cfg, _, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Policy()
	if p.MaxDuration != 12*time.Hour || time.Duration(cfg.DefaultDuration) != 90*time.Minute ||
		p.ExpiryWarning != 14*time.Minute+40*time.Second || p.ApprovalTimeout != 24*time.Hour || p.MaxSession != 45*time.Minute {
		t.Errorf("policy = %+v, default %v", p, cfg.DefaultDuration)
	}
}

// manyAliases returns n KMS alias ARNs, each in an account of its own, so
// each takes a statement of the session policy.
func manyAliases(n int) string {
	var arns []string
	for i := range n {
		arns = append(arns, fmt.Sprintf("arn:aws:kms:us-east-1:%012d:alias/collab-data", i+1))
	}
	return strings.Join(arns, ",")
}

// TestLoadConfigKMSKeys: keys and aliases are read, and a few of them fit
// beside the largest grant on the allowed buckets.
func TestLoadConfigKMSKeys(t *testing.T) {
	keys := "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, arn:aws:kms:us-east-1:123456789012:alias/collab-data"
	setEnv(t, with("KMS_KEY_ARNS="+keys))
	cfg, _, err := loadConfig()
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if got := cfg.KMSKeys.String(); got != strings.ReplaceAll(keys, " ", "") {
		t.Errorf("KMS keys = %q", got)
	}
}
