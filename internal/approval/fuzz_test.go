package approval_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// FuzzCleanPrefix checks that whatever CleanPrefix accepts is a plain
// folder that cannot widen an IAM policy or leave the folder, and that
// cleaning is idempotent.
func FuzzCleanPrefix(f *testing.F) {
	for _, s := range []string{
		"", "myfolder", "myfolder/", "a/b/c/", "a/b/c", "reports-2024_q1/", "a.b/", "...", "a..b/",
		"..", "../", "a/../b", "a/./b", "./a", "/abs", "//", "a//b", "*", "a*/", "a?", "${aws:username}/",
		"%2e%2e/", "%2F", "a\\b", "a\x00b", "a\u200bb", "a\u202eb", "a\ufeffb", "a\tb", "a b", "\u00e9t\u00e9/",
		strings.Repeat("a", approval.MaxPrefixLen), strings.Repeat("a", approval.MaxPrefixLen+1),
		strings.Repeat("a/", 120), "a\xffb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := approval.CleanPrefix(p)
		if err != nil {
			if _, ok := err.(*approval.InvalidError); !ok {
				t.Fatalf("CleanPrefix(%q) error %T %v; want *InvalidError", p, err, err)
			}
			if got != "" {
				t.Fatalf("CleanPrefix(%q) = %q with an error", p, got)
			}
			return
		}
		checkSafePrefix(t, p, got)
		again, err := approval.CleanPrefix(got)
		if err != nil || again != got {
			t.Fatalf("CleanPrefix(%q) = %q, but cleaning that again gives %q, %v", p, got, again, err)
		}
	})
}

// checkSafePrefix fails t unless prefix (cleaned from in) is empty or a
// folder of safe characters ending in "/".
func checkSafePrefix(t *testing.T, in, prefix string) {
	t.Helper()
	if prefix == "" {
		if in != "" {
			t.Fatalf("CleanPrefix(%q) = \"\": a non-empty folder must not widen to the whole bucket", in)
		}
		return
	}
	if !strings.HasSuffix(prefix, "/") || strings.HasPrefix(prefix, "/") || len(prefix) > approval.MaxPrefixLen {
		t.Fatalf("CleanPrefix(%q) = %q: want no leading /, a trailing /, at most %d characters", in, prefix, approval.MaxPrefixLen)
	}
	for _, r := range prefix {
		if strings.ContainsRune("*?$%\\", r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r > unicode.MaxASCII {
			t.Fatalf("CleanPrefix(%q) = %q contains %q", in, prefix, r)
		}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("CleanPrefix(%q) = %q has a %q segment", in, prefix, seg)
		}
	}
}

// FuzzCheckBucket checks CheckBucket against the S3 naming rules, written
// out again independently here.
func FuzzCheckBucket(f *testing.F) {
	for _, s := range []string{
		"collab-bucket", "abc", "ab", "a.b.c", "my.bucket-1", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"Collab", "bucket_name", "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b", "192.168.5.4",
		"192.168.05.4", "1.2.3.4", "999.999.999.999", "1.2.3", "::1", "xn--abc", "sthree-abc", "amzn-s3-demo-x",
		"abc-s3alias", "abc--ol-s3", "abc.mrap", "abc--x-s3", "abc--table-s3", "abc\u200b", "s3://abc", "ab/c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := approval.CheckBucket(name)
		want := validBucket(name)
		if (err == nil) != want {
			t.Fatalf("CheckBucket(%q) = %v; valid by the S3 rules: %v", name, err, want)
		}
		if err != nil {
			if _, ok := err.(*approval.InvalidError); !ok {
				t.Fatalf("CheckBucket(%q) error %T; want *InvalidError", name, err)
			}
		}
	})
}

// validBucket is the S3 general purpose bucket naming rules:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	for _, bad := range []string{"..", ".-", "-."} {
		if strings.Contains(name, bad) {
			return false
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	// Anything shaped like a dotted quad counts as an IP address, even
	// with leading zeros or octets over 255.
	if parts := strings.Split(name, "."); len(parts) == 4 {
		quad := true
		for _, p := range parts {
			if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
				quad = false
			}
		}
		if quad {
			return false
		}
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// FuzzCheckKey checks that whatever CheckKey accepts names one object
// that cannot widen an IAM policy or leave its folder, and that a key
// follows the folder rules exactly: a short key is valid if and only if
// the same text is a valid folder.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{
		"report.pdf", "myfolder/report.pdf", "a/b/c.txt", "Reports-2026_Q1/(final)!.xlsx", "...", "a..b", ".hidden",
		"", "/", "myfolder/", "a//b", "/abs", "..", "../x", "a/../b", "a/./b", "./a", "*", "a*.txt", "a?", "${aws:username}",
		"%2e%2e/x", "a\\b", "a\x00b", "a\u200bb", "a\u202eb", "a\ufeffb", "a\tb", "a b.pdf", "\u00e9t\u00e9.txt", "a\xffb",
		strings.Repeat("k", approval.MaxKeyLen), strings.Repeat("k", approval.MaxKeyLen+1), strings.Repeat("a/", 200) + "x",
		strings.Repeat("x", approval.MaxPrefixLen-1), strings.Repeat("x", approval.MaxPrefixLen),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := approval.CheckKey(key)
		if err != nil {
			var ie *approval.InvalidError
			if !errors.As(err, &ie) || ie.Field != "key" {
				t.Fatalf("CheckKey(%q) error %T %v; want *InvalidError for key", key, err, err)
			}
		} else {
			if key == "" || len(key) > approval.MaxKeyLen || strings.HasSuffix(key, "/") {
				t.Fatalf("CheckKey(%q) = nil for an empty, folder-shaped or too long key", key)
			}
			checkSafeKey(t, key)
		}
		// Below the folder length limit, the rules are the folder rules.
		if len(key)+1 <= approval.MaxPrefixLen && key != "" && !strings.HasSuffix(key, "/") {
			folder, ferr := approval.CleanPrefix(key)
			if (err == nil) != (ferr == nil) || ferr == nil && folder != key+"/" {
				t.Fatalf("CheckKey(%q) = %v but CleanPrefix = %q, %v; want the same verdict", key, err, folder, ferr)
			}
		}
	})
}

// checkSafeKey fails t unless key is made of safe characters in segments
// that are neither empty nor . or .., with no leading "/".
func checkSafeKey(t *testing.T, key string) {
	t.Helper()
	if strings.HasPrefix(key, "/") {
		t.Fatalf("CheckKey(%q) = nil for a key starting with /", key)
	}
	for _, r := range key {
		if strings.ContainsRune("*?$%\\", r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r > unicode.MaxASCII {
			t.Fatalf("CheckKey(%q) = nil for a key containing %q", key, r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			t.Fatalf("CheckKey(%q) = nil for a key with a %q segment", key, seg)
		}
	}
}
