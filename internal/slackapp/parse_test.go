package slackapp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

func TestParseCommand(t *testing.T) {
	const def = time.Hour
	w, r := approval.AccessWrite, approval.AccessRead
	tests := []struct {
		text   string
		bucket string
		prefix string
		access approval.Access
		dur    time.Duration
		reason string
	}{
		{"collab-bucket/myfolder/ 2h write quarterly numbers for the auditors", "collab-bucket", "myfolder/", w, 2 * time.Hour, "quarterly numbers for the auditors"},
		{"s3://collab-bucket/myfolder 15m read check", "collab-bucket", "myfolder/", r, 15 * time.Minute, "check"},
		{"collab-bucket audit", "collab-bucket", "", w, def, "audit"},
		{"collab-bucket/a/b/c/ 1h30m x", "collab-bucket", "a/b/c/", w, 90 * time.Minute, "x"},
		{"collab-bucket/a 1d because", "collab-bucket", "a/", w, 24 * time.Hour, "because"},
		{"collab-bucket/a READ 2H Because", "collab-bucket", "a/", r, 2 * time.Hour, "Because"},
		{"collab-bucket/a read 1d12h long one", "collab-bucket", "a/", r, 36 * time.Hour, "long one"},
		{"collab-bucket/a write the read me file", "collab-bucket", "a/", w, def, "the read me file"},
		{"collab-bucket/a 2h read 3h is not a duration here", "collab-bucket", "a/", r, 2 * time.Hour, "3h is not a duration here"},
		{"  collab-bucket/a\t2h   for  <@U123|alice>  &amp; <!channel>  ", "collab-bucket", "a/", w, 2 * time.Hour, "for @alice & @channel"},
		{"collab-bucket/a ask <@U012ABCDEF> about <#C012ABCDE|general> <https://example.com|docs>", "collab-bucket", "a/", w, def, "ask @U012ABCDEF about #general docs"},
		{"collab-bucket/a 1&lt;2", "collab-bucket", "a/", w, def, "1<2"},
		{"collab-bucket/a 2 files are missing", "collab-bucket", "a/", w, def, "2 files are missing"},
		{"collab-bucket/a 2h read 90min is what I said", "collab-bucket", "a/", r, 2 * time.Hour, "90min is what I said"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, def)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tt.text, err)
			continue
		}
		want := Command{Kind: CmdRequest, Scope: approval.Scope{Bucket: tt.bucket, Prefix: tt.prefix, Access: tt.access}, Duration: tt.dur, Reason: tt.reason}
		if got != want {
			t.Errorf("ParseCommand(%q) = %+v; want %+v", tt.text, got, want)
		}
	}
}

func TestParseCommandKinds(t *testing.T) {
	tests := []struct {
		text string
		want Command
	}{
		{"", Command{Kind: CmdModal}},
		{"   ", Command{Kind: CmdModal}},
		{"help", Command{Kind: CmdHelp}},
		{"HELP", Command{Kind: CmdHelp}},
		{"list", Command{Kind: CmdList}},
		{"revoke k7qx2m4rta", Command{Kind: CmdRevoke, ID: "K7QX2M4RTA"}},
		{"revoke K7QX2M4RTA", Command{Kind: CmdRevoke, ID: "K7QX2M4RTA"}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, time.Hour)
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
		}
	}
}

func TestParseCommandRefusals(t *testing.T) {
	tests := []struct {
		text string
		want string // part of the problem
	}{
		{"collab-bucket/myfolder/ 2h write", "reason is required"},
		{"collab-bucket/myfolder/", "reason is required"},
		{"collab-bucket 2h", "reason is required"},
		{"Collab-Bucket/x why", "not a valid bucket name"},
		{"ab/x why", "not a valid bucket name"},
		{"192.168.0.1/x why", "not a valid bucket name"},
		{"xn--bucket/x why", "not a valid bucket name"},
		{"bucket_name/x why", "not a valid bucket name"},
		{"<@U123>/x why", "not a valid bucket name"},
		{"collab-bucket/../secret why", "not an allowed folder"},
		{"collab-bucket/a/../../b why", "not an allowed folder"},
		{"collab-bucket/* why", "not an allowed folder"},
		{"collab-bucket/a? why", "not an allowed folder"},
		{"collab-bucket/%2e%2e/x why", "not an allowed folder"},
		{"collab-bucket/a\\b why", "not an allowed folder"},
		{"collab-bucket//abs why", "not an allowed folder"},
		{"collab-bucket/a\u200bb why", "not an allowed folder"},
		{"collab-bucket/a\u0007 why", "not an allowed folder"},
		{"collab-bucket/${aws:username}/ why", "not an allowed folder"},
		{"collab-bucket/a 0m why", "not a usable duration"},
		{"collab-bucket/a 99999h why", "too long a duration"},
		{"collab-bucket/a 1.5h why", "is not a duration; write it like"},
		{"collab-bucket/a 90min why", "is not a duration; write it like"},
		{"collab-bucket/a read 2hours why", "is not a duration; write it like"},
		{"collab-bucket/a 1h30 why", "is not a duration; write it like"},
		{"revoke", "revoke takes one request ID"},
		{"revoke a b", "revoke takes one request ID"},
		{"revoke ../../etc", "is not a request ID"},
		{"list all", "list takes no arguments"},
		{"collab-bucket/a why " + strings.Repeat("x", MaxCommandLen), "the limit is"},
		{"collab-bucket/a why \xff\xfe", "not valid text"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, time.Hour)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want a UsageError", tt.text, got, err)
			continue
		}
		if !strings.Contains(ue.Problem, tt.want) {
			t.Errorf("ParseCommand(%q) problem = %q; want it to mention %q", tt.text, ue.Problem, tt.want)
		}
	}
}
