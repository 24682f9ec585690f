package approval_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
)

func TestCheckBucket(t *testing.T) {
	good := []string{"abc", "collab-bucket", "my.bucket.name", "a1b2c3", "123bucket", "x-y.z9",
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"}
	for _, name := range good {
		if err := approval.CheckBucket(name); err != nil {
			t.Errorf("CheckBucket(%q) = %v; want nil", name, err)
		}
	}
	bad := []string{"", "ab", "Collab", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b",
		"192.168.1.1", "10.0.0.01", "xn--abc", "sthree-abc", "amzn-s3-demo-x", "abc-s3alias", "abc--ol-s3",
		"abc.mrap", "abc--x-s3", "abc--table-s3", "abc def", "abc/def", "ab\u200bc", "abç",
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"}
	for _, name := range bad {
		err := approval.CheckBucket(name)
		if err == nil {
			t.Errorf("CheckBucket(%q) = nil; want an error", name)
			continue
		}
		if !errors.Is(err, approval.ErrInvalid) {
			t.Errorf("CheckBucket(%q) = %v; want ErrInvalid", name, err)
		}
	}
}

func TestCleanPrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"myfolder", "myfolder/", true},
		{"myfolder/", "myfolder/", true},
		{"a/b/c", "a/b/c/", true},
		{"Reports-2026_Q1/(final)!", "Reports-2026_Q1/(final)!/", true},
		{"a.b/c", "a.b/c/", true},
		{"/abs", "", false},
		{"..", "", false},
		{"a/../b", "", false},
		{"a/./b", "", false},
		{"a//b", "", false},
		{"a/*", "", false},
		{"a?", "", false},
		{"a/%2e%2e/b", "", false},
		{"a\\b", "", false},
		{"${aws:username}", "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
		{"a\u200bb", "", false},
		{"a\u202eb", "", false},
		{"dossier/é", "", false},
		{"a b", "", false},
		{"a<b", "", false},
		{string(make([]byte, approval.MaxPrefixLen+1)), "", false},
	}
	for _, tt := range tests {
		got, err := approval.CleanPrefix(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("CleanPrefix(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
		if !tt.ok && err == nil {
			t.Errorf("CleanPrefix(%q) = %q, nil; want an error", tt.in, got)
		}
	}
}

func TestAllowList(t *testing.T) {
	var l approval.AllowList
	for _, s := range []string{"whole-bucket", "collab-bucket/myfolder/", "s3://deep-bucket/a/b"} {
		e, err := approval.ParseAllowEntry(s)
		if err != nil {
			t.Fatalf("ParseAllowEntry(%q): %v", s, err)
		}
		l = append(l, e)
	}
	tests := []struct {
		bucket, prefix string
		want           bool
	}{
		{"whole-bucket", "", true},
		{"whole-bucket", "anything/", true},
		{"collab-bucket", "myfolder/", true},
		{"collab-bucket", "myfolder/sub/", true},
		{"collab-bucket", "", false},
		{"collab-bucket", "myfolderx/", false},
		{"collab-bucket", "other/", false},
		{"deep-bucket", "a/b/", true},
		{"deep-bucket", "a/", false},
		{"unknown-bucket", "", false},
	}
	for _, tt := range tests {
		if got := l.Allows(tt.bucket, tt.prefix); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v; want %v", tt.bucket, tt.prefix, got, tt.want)
		}
	}
	if got, want := l.String(), "whole-bucket,collab-bucket/myfolder/,deep-bucket/a/b/"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	for _, s := range []string{"", "Bad_Bucket", "ok-bucket/../x", "ok-bucket/*"} {
		if _, err := approval.ParseAllowEntry(s); err == nil {
			t.Errorf("ParseAllowEntry(%q) = nil error; want an error", s)
		}
	}
}

func TestCheckKey(t *testing.T) {
	good := []string{
		"report.pdf", "myfolder/report.pdf", "a/b/c/d.txt", "Reports-2026_Q1/(final)!.xlsx", "a.b/c", "...", "a..b",
		"x", strings.Repeat("k", approval.MaxKeyLen), strings.Repeat("a/", approval.MaxKeyLen/2-1) + "zz",
	}
	for _, key := range good {
		if err := approval.CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q) = %v; want nil", key, err)
		}
	}
	bad := []struct{ key, reason string }{
		{"", "is required"},
		{"myfolder/", "is a folder"},
		{"a/b/", "is a folder"},
		{"/", "is a folder"},
		{"/abs.txt", "does not start with /"},
		{"..", ". or .. parts"},
		{"a/../b.txt", ". or .. parts"},
		{"a/./b.txt", ". or .. parts"},
		{"./b.txt", ". or .. parts"},
		{"a//b.txt", "empty parts"},
		{"a/*.txt", "wildcards"},
		{"a?.txt", "wildcards"},
		{"${aws:username}.txt", "$ is not allowed in a key"},
		{"a%2e%2e/b", "percent-encoding"},
		{"a\\b.txt", "backslashes"},
		{"a\x00b", "not allowed in a key"},
		{"a\nb", "not allowed in a key"},
		{"a\u200bb", "not allowed in a key"},
		{"a\u202eb.txt", "not allowed in a key"},
		{"dossier/é.txt", "not allowed in a key"},
		{"my report.pdf", "not allowed in a key"},
		{"a<b", "not allowed in a key"},
		{strings.Repeat("k", approval.MaxKeyLen+1), "at most 1024 bytes"},
	}
	for _, tt := range bad {
		err := approval.CheckKey(tt.key)
		var ie *approval.InvalidError
		if !errors.As(err, &ie) || ie.Field != "key" || !strings.Contains(ie.Reason, tt.reason) {
			t.Errorf("CheckKey(%.40q) = %v; want an invalid key error saying %q", tt.key, err, tt.reason)
		}
	}
}

func TestScopeCheck(t *testing.T) {
	tests := []struct {
		name  string
		scope approval.Scope
		field string // "" for valid
	}{
		{"Folder", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite}, ""},
		{"FolderWithoutKind", approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead}, ""},
		{"WholeBucket", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Access: approval.AccessRead}, ""},
		{"Get", approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "myfolder/report.pdf", Access: approval.AccessRead}, ""},
		{"Put", approval.Scope{Kind: approval.KindPut, Bucket: "collab-bucket", Key: "drop.zip", Access: approval.AccessWrite}, ""},

		{"UnknownKind", approval.Scope{Kind: "list", Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead}, "kind"},
		{"FolderWithKey", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Key: "x", Access: approval.AccessRead}, "key"},
		{"FolderNoSlash", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder", Access: approval.AccessRead}, "prefix"},
		{"FolderAccess", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: "admin"}, "access"},
		{"BadBucket", approval.Scope{Kind: approval.KindGet, Bucket: "Bad_Bucket", Key: "x", Access: approval.AccessRead}, "bucket"},
		{"GetWithPrefix", approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Prefix: "myfolder/", Key: "myfolder/x", Access: approval.AccessRead}, "prefix"},
		{"GetNoKey", approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Access: approval.AccessRead}, "key"},
		{"GetFolderKey", approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "myfolder/", Access: approval.AccessRead}, "key"},
		{"GetWrite", approval.Scope{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "x", Access: approval.AccessWrite}, "access"},
		{"PutRead", approval.Scope{Kind: approval.KindPut, Bucket: "collab-bucket", Key: "x", Access: approval.AccessRead}, "access"},
		{"PutNoAccess", approval.Scope{Kind: approval.KindPut, Bucket: "collab-bucket", Key: "x"}, "access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.scope.Check()
			var ie *approval.InvalidError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Check() = %v; want nil", err)
			case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
				t.Errorf("Check() = %v; want an invalid %s", err, tt.field)
			}
		})
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		scope      approval.Scope
		want, path string
		object     bool
	}{
		{approval.Scope{Bucket: "b-1", Prefix: "f/", Access: approval.AccessRead}, "b-1/f/", "f/", false},
		{approval.Scope{Kind: approval.KindFolder, Bucket: "b-1"}, "b-1/", "", false},
		{approval.Scope{Kind: approval.KindGet, Bucket: "b-1", Key: "f/r.pdf"}, "b-1/f/r.pdf", "f/r.pdf", true},
		{approval.Scope{Kind: approval.KindPut, Bucket: "b-1", Key: "drop.zip"}, "b-1/drop.zip", "drop.zip", true},
	}
	for _, tt := range tests {
		if got := tt.scope.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.scope, got, tt.want)
		}
		if got := tt.scope.Path(); got != tt.path {
			t.Errorf("%+v.Path() = %q; want %q", tt.scope, got, tt.path)
		}
		if got := tt.scope.Object(); got != tt.object {
			t.Errorf("%+v.Object() = %v; want %v", tt.scope, got, tt.object)
		}
	}
	for k, want := range map[approval.Kind]approval.Access{approval.KindGet: approval.AccessRead, approval.KindPut: approval.AccessWrite, approval.KindFolder: "", "": ""} {
		if got := k.Access(); got != want {
			t.Errorf("Kind(%q).Access() = %q; want %q", k, got, want)
		}
	}
	if approval.Kind("").Valid() || !approval.KindFolder.Valid() || approval.Kind("delete").Valid() {
		t.Errorf("Kind.Valid is wrong for \"\", folder or delete")
	}
}

// TestAllowListKeys: a key is allowed only inside an allowed folder, never
// beside it or as the folder's own name.
func TestAllowListKeys(t *testing.T) {
	var l approval.AllowList
	for _, s := range []string{"whole-bucket", "collab-bucket/myfolder/"} {
		e, err := approval.ParseAllowEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		l = append(l, e)
	}
	tests := []struct {
		bucket, key string
		want        bool
	}{
		{"whole-bucket", "root.txt", true},
		{"whole-bucket", "a/b/c.txt", true},
		{"collab-bucket", "myfolder/report.pdf", true},
		{"collab-bucket", "myfolder/sub/report.pdf", true},
		{"collab-bucket", "myfolder", false},
		{"collab-bucket", "myfolderx/report.pdf", false},
		{"collab-bucket", "myfolder.pdf", false},
		{"collab-bucket", "root.txt", false},
		{"collab-bucket", "other/myfolder/report.pdf", false},
		{"other-bucket", "myfolder/report.pdf", false},
	}
	for _, tt := range tests {
		if got := l.Allows(tt.bucket, tt.key); got != tt.want {
			t.Errorf("Allows(%q, key %q) = %v; want %v", tt.bucket, tt.key, got, tt.want)
		}
	}
}
