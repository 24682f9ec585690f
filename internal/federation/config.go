package federation

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is the federation part of the bot's configuration, read from the
// environment by envconfig in cmd/bot. Call Validate before using it.
type Config struct {
	RoleARN            string        `envconfig:"COLLABORATOR_ROLE_ARN" required:"true" desc:"ARN of the role the bot assumes for each grant, e.g. arn:aws:iam::123456789012:role/share-bucket-collaborator"`
	MaxSessionDuration time.Duration `envconfig:"MAX_SESSION_DURATION" default:"1h" desc:"longest single STS session (15m to 12h, at most the role's MaxSessionDuration; at most 1h if the bot itself runs with role credentials); longer grants get fresh sessions on demand"`
	FederationURL      string        `envconfig:"FEDERATION_URL" default:"https://signin.aws.amazon.com/federation" desc:"AWS sign-in federation endpoint of the role's partition (aws-cn: https://signin.amazonaws.cn/federation, aws-us-gov: https://signin.amazonaws-us-gov.com/federation)"`
	ConsoleURL         string        `envconfig:"CONSOLE_URL" default:"https://console.aws.amazon.com/" desc:"AWS console of the role's partition that sign-in links open (aws-cn: https://console.amazonaws.cn/, aws-us-gov: https://console.amazonaws-us-gov.com/)"`
}

// Session length limits of STS AssumeRole.
const (
	MinSessionDuration = 15 * time.Minute
	MaxSessionDuration = 12 * time.Hour
)

// roleARN matches arn:<partition>:iam::<account>:role/[<path>/]<name>. The
// path allows what IAM allows (printable ASCII); the name is IAM's role name
// pattern.
var roleARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x2e\x30-\x7e]+/)*[\w+=,.@-]{1,64}$`)

// partitionHosts maps the sign-in and console hosts of AWS partitions to the
// partition, so Validate can catch a role in one partition paired with the
// endpoints of another (the defaults are those of "aws").
var partitionHosts = []struct{ suffix, partition string }{
	{"signin.aws.amazon.com", "aws"},
	{"console.aws.amazon.com", "aws"},
	{"signin.amazonaws.cn", "aws-cn"},
	{"console.amazonaws.cn", "aws-cn"},
	{"signin.amazonaws-us-gov.com", "aws-us-gov"},
	{"console.amazonaws-us-gov.com", "aws-us-gov"},
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

// Validate reports the first problem with c, naming the environment
// variable to fix.
func (c Config) Validate() error {
	if c.RoleARN == "" {
		return fmt.Errorf("COLLABORATOR_ROLE_ARN is required")
	}
	if !roleARN.MatchString(c.RoleARN) {
		return fmt.Errorf("COLLABORATOR_ROLE_ARN %q is malformed: it must be arn:<partition>:iam::<12-digit account>:role/<name>, with partition aws, aws-cn or aws-us-gov", c.RoleARN)
	}
	if c.MaxSessionDuration < MinSessionDuration || c.MaxSessionDuration > MaxSessionDuration {
		return fmt.Errorf("MAX_SESSION_DURATION %s is out of range: it must be between 15m and 12h", c.MaxSessionDuration)
	}
	partition := c.Partition()
	fed, err := checkURL("FEDERATION_URL", c.FederationURL, partition)
	if err != nil {
		return err
	}
	if fed.RawQuery != "" || fed.Fragment != "" {
		return fmt.Errorf("FEDERATION_URL %q must not have a query or fragment", c.FederationURL)
	}
	if _, err := checkURL("CONSOLE_URL", c.ConsoleURL, partition); err != nil {
		return err
	}
	return nil
}

// checkURL checks that raw is an absolute http(s) URL and, if its host is an
// AWS sign-in or console host, that it belongs to partition.
func checkURL(name, raw, partition string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%s %q must be an absolute http(s) URL", name, raw)
	}
	host := strings.ToLower(u.Hostname())
	for _, p := range partitionHosts {
		if (host == p.suffix || strings.HasSuffix(host, "."+p.suffix)) && p.partition != partition {
			fed, console, _ := Endpoints(partition)
			want := fed
			if name == "CONSOLE_URL" {
				want = console
			}
			return nil, fmt.Errorf("%s %q belongs to the %s partition but COLLABORATOR_ROLE_ARN is in %s; use %s", name, raw, p.partition, partition, want)
		}
	}
	return u, nil
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
