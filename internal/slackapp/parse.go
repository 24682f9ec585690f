package slackapp

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// CommandKind says what a /share-bucket invocation asks for.
type CommandKind int

const (
	CmdRequest CommandKind = iota // ask for access
	CmdModal                      // no arguments: open the form
	CmdHelp
	CmdList
	CmdRevoke
	CmdExtend // ask for more time on a grant
	CmdLink   // a fresh link for an active grant, shown to its requester only
)

// Command is a parsed /share-bucket text. A request's Scope.Kind says
// whether it is for a folder or for one object (get, put).
type Command struct {
	Kind     CommandKind
	Scope    approval.Scope
	Duration time.Duration
	Reason   string
	ID       string // for revoke, extend and link
	// Page is the page of a list, from 1; zero means the first.
	Page int
}

// MaxCommandLen bounds the text of one invocation. Slack allows more, but
// no honest request needs it, and a long text is refused rather than cut.
// It leaves room for the longest request: get or put, an s3:// bucket of
// 63 characters and a key of approval.MaxKeyLen bytes, a duration, and a
// reason of approval.MaxReasonLen.
const MaxCommandLen = 1700

// UsageError says what is wrong with a command; the reply adds an example.
type UsageError struct {
	Problem string
	// Object is KindGet or KindPut when the command asked for one
	// object, so the reply shows an example of that; "" otherwise.
	Object approval.Kind
}

func (e *UsageError) Error() string { return e.Problem }

func usagef(format string, args ...any) error {
	return &UsageError{Problem: fmt.Sprintf(format, args...)}
}

func objectUsagef(kind approval.Kind, format string, args ...any) error {
	return &UsageError{Problem: fmt.Sprintf(format, args...), Object: kind}
}

// ParseCommand parses the text after /share-bucket:
//
//	[s3://]BUCKET[/PREFIX] [DURATION] [read|write] REASON...
//	get [s3://]BUCKET/KEY [DURATION] REASON...
//	put [s3://]BUCKET/KEY [DURATION] REASON...
//	help | list [PAGE] | revoke ID | link ID
//
// Duration and access may come in either order; defaults are def and write.
// get and put ask for a link to download or upload one object, whose key
// follows the folder rules and names a file, not a folder.
// Bucket, prefix and reason are checked here for shape only; the policy
// (allowed buckets, duration bounds) is checked by approval.Service.Check.
func ParseCommand(text string, def time.Duration) (Command, error) {
	if len(text) > MaxCommandLen {
		return Command{}, usagef("that request is %d characters long; the limit is %d", len(text), MaxCommandLen)
	}
	if !utf8.ValidString(text) {
		return Command{}, usagef("that request is not valid text")
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return Command{Kind: CmdModal}, nil
	}
	switch strings.ToLower(fields[0]) {
	case "help", "-h", "--help", "?":
		return Command{Kind: CmdHelp}, nil
	case "list", "ls":
		return parseList(fields[1:])
	case "revoke", "end":
		if len(fields) != 2 {
			return Command{}, usagef("revoke takes one request ID, like `revoke %s`", exampleID)
		}
		id := strings.ToUpper(plainText(fields[1]))
		if !approval.ValidID(id) {
			return Command{}, usagef("%s is not a request ID; IDs look like %s (see `/share-bucket list`)", quoted(fields[1]), exampleID)
		}
		return Command{Kind: CmdRevoke, ID: id}, nil
	case "extend":
		return parseExtend(fields[1:])
	case "link":
		return parseLink(fields[1:])
	case "get", "put":
		return parseObject(approval.Kind(strings.ToLower(fields[0])), fields[1:], def)
	}

	cmd := Command{Kind: CmdRequest, Duration: def, Scope: approval.Scope{Access: approval.AccessWrite}}
	var err error
	if cmd.Scope.Bucket, cmd.Scope.Prefix, err = parseScope(plainText(fields[0])); err != nil {
		return Command{}, err
	}
	rest := fields[1:]
	var sawDuration, sawAccess bool
	for len(rest) > 0 && !(sawDuration && sawAccess) {
		word := strings.ToLower(rest[0])
		if !sawAccess && (word == "read" || word == "write") {
			cmd.Scope.Access, sawAccess = approval.Access(word), true
		} else if d, ok, err := durationWord(word); err != nil {
			return Command{}, err
		} else if ok && !sawDuration {
			cmd.Duration, sawDuration = d, true
		} else if !sawDuration && looksLikeDuration(word) {
			return Command{}, usagef("%s is not a duration; write it like 15m, 2h, 1h30m or 1d", quoted(rest[0]))
		} else {
			break
		}
		rest = rest[1:]
	}
	cmd.Reason = plainText(strings.Join(rest, " "))
	if cmd.Reason == "" {
		return Command{}, usagef("a reason is required: say why you need access")
	}
	return cmd, nil
}

// parseObject parses the words after get or put: [s3://]BUCKET/KEY
// [DURATION] REASON...
func parseObject(kind approval.Kind, fields []string, def time.Duration) (Command, error) {
	if len(fields) == 0 {
		return Command{}, objectUsagef(kind, "%s takes a bucket and the key of one file, then why you need it", kind)
	}
	bucket, key, err := parseObjectScope(kind, plainText(fields[0]))
	if err != nil {
		return Command{}, err
	}
	cmd := Command{Kind: CmdRequest, Duration: def, Scope: approval.Scope{Kind: kind, Bucket: bucket, Key: key, Access: kind.Access()}}
	rest := fields[1:]
	if len(rest) > 0 {
		word := strings.ToLower(rest[0])
		d, ok, err := durationWord(word)
		switch {
		case err != nil:
			return Command{}, objectUsagef(kind, "%s", err.Error())
		case ok:
			cmd.Duration, rest = d, rest[1:]
		case looksLikeDuration(word):
			return Command{}, objectUsagef(kind, "%s is not a duration; write it like 15m, 2h, 1h30m or 1d", quoted(rest[0]))
		}
	}
	cmd.Reason = plainText(strings.Join(rest, " "))
	if cmd.Reason == "" {
		return Command{}, objectUsagef(kind, "a reason is required: say why you need the file")
	}
	return cmd, nil
}

// parseObjectScope splits [s3://]bucket/key and checks both parts. A
// bucket alone or a key shaped like a folder is refused with a word on
// what get and put are for.
func parseObjectScope(kind approval.Kind, s string) (bucket, key string, err error) {
	s = strings.TrimPrefix(s, "s3://")
	bucket, key, _ = strings.Cut(s, "/")
	if err := approval.CheckBucket(bucket); err != nil {
		return "", "", objectUsagef(kind, "%s is not a valid bucket name: %s", quoted(bucket), reasonOf(err))
	}
	switch {
	case key == "":
		return "", "", objectUsagef(kind, "%s takes one file: add its key after the bucket, like %s/folder/report.pdf (for a whole bucket or folder, leave out %s)", kind, bucket, kind)
	case strings.HasSuffix(key, "/"):
		return "", "", objectUsagef(kind, "%s is a folder, and %s takes one file: add the file's name (for the whole folder, leave out %s)", quoted(key), kind, kind)
	}
	if err := approval.CheckKey(key); err != nil {
		return "", "", objectUsagef(kind, "%s is not an allowed key: %s", quoted(key), reasonOf(err))
	}
	return bucket, key, nil
}

// parseExtend parses the words after "extend": ID DURATION REASON...
func parseExtend(words []string) (Command, error) {
	const form = "extend takes a request ID, the time to add and a reason, like `extend %s 1h still auditing`"
	if len(words) < 2 {
		return Command{}, usagef(form, exampleID)
	}
	id := strings.ToUpper(plainText(words[0]))
	if !approval.ValidID(id) {
		return Command{}, usagef("%s is not a request ID; IDs look like %s (see `/share-bucket list`)", quoted(words[0]), exampleID)
	}
	d, ok, err := durationWord(strings.ToLower(words[1]))
	switch {
	case err != nil:
		return Command{}, err
	case !ok:
		return Command{}, usagef("%s is not a duration; write the time to add like 30m, 1h or 1h30m", quoted(words[1]))
	}
	reason := plainText(strings.Join(words[2:], " "))
	if reason == "" {
		return Command{}, usagef("a reason is required: say why you need more time")
	}
	return Command{Kind: CmdExtend, ID: id, Duration: d, Reason: reason}, nil
}

// parseScope splits [s3://]bucket[/prefix] and checks both parts.
func parseScope(s string) (bucket, prefix string, err error) {
	s = strings.TrimPrefix(s, "s3://")
	bucket, prefix, _ = strings.Cut(s, "/")
	if err := approval.CheckBucket(bucket); err != nil {
		return "", "", usagef("%s is not a valid bucket name: %s", quoted(bucket), reasonOf(err))
	}
	clean, err := approval.CleanPrefix(prefix)
	if err != nil {
		return "", "", usagef("%s is not an allowed folder: %s", quoted(prefix), reasonOf(err))
	}
	return bucket, clean, nil
}

// nearDurationRE matches what people type for a duration that is not in
// our form (1.5h, 90min, 2hours, 1h30): refusing it beats silently
// granting the default and making the words part of the reason.
var nearDurationRE = regexp.MustCompile(`^\d+([.,]\d+)?(s|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|d|h|m)(\d+(m|mins?)?)?$`)

func looksLikeDuration(word string) bool { return nearDurationRE.MatchString(word) }

// durationWord reads a word of a command as a duration. ok is false when
// the word is not shaped like one at all (it is then part of the reason);
// err is set when it is shaped like one but unusable.
func durationWord(word string) (d time.Duration, ok bool, err error) {
	d, err = approval.ParseDuration(word)
	switch {
	case errors.Is(err, approval.ErrNotDuration):
		return 0, false, nil
	case err != nil:
		return 0, false, usagef("%s is too long a duration", quoted(word))
	case d <= 0:
		return 0, false, usagef("%s is not a usable duration", quoted(word))
	}
	return d, true, nil
}

// parseDuration reads a duration field of the request form.
func parseDuration(s string) (time.Duration, error) {
	d, ok, err := durationWord(s)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, usagef("%s is not a duration; write it like 15m, 2h, 1h30m or 1d", quoted(s))
	}
	return d, nil
}

var slackMarkupRE = regexp.MustCompile(`<([^<>]*)>`)

// plainText turns Slack's escaped message text into plain text: user and
// channel mentions become @name and #name, special mentions lose their
// power, links become their label, and &amp; &lt; &gt; are unescaped. The
// result is re-escaped when rendered, so nothing in it can ping anyone.
func plainText(s string) string {
	s = slackMarkupRE.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			if hasLabel && label != "" {
				return "@" + label
			}
			return target
		case strings.HasPrefix(target, "#"):
			if hasLabel && label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			name := strings.TrimPrefix(target, "!")
			if hasLabel && label != "" {
				name = strings.TrimPrefix(label, "@")
			}
			name, _, _ = strings.Cut(name, "^")
			return "@" + name
		case hasLabel && label != "":
			return label
		}
		return target
	})
	s = unescaper.Replace(s)
	return strings.TrimSpace(s)
}

// unescaper undoes Slack's escaping; built once, like escaper.
var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// quoted quotes user input for an error message: shortened, with
// invisible and control characters shown as \uXXXX.
func quoted(s string) string {
	const n = 40
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		if i >= n {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// reasonOf strips the package prefix from a domain validation error.
func reasonOf(err error) string {
	if ie, ok := errors.AsType[*approval.InvalidError](err); ok {
		return ie.Reason
	}
	return err.Error()
}
