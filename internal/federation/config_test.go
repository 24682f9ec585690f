package federation

import (
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/config"
)

func validConfig() Config {
	return Config{
		RoleARN:            "arn:aws:iam::123456789012:role/share-bucket-collaborator",
		MaxSessionDuration: config.Duration(time.Hour),
		FederationURL:      "https://signin.aws.amazon.com/federation",
		ConsoleURL:         "https://console.aws.amazon.com/",
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // substring; "" means valid
	}{
		{"Defaults", func(*Config) {}, ""},
		{"RolePath", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/service-role/team/collab+1=a,b.c@d-e_f" }, ""},
		{"ChinaPartition", func(c *Config) {
			c.RoleARN = "arn:aws-cn:iam::123456789012:role/collab"
			c.FederationURL = "https://signin.amazonaws.cn/federation"
			c.ConsoleURL = "https://console.amazonaws.cn/"
		}, ""},
		{"GovCloudPartition", func(c *Config) {
			c.RoleARN = "arn:aws-us-gov:iam::123456789012:role/collab"
			c.FederationURL = "https://signin.amazonaws-us-gov.com/federation"
			c.ConsoleURL = "https://console.amazonaws-us-gov.com/"
		}, ""},
		{"RegionalHosts", func(c *Config) {
			c.FederationURL = "https://eu-west-1.signin.aws.amazon.com/federation"
			c.ConsoleURL = "https://eu-west-1.console.aws.amazon.com/"
		}, ""},
		{"LocalTestEndpoints", func(c *Config) {
			c.FederationURL = "http://127.0.0.1:9100/federation"
			c.ConsoleURL = "http://127.0.0.1:9101/"
		}, ""},
		{"MinSession", func(c *Config) { c.MaxSessionDuration = config.Duration(15 * time.Minute) }, ""},
		{"MaxSession", func(c *Config) { c.MaxSessionDuration = config.Duration(12 * time.Hour) }, ""},

		{"RoleMissing", func(c *Config) { c.RoleARN = "" }, "COLLABORATOR_ROLE_ARN: required"},
		{"RoleNotARN", func(c *Config) { c.RoleARN = "collaborator" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleUnknownPartition", func(c *Config) { c.RoleARN = "arn:aws-iso:iam::123456789012:role/collab" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleShortAccount", func(c *Config) { c.RoleARN = "arn:aws:iam::12345678901:role/collab" }, "12-digit account"},
		{"RoleUser", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:user/collab" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleNoName", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleRegion", func(c *Config) { c.RoleARN = "arn:aws:iam:us-east-1:123456789012:role/collab" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleSpace", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/col lab" }, "COLLABORATOR_ROLE_ARN"},
		{"RoleNameTooLong", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/" + strings.Repeat("r", 65) }, "COLLABORATOR_ROLE_ARN"},
		{"SessionTooShort", func(c *Config) { c.MaxSessionDuration = config.Duration(14 * time.Minute) }, "MAX_SESSION_DURATION"},
		{"SessionTooLong", func(c *Config) { c.MaxSessionDuration = config.Duration(13 * time.Hour) }, "MAX_SESSION_DURATION"},
		{"SessionZero", func(c *Config) { c.MaxSessionDuration = 0 }, "between 15m and 12h"},
		{"FederationRelative", func(c *Config) { c.FederationURL = "/federation" }, "FEDERATION_URL"},
		{"FederationScheme", func(c *Config) { c.FederationURL = "ftp://signin.aws.amazon.com/federation" }, "FEDERATION_URL"},
		{"FederationQuery", func(c *Config) { c.FederationURL = "https://signin.aws.amazon.com/federation?x=1" }, "FEDERATION_URL"},
		{"FederationEmpty", func(c *Config) { c.FederationURL = "" }, "FEDERATION_URL"},
		{"ConsoleRelative", func(c *Config) { c.ConsoleURL = "console.aws.amazon.com" }, "CONSOLE_URL"},
		{"ConsoleUserinfo", func(c *Config) { c.ConsoleURL = "https://u:p@console.aws.amazon.com/" }, "CONSOLE_URL"},
		{"FederationElsewhere", func(c *Config) { c.FederationURL = "https://signin.example.com/federation" }, "FEDERATION_URL: \"https://signin.example.com/federation\" is not an AWS signin host"},
		{"FederationLookalike", func(c *Config) { c.FederationURL = "https://signin.aws.amazon.com.evil.example/federation" }, "is not an AWS signin host"},
		{"FederationPlainHTTP", func(c *Config) { c.FederationURL = "http://signin.aws.amazon.com/federation" }, "FEDERATION_URL: \"http://signin.aws.amazon.com/federation\" must use https"},
		{"FederationOnConsoleHost", func(c *Config) { c.FederationURL = "https://console.aws.amazon.com/federation" }, "is an AWS console host"},
		{"FederationOddSubdomain", func(c *Config) { c.FederationURL = "https://evil.signin.aws.amazon.com/federation" }, "is not an AWS signin host"},
		{"ConsoleElsewhere", func(c *Config) { c.ConsoleURL = "https://phish.example/" }, "CONSOLE_URL: \"https://phish.example/\" is not an AWS console host"},
		{"ConsolePlainHTTP", func(c *Config) { c.ConsoleURL = "http://console.aws.amazon.com/" }, "must use https"},
		{"LoopbackHTTPS", func(c *Config) {
			c.FederationURL = "https://[::1]:8443/federation"
			c.ConsoleURL = "http://localhost:9/"
		}, ""},
		{"AllProblemsAtOnce", func(c *Config) {
			c.RoleARN, c.MaxSessionDuration, c.FederationURL, c.ConsoleURL = "x", 0, "ftp://x", "https://phish.example/"
		}, "COLLABORATOR_ROLE_ARN: \"x\" is malformed: it must be arn:<partition>:iam::<12-digit account>:role/<name>, with partition aws, aws-cn or aws-us-gov\n" +
			"MAX_SESSION_DURATION: 0m is out of range: it must be between 15m and 12h\n" +
			"FEDERATION_URL: \"ftp://x\" must be an absolute https URL\n" +
			"CONSOLE_URL: \"https://phish.example/\" is not an AWS console host"},
		{"ChinaRoleDefaultURLs", func(c *Config) { c.RoleARN = "arn:aws-cn:iam::123456789012:role/collab" }, "use https://signin.amazonaws.cn/federation"},
		{"GovRoleAWSConsole", func(c *Config) {
			c.RoleARN = "arn:aws-us-gov:iam::123456789012:role/collab"
			c.FederationURL = "https://signin.amazonaws-us-gov.com/federation"
		}, "use https://console.amazonaws-us-gov.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v; want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil; want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigPartition(t *testing.T) {
	tests := []struct{ arn, want string }{
		{"arn:aws:iam::123456789012:role/collab", "aws"},
		{"arn:aws-cn:iam::123456789012:role/collab", "aws-cn"},
		{"arn:aws-us-gov:iam::123456789012:role/path/collab", "aws-us-gov"},
		{"arn:aws-iso:iam::123456789012:role/collab", ""},
		{"not-an-arn", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := (Config{RoleARN: tt.arn}).Partition(); got != tt.want {
			t.Errorf("Partition(%q) = %q; want %q", tt.arn, got, tt.want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	for _, p := range []string{"aws", "aws-cn", "aws-us-gov"} {
		fed, console, ok := Endpoints(p)
		if !ok {
			t.Fatalf("Endpoints(%q) not ok", p)
		}
		c := Config{RoleARN: "arn:" + p + ":iam::123456789012:role/collab", MaxSessionDuration: config.Duration(time.Hour), FederationURL: fed, ConsoleURL: console}
		if err := c.Validate(); err != nil {
			t.Errorf("%s endpoints do not validate: %v", p, err)
		}
	}
	if _, _, ok := Endpoints("aws-iso"); ok {
		t.Errorf("Endpoints(aws-iso) ok; want not ok")
	}
}
