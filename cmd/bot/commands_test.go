package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval/approvaltest"
)

// TestSubcommandHelp: -help after a subcommand prints that command's help
// and runs nothing.
func TestSubcommandHelp(t *testing.T) {
	setEnv(t, with("SLACK_BOT_TOKEN=<unset>")) // check would fail, if it ran
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "-help"}, "Usage: bot check"},
		{[]string{"check", "-h"}, "Usage: bot check"},
		{[]string{"audit", "--help"}, "-since"},
		{[]string{"run", "-help"}, "Usage: bot [run]"},
		{[]string{"healthcheck", "-help"}, "Usage: bot healthcheck"},
		{[]string{"version", "-help"}, "Usage: bot version"},
		{[]string{"help"}, "bot check"},
		{[]string{"-help"}, "MAX_SESSION_DURATION"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), tt.want) || strings.Contains(out.String(), "FAIL") {
			t.Errorf("bot %s = %d, %q (stderr %q); want 0 and help mentioning %q", strings.Join(tt.args, " "), code, out.String(), errOut.String(), tt.want)
		}
	}
}

func TestStrayArguments(t *testing.T) {
	for _, args := range [][]string{{"audit", "extra"}, {"check", "now"}, {"version", "x"}, {"audit", "-since", "24h", "-request", "K7QX2M4RTA", "more"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unexpected argument") {
			t.Errorf("bot %s = %d, %q; want 2 and a complaint about the argument", strings.Join(args, " "), code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Errorf("bot frobnicate = %d, %q", code, errOut.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "share-bucket ") || !strings.Contains(out.String(), "built with go") {
		t.Errorf("bot version = %d, %q", code, out.String())
	}
}

// TestAuditRefusesMissingFile: reading the audit log of a SQLite file that
// does not exist is an error, and creates nothing.
func TestAuditRefusesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.db")
	t.Setenv("DATABASE_URL", "sqlite:"+path)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"audit"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "DATABASE_URL: no SQLite database at "+path) {
		t.Errorf("bot audit = %d, %q; want 1 and a clear error", code, errOut.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("bot audit created %s", path)
	}
	for _, args := range [][]string{{"audit", "-since", "soon"}, {"audit", "-request", "../x"}} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("bot %s = %d, %q; want 2", strings.Join(args, " "), code, errOut.String())
		}
	}
}

func TestAuditSinceDays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := openStore(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Setenv("DATABASE_URL", "sqlite:"+path)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"audit", "-since", "1d"}, &out, &errOut); code != 0 {
		t.Errorf("bot audit -since 1d = %d, %q", code, errOut.String())
	}
}

// TestAuditBesideRunningBot: bot audit on the SQLite file of a running
// bot takes none of its event leases, so no notice is sent twice.
func TestAuditBesideRunningBot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := openStore(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, ev := approvaltest.Pending(approvaltest.ID("audit"), "UREQ")
	approvaltest.MustCreate(t, s, r, ev)
	now := approvaltest.T0.Add(time.Minute)
	if evs, err := s.Claim(ctx, "running-bot", now, time.Hour, 10); err != nil || len(evs) != 1 {
		t.Fatalf("Claim = %v, %v", evs, err)
	}

	t.Setenv("DATABASE_URL", "sqlite:"+path)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"audit"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), r.ID) {
		t.Fatalf("bot audit = %d, %q, %q", code, out.String(), errOut.String())
	}
	if evs, err := s.Claim(ctx, "someone-else", now, time.Hour, 10); err != nil || len(evs) != 0 {
		t.Errorf("after bot audit, Claim = %+v, %v; want nothing (the running bot's lease kept)", evs, err)
	}
}
