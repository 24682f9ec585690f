package approval_test

import (
	"errors"
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
