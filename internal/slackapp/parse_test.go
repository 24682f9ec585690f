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
		{"list 3", Command{Kind: CmdList, Page: 3}},
		{"link k7qx2m4rta", Command{Kind: CmdLink, ID: "K7QX2M4RTA"}},
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
		{"list all", `"all" is not a page number`},
		{"list 2 3", "list takes at most a page number"},
		{"list 0", `"0" is not a page number`},
		{"link", "link takes the ID of your grant"},
		{"link a b", "link takes the ID of your grant"},
		{"link ../x", "is not a request ID"},
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

func TestParseCommandObjects(t *testing.T) {
	const def = time.Hour
	get := func(bucket, key string, d time.Duration, reason string) Command {
		return Command{Kind: CmdRequest, Scope: approval.Scope{Kind: approval.KindGet, Bucket: bucket, Key: key, Access: approval.AccessRead}, Duration: d, Reason: reason}
	}
	put := func(bucket, key string, d time.Duration, reason string) Command {
		return Command{Kind: CmdRequest, Scope: approval.Scope{Kind: approval.KindPut, Bucket: bucket, Key: key, Access: approval.AccessWrite}, Duration: d, Reason: reason}
	}
	longKey := strings.Repeat("k", approval.MaxKeyLen)
	tests := []struct {
		text string
		want Command
	}{
		{"get collab-bucket/myfolder/report.pdf 2h for the auditors", get("collab-bucket", "myfolder/report.pdf", 2*time.Hour, "for the auditors")},
		{"GET s3://collab-bucket/myfolder/report.pdf audit", get("collab-bucket", "myfolder/report.pdf", def, "audit")},
		{"put collab-bucket/in/drop.zip 30m vendor delivery", put("collab-bucket", "in/drop.zip", 30*time.Minute, "vendor delivery")},
		{"Put collab-bucket/root.txt 1d12h long upload", put("collab-bucket", "root.txt", 36*time.Hour, "long upload")},
		{"get collab-bucket/a/Q1_(final)!'=+@,.xlsx 15m x", get("collab-bucket", "a/Q1_(final)!'=+@,.xlsx", 15*time.Minute, "x")},
		{"get collab-bucket/a.b read it please", get("collab-bucket", "a.b", def, "read it please")},
		{"put collab-bucket/a.b write 2h here", put("collab-bucket", "a.b", def, "write 2h here")},
		{"get collab-bucket/x.csv 2 files are missing", get("collab-bucket", "x.csv", def, "2 files are missing")},
		{"get  collab-bucket/x.csv\t2h   for  <@U123|alice>  &amp; <!channel>  ", get("collab-bucket", "x.csv", 2*time.Hour, "for @alice & @channel")},
		{"get <http://collab-bucket/report.pdf|collab-bucket/report.pdf> 2h linked by Slack", get("collab-bucket", "report.pdf", 2*time.Hour, "linked by Slack")},
		{"put s3://" + strings.Repeat("b", 63) + "/" + longKey + " 12h " + strings.Repeat("r", approval.MaxReasonLen),
			put(strings.Repeat("b", 63), longKey, 12*time.Hour, strings.Repeat("r", approval.MaxReasonLen))},
		// A bucket named like the command is still a folder request.
		{"get/folder/ 1h x", Command{Kind: CmdRequest, Scope: approval.Scope{Bucket: "get", Prefix: "folder/", Access: approval.AccessWrite}, Duration: def, Reason: "x"}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, def)
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%.60q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
		}
	}
}

func TestParseCommandObjectRefusals(t *testing.T) {
	tests := []struct {
		text string
		kind approval.Kind
		want string // part of the problem
	}{
		{"get", approval.KindGet, "get takes a bucket and the key of one file"},
		{"put   ", approval.KindPut, "put takes a bucket and the key of one file"},
		{"get collab-bucket 1h why", approval.KindGet, "get takes one file: add its key after the bucket, like collab-bucket/folder/report.pdf (for a whole bucket or folder, leave out get)"},
		{"get s3://collab-bucket/ 1h why", approval.KindGet, "get takes one file"},
		{"put collab-bucket/myfolder/ 1h why", approval.KindPut, `"myfolder/" is a folder, and put takes one file: add the file's name (for the whole folder, leave out put)`},
		{"get collab-bucket/a/b/ why", approval.KindGet, "is a folder"},
		{"get Collab/x.txt why", approval.KindGet, "not a valid bucket name"},
		{"get 192.168.0.1/x.txt why", approval.KindGet, "not a valid bucket name"},
		{"get collab-bucket/../secret.txt why", approval.KindGet, "not an allowed key: a key has no . or .. parts"},
		{"get collab-bucket/a//b.txt why", approval.KindGet, "not an allowed key: a key has no empty parts"},
		{"get collab-bucket//abs.txt why", approval.KindGet, "not an allowed key"},
		{"get collab-bucket/*.pdf why", approval.KindGet, "not an allowed key: wildcards"},
		{"put collab-bucket/${aws:username}.txt why", approval.KindPut, "not an allowed key: $"},
		{"get collab-bucket/%2e%2e/x why", approval.KindGet, "percent-encoding"},
		{"get collab-bucket/a\\b.txt why", approval.KindGet, "backslashes"},
		{"get collab-bucket/a\u200bb.txt why", approval.KindGet, "not allowed in a key"},
		{"get collab-bucket/" + strings.Repeat("k", approval.MaxKeyLen+1) + " why", approval.KindGet, "at most 1024 bytes"},
		{"get collab-bucket/x.txt", approval.KindGet, "a reason is required: say why you need the file"},
		{"put collab-bucket/x.txt 2h", approval.KindPut, "a reason is required"},
		{"get collab-bucket/x.txt 0m why", approval.KindGet, "not a usable duration"},
		{"get collab-bucket/x.txt 1.5h why", approval.KindGet, "is not a duration; write it like"},
		{"put collab-bucket/x.txt 99999h why", approval.KindPut, "too long a duration"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, time.Hour)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%.60q) = %+v, %v; want a UsageError", tt.text, got, err)
			continue
		}
		if !strings.Contains(ue.Problem, tt.want) || ue.Object != tt.kind {
			t.Errorf("ParseCommand(%.60q) problem = %q for %q; want it to mention %q, for %q", tt.text, ue.Problem, ue.Object, tt.want, tt.kind)
		}
	}
	// Folder refusals show the folder example.
	if _, err := ParseCommand("collab-bucket/../x why", time.Hour); err.(*UsageError).Object != "" {
		t.Errorf("a folder refusal is marked as one for an object")
	}
}

func TestParseExtend(t *testing.T) {
	got, err := ParseCommand("extend k7qx2m4rta 1h30m still auditing <@U1>", time.Hour)
	if err != nil || got.Kind != CmdExtend || got.ID != "K7QX2M4RTA" || got.Duration != 90*time.Minute || got.Reason != "still auditing @U1" {
		t.Fatalf("ParseCommand(extend …) = %+v, %v", got, err)
	}
	for text, want := range map[string]string{
		"extend":                       "extend takes a request ID",
		"extend K7QX2M4RTA":            "extend takes a request ID",
		"extend nope 1h why":           `"nope" is not a request ID`,
		"extend K7QX2M4RTA soon why":   `"soon" is not a duration; write the time to add like`,
		"extend K7QX2M4RTA 1h":         "a reason is required",
		"extend K7QX2M4RTA 0m why":     "is not a usable duration",
		"extend K7QX2M4RTA 99999h why": "too long a duration",
	} {
		_, err := ParseCommand(text, time.Hour)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCommand(%q) = %v; want %q", text, err, want)
		}
	}
}
