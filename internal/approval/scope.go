package approval

import (
	"fmt"
	"net/netip"
	"strings"
)

// Access is the level of access a grant gives to its folder.
type Access string

const (
	// AccessRead allows listing and downloading objects under the prefix.
	AccessRead Access = "read"
	// AccessWrite allows full control of objects under the prefix: list,
	// download, upload, delete.
	AccessWrite Access = "write"
)

// Valid reports whether a is a known access level.
func (a Access) Valid() bool { return a == AccessRead || a == AccessWrite }

// Limits on a scope. A prefix appears three times in the session policy, and
// AWS caps that policy at 2048 characters.
const (
	MaxPrefixLen = 256
	minBucketLen = 3
	maxBucketLen = 63
)

// Scope is what a grant covers: one folder of one bucket, at one access level.
type Scope struct {
	Bucket string
	Prefix string // "" for the whole bucket, otherwise ends with "/"
	Access Access
}

// String renders the scope as bucket/prefix.
func (s Scope) String() string { return s.Bucket + "/" + s.Prefix }

// CheckBucket reports whether name is a valid S3 general purpose bucket name.
// The rules are AWS's: 3 to 63 characters of lowercase letters, digits, dots
// and hyphens, starting and ending with a letter or digit, no adjacent dots,
// not shaped like an IP address, and none of the reserved prefixes or
// suffixes.
func CheckBucket(name string) error {
	bad := func(reason string) error { return &InvalidError{Field: "bucket", Reason: reason} }
	if len(name) < minBucketLen || len(name) > maxBucketLen {
		return bad(fmt.Sprintf("a bucket name has %d to %d characters", minBucketLen, maxBucketLen))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("a bucket name uses only lowercase letters, digits, dots and hyphens")
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("a bucket name starts and ends with a letter or digit")
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad("a bucket name has no adjacent dots or dot-hyphen pairs")
	}
	if _, err := netip.ParseAddr(name); err == nil || looksLikeIPv4(name) {
		return bad("a bucket name is not formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("a bucket name does not start with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("a bucket name does not end with " + s)
		}
	}
	return nil
}

// looksLikeIPv4 catches dotted quads that netip rejects, such as 192.168.01.1.
func looksLikeIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// CleanPrefix checks a folder prefix and returns it with a trailing "/".
// Anything that could widen an IAM policy or escape the folder is refused:
// wildcards, policy variables, percent-encoding, backslashes, "." and ".."
// segments, empty segments, a leading "/" and any character outside a small
// safe set (which also rules out control and zero-width characters).
func CleanPrefix(p string) (string, error) {
	bad := func(reason string) (string, error) { return "", &InvalidError{Field: "prefix", Reason: reason} }
	if p == "" {
		return "", nil
	}
	// The limit applies to the folder as stored, with its trailing "/".
	if len(strings.TrimSuffix(p, "/"))+1 > MaxPrefixLen {
		return bad(fmt.Sprintf("a folder is at most %d characters", MaxPrefixLen))
	}
	for _, r := range p {
		switch {
		case r == '*' || r == '?':
			return bad("wildcards (* and ?) are not allowed in a folder")
		case r == '$':
			return bad("$ is not allowed in a folder")
		case r == '%':
			return bad("percent-encoding is not allowed in a folder")
		case r == '\\':
			return bad("backslashes are not allowed in a folder; use /")
		case !safePrefixRune(r):
			return bad(fmt.Sprintf("the character %q is not allowed in a folder (use letters, digits and - _ . ! ( ) ' = + @ ,)", r))
		}
	}
	if strings.HasPrefix(p, "/") {
		return bad("a folder does not start with /")
	}
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return bad("a folder has no empty parts (//)")
		case ".", "..":
			return bad("a folder has no . or .. parts")
		}
	}
	return p + "/", nil
}

func safePrefixRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_.!()'=+@,/", r)
}

// AllowEntry is one entry of the allow list: a whole bucket, or a folder of
// it and everything below.
type AllowEntry struct {
	Bucket string
	Prefix string // "" or ends with "/"
}

// ParseAllowEntry parses "bucket" or "bucket/prefix/".
func ParseAllowEntry(s string) (AllowEntry, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "s3://")
	bucket, prefix, _ := strings.Cut(s, "/")
	if err := CheckBucket(bucket); err != nil {
		return AllowEntry{}, fmt.Errorf("%q: %w", s, err)
	}
	clean, err := CleanPrefix(prefix)
	if err != nil {
		return AllowEntry{}, fmt.Errorf("%q: %w", s, err)
	}
	return AllowEntry{Bucket: bucket, Prefix: clean}, nil
}

// String renders the entry as it is written in configuration.
func (e AllowEntry) String() string {
	if e.Prefix == "" {
		return e.Bucket
	}
	return e.Bucket + "/" + e.Prefix
}

// AllowList is the set of buckets and folders that may be shared.
type AllowList []AllowEntry

// Allows reports whether a grant on bucket/prefix stays inside an entry.
// Prefixes are compared as whole folders, so "data/" does not allow
// "database/".
func (l AllowList) Allows(bucket, prefix string) bool {
	for _, e := range l {
		if e.Bucket == bucket && strings.HasPrefix(prefix, e.Prefix) {
			return true
		}
	}
	return false
}

// String renders the list as it is written in configuration.
func (l AllowList) String() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.String()
	}
	return strings.Join(s, ",")
}
