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

// Kind is what a request asks for: a folder, used through the console, or
// one object, used through a link made for it alone.
type Kind string

const (
	// KindFolder is a folder of a bucket (or all of it) at an access level.
	// Requests stored before there were kinds are folder requests.
	KindFolder Kind = "folder"
	// KindGet is a link to download one object. It implies AccessRead.
	KindGet Kind = "get"
	// KindPut is a link to upload one object. It implies AccessWrite.
	KindPut Kind = "put"
)

// Valid reports whether k is a known kind. The empty kind is not: it only
// stands for KindFolder in a Scope built before kinds existed.
func (k Kind) Valid() bool { return k == KindFolder || k == KindGet || k == KindPut }

// Object reports whether k is for one object rather than a folder.
func (k Kind) Object() bool { return k == KindGet || k == KindPut }

// Access is the access level k implies: read for get, write for put. A
// folder's access level is chosen by the requester, so it has none ("").
func (k Kind) Access() Access {
	switch k {
	case KindGet:
		return AccessRead
	case KindPut:
		return AccessWrite
	}
	return ""
}

// Limits on a scope. A prefix appears three times in a folder's session
// policy, a key once in an object's, and AWS caps that policy at 2048
// characters. S3 itself allows keys of up to 1,024 bytes.
const (
	MaxPrefixLen = 256
	MaxKeyLen    = 1024
	minBucketLen = 3
	maxBucketLen = 63
)

// Scope is what a grant covers: one folder of one bucket at one access
// level, or one object of one bucket.
type Scope struct {
	// Kind is KindFolder, KindGet or KindPut; empty means KindFolder.
	Kind   Kind
	Bucket string
	Prefix string // folders: "" for the whole bucket, otherwise ends with "/"; objects: ""
	Key    string // objects: the object's key; folders: ""
	Access Access // objects: the level their kind implies
}

// Object reports whether s covers one object rather than a folder.
func (s Scope) Object() bool { return s.Kind.Object() }

// Path is what s covers inside its bucket: the folder's prefix, or the
// object's key.
func (s Scope) Path() string {
	if s.Object() {
		return s.Key
	}
	return s.Prefix
}

// String renders the scope as bucket/prefix or bucket/key.
func (s Scope) String() string { return s.Bucket + "/" + s.Path() }

// Check reports whether s is well formed: a known kind, a valid bucket, and
// a clean folder (with no key) or a valid key (with no folder) at the
// access level its kind implies. Errors are *InvalidError.
func (s Scope) Check() error {
	if s.Kind != "" && !s.Kind.Valid() {
		return &InvalidError{Field: "kind", Reason: "a request is for a folder, or to get or put one file"}
	}
	if err := CheckBucket(s.Bucket); err != nil {
		return err
	}
	if !s.Object() {
		if clean, err := CleanPrefix(s.Prefix); err != nil {
			return err
		} else if clean != s.Prefix {
			return &InvalidError{Field: "prefix", Reason: "a folder ends with /"}
		}
		if s.Key != "" {
			return &InvalidError{Field: "key", Reason: "a folder request names no file"}
		}
		if !s.Access.Valid() {
			return &InvalidError{Field: "access", Reason: "access is read or write"}
		}
		return nil
	}
	if s.Prefix != "" {
		return &InvalidError{Field: "prefix", Reason: "a request for one file names no folder"}
	}
	if err := CheckKey(s.Key); err != nil {
		return err
	}
	if s.Access != s.Kind.Access() {
		return &InvalidError{Field: "access", Reason: fmt.Sprintf("%s gives %s access, not %q", s.Kind, s.Kind.Access(), s.Access)}
	}
	return nil
}

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
	p = strings.TrimSuffix(p, "/")
	if reason := checkPath(p, "a folder"); reason != "" {
		return bad(reason)
	}
	return p + "/", nil
}

// CheckKey checks the key of one object. It follows the folder rules of
// CleanPrefix, character for character, and adds the object's own: a key
// is not empty, at most MaxKeyLen bytes, and does not end in "/" (that
// would be a folder).
func CheckKey(key string) error {
	bad := func(reason string) error { return &InvalidError{Field: "key", Reason: reason} }
	switch {
	case key == "":
		return bad("a file's key is required after the bucket, like bucket/folder/report.pdf")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("a key is at most %d bytes", MaxKeyLen))
	case strings.HasSuffix(key, "/"):
		return bad("a key ending in / is a folder; name one file")
	}
	if reason := checkPath(key, "a key"); reason != "" {
		return bad(reason)
	}
	return nil
}

// checkPath applies the rules that folders and keys share to p, which has
// no trailing "/", and returns what is wrong or "". what names p in the
// reason ("a folder", "a key").
func checkPath(p, what string) string {
	for _, r := range p {
		switch {
		case r == '*' || r == '?':
			return "wildcards (* and ?) are not allowed in " + what
		case r == '$':
			return "$ is not allowed in " + what
		case r == '%':
			return "percent-encoding is not allowed in " + what
		case r == '\\':
			return "backslashes are not allowed in " + what + "; use /"
		case !safePrefixRune(r):
			return fmt.Sprintf("the character %q is not allowed in %s (use letters, digits and - _ . ! ( ) ' = + @ ,)", r, what)
		}
	}
	if strings.HasPrefix(p, "/") {
		return what + " does not start with /"
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return what + " has no empty parts (//)"
		case ".", "..":
			return what + " has no . or .. parts"
		}
	}
	return ""
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

// Allows reports whether a grant on bucket/path stays inside an entry,
// path being a folder's prefix or an object's key. Prefixes are compared
// as whole folders, so "data/" allows neither "database/" nor the object
// "data" itself, only what lies below it.
func (l AllowList) Allows(bucket, path string) bool {
	for _, e := range l {
		if e.Bucket == bucket && strings.HasPrefix(path, e.Prefix) {
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
