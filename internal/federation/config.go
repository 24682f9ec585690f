package federation

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/config"
)

// Config is the federation part of the bot's configuration, read from the
// environment by envconfig in cmd/bot. Call Validate before using it.
type Config struct {
	RoleARN            string          `envconfig:"COLLABORATOR_ROLE_ARN" required:"true" desc:"ARN of the role the bot assumes for each grant, e.g. arn:aws:iam::123456789012:role/share-bucket-collaborator"`
	MaxSessionDuration config.Duration `envconfig:"MAX_SESSION_DURATION" default:"1h" desc:"longest single STS session (15m to 12h, at most the role's MaxSessionDuration; at most 1h if the bot itself runs with role credentials); longer grants get fresh sessions on demand"`
	FederationURL      string          `envconfig:"FEDERATION_URL" default:"https://signin.aws.amazon.com/federation" desc:"AWS sign-in federation endpoint of the role's partition (aws-cn: https://signin.amazonaws.cn/federation, aws-us-gov: https://signin.amazonaws-us-gov.com/federation)"`
	ConsoleURL         string          `envconfig:"CONSOLE_URL" default:"https://console.aws.amazon.com/" desc:"AWS console of the role's partition that sign-in links open (aws-cn: https://console.amazonaws.cn/, aws-us-gov: https://console.amazonaws-us-gov.com/)"`
	KMSKeys            KMSKeys         `envconfig:"KMS_KEY_ARNS" desc:"comma-separated ARNs of the KMS keys (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID) or aliases (…:alias/NAME) of SSE-KMS buckets; grants may use them through S3 only. Empty: no KMS keys"`
}

// roleARN matches arn:<partition>:iam::<account>:role/[<path>/]<name>. The
// path allows what IAM allows (printable ASCII); the name is IAM's role name
// pattern.
var roleARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x2e\x30-\x7e]+/)*[\w+=,.@-]{1,64}$`)

// partitionHosts are the sign-in and console hosts of AWS partitions, so
// Validate can refuse any other host and catch a role in one partition
// paired with the endpoints of another (the defaults are those of "aws").
var partitionHosts = []struct{ host, service, partition string }{
	{"signin.aws.amazon.com", "signin", "aws"},
	{"console.aws.amazon.com", "console", "aws"},
	{"signin.amazonaws.cn", "signin", "aws-cn"},
	{"console.amazonaws.cn", "console", "aws-cn"},
	{"signin.amazonaws-us-gov.com", "signin", "aws-us-gov"},
	{"console.amazonaws-us-gov.com", "console", "aws-us-gov"},
}

// Endpoints returns the federation endpoint and console URL of partition
// ("aws", "aws-cn" or "aws-us-gov"), or ok false for another partition.
func Endpoints(partition string) (federationURL, consoleURL string, ok bool) {
	switch partition {
	case "aws":
		return "https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/", true
	case "aws-cn":
		return "https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/", true
	case "aws-us-gov":
		return "https://signin.amazonaws-us-gov.com/federation", "https://console.amazonaws-us-gov.com/", true
	}
	return "", "", false
}

// Validate checks c and returns every problem, as *config.VarError naming
// the variable to fix.
//
// The federation endpoint receives each session's secret key, and the
// console URL is where sign-in links lead, so both must be https:// on the
// partition's own sign-in and console hosts (regional forms included).
// Only loopback addresses may use plain http, for tests.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.RoleARN == "":
		errs = append(errs, config.Problem("COLLABORATOR_ROLE_ARN", "required"))
	case !roleARN.MatchString(c.RoleARN):
		errs = append(errs, config.Problem("COLLABORATOR_ROLE_ARN", "%q is malformed: it must be arn:<partition>:iam::<12-digit account>:role/<name>, with partition aws, aws-cn or aws-us-gov", c.RoleARN))
	}
	if d := time.Duration(c.MaxSessionDuration); d < approval.MinSession || d > approval.MaxSession {
		errs = append(errs, config.Problem("MAX_SESSION_DURATION", "%s is out of range: it must be between %s and %s",
			approval.FormatDuration(d), approval.FormatDuration(approval.MinSession), approval.FormatDuration(approval.MaxSession)))
	}
	partition := c.Partition()
	if fed, err := checkURL("FEDERATION_URL", c.FederationURL, partition); err != nil {
		errs = append(errs, err)
	} else if fed.RawQuery != "" || fed.Fragment != "" {
		errs = append(errs, config.Problem("FEDERATION_URL", "%q must not have a query or fragment", c.FederationURL))
	}
	if _, err := checkURL("CONSOLE_URL", c.ConsoleURL, partition); err != nil {
		errs = append(errs, err)
	}
	for _, k := range c.KMSKeys {
		if partition != "" && k.Partition != partition {
			errs = append(errs, &config.VarError{Var: "KMS_KEY_ARNS", Also: []string{"COLLABORATOR_ROLE_ARN"},
				Msg: fmt.Sprintf("%s is in the %s partition but COLLABORATOR_ROLE_ARN is in %s; list keys of the role's partition", k.ARN, k.Partition, partition)})
			break
		}
	}
	return errors.Join(errs...)
}

// CheckPolicySize checks that the largest session policy a grant on
// buckets (the ALLOWED_BUCKETS names) can need, with every KMS key, fits in
// STS's limit (see LargestPolicy). A grant that does not fit could never be
// issued, so the bot refuses to start rather than fail on approval. c
// should have passed Validate. The error is a *config.VarError about
// KMS_KEY_ARNS, the one setting that makes policies grow, and says how
// many keys would fit.
func (c Config) CheckPolicySize(buckets []string) error {
	partition := c.Partition()
	size, scope := LargestPolicy(partition, buckets, c.KMSKeys)
	if size <= MaxPolicyLen {
		return nil
	}
	fit := len(c.KMSKeys)
	for fit > 0 {
		if n, _ := LargestPolicy(partition, buckets, c.KMSKeys[:fit]); n <= MaxPolicyLen {
			break
		}
		fit--
	}
	what := fmt.Sprintf("write access to a folder of %d characters", approval.MaxPrefixLen)
	if scope.Object() {
		what = fmt.Sprintf("a %s link for a key of %d bytes", scope.Kind, approval.MaxKeyLen)
	}
	return &config.VarError{Var: "KMS_KEY_ARNS", Also: []string{"ALLOWED_BUCKETS", "COLLABORATOR_ROLE_ARN"},
		Msg: fmt.Sprintf("with these %d keys the largest session policy a grant can need (%s in bucket %s) would be %d characters, and STS allows %d: "+
			"list at most %d of them (keys given by key ARN in one region share a statement, so they cost less than aliases or keys spread over regions)",
			len(c.KMSKeys), what, scope.Bucket, size, MaxPolicyLen, fit)}
}

// checkURL checks that raw is an https URL on an AWS sign-in or console
// host of partition, the kind name calls for (or any loopback URL). With
// an unknown partition (a malformed role ARN, reported on its own) any
// partition's hosts pass.
func checkURL(name, raw, partition string) (*url.URL, error) {
	fed, console, _ := Endpoints(partition)
	want, service := fed, "signin"
	if name == "CONSOLE_URL" {
		want, service = console, "console"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, config.Problem(name, "%q must be an absolute https URL", raw)
	}
	host := strings.ToLower(u.Hostname())
	if isLoopback(host) {
		return u, nil
	}
	for _, p := range partitionHosts {
		if host != p.host && !strings.HasSuffix(host, "."+p.host) {
			continue
		}
		switch {
		case partition != "" && p.partition != partition:
			return nil, config.Problem(name, "%q belongs to the %s partition but COLLABORATOR_ROLE_ARN is in %s; use %s", raw, p.partition, partition, want)
		case p.service != service:
			return nil, config.Problem(name, "%q is an AWS %s host; use %s", raw, p.service, want)
		case u.Scheme != "https":
			return nil, config.Problem(name, "%q must use https", raw)
		case !regionalHost.MatchString(strings.TrimSuffix(host, p.host)):
			return nil, config.Problem(name, "%q is not an AWS %s host; use %s", raw, service, want)
		}
		return u, nil
	}
	if want == "" {
		want = "the partition's " + service + " endpoint"
	}
	return nil, config.Problem(name, "%q is not an AWS %s host: sign-in links carry secrets and must only go to AWS; use %s", raw, service, want)
}

// regionalHost matches what may stand before an AWS sign-in or console
// host: nothing, or a region and a dot (eu-west-1.).
var regionalHost = regexp.MustCompile(`^(?:[a-z]{2}(?:-[a-z]+)+-\d\.)?$`)

// isLoopback reports whether host is this machine, where test endpoints run.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Partition returns the AWS partition of the role ARN ("aws", "aws-cn",
// "aws-us-gov"), or "" if the ARN is malformed.
func (c Config) Partition() string {
	m := roleARN.FindStringSubmatch(c.RoleARN)
	if m == nil {
		return ""
	}
	return m[1]
}
