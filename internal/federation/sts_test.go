package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/federation/fedtest"
)

// fakeSTSServer answers STS query-protocol requests like AWS: with a
// canned error (status and <Code>) or with credentials. It records the
// form of each request.
type fakeSTSServer struct {
	*httptest.Server
	status int    // 0: success
	code   string // AWS error code when status != 0

	mu    sync.Mutex
	forms []url.Values
}

func newFakeSTSServer(t *testing.T, status int, code string) *fakeSTSServer {
	f := &fakeSTSServer{status: status, code: code}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTSServer) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", "c6104cbe-af31-11e0-8154-cbc7ccf896c7")
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>message for %s</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`, f.code, f.code)
		return
	}
	switch r.PostForm.Get("Action") {
	case "AssumeRole":
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><SourceIdentity>%s</SourceIdentity><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/collab/%s</Arn><AssumedRoleId>AROATEST:%s</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			r.PostForm.Get("SourceIdentity"), r.PostForm.Get("RoleSessionName"), r.PostForm.Get("RoleSessionName"),
			testAccessKey, testSecretKey, testToken, testExpiry.Format(time.RFC3339))
	case "GetCallerIdentity":
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bot</Arn><UserId>AIDATEST</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>`)
	}
}

func (f *fakeSTSServer) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// stsClient is a real STS client aimed at srv, retrying without delay.
func stsClient(srv string) *sts.Client {
	return sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIABOTTEST", "bot-secret", ""),
		Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} }),
	})
}

// TestSTSErrorMapping replays AWS-shaped STS errors to a real SDK client
// and checks what Issue makes of them.
func TestSTSErrorMapping(t *testing.T) {
	tests := []struct {
		code       string
		status     int
		wantReason string
		temporary  bool
		attempts   int
	}{
		{"AccessDenied", 403, "does not trust it", false, 1},
		{"MalformedPolicyDocument", 400, "session policy", false, 1},
		{"PackedPolicyTooLarge", 400, "too large", false, 1},
		{"RegionDisabledException", 403, "not activated", false, 1},
		{"ExpiredToken", 403, "bot's own AWS credentials are invalid or expired", false, 1},
		{"ExpiredTokenException", 400, "bot's own AWS credentials are invalid or expired", false, 1},
		{"InvalidClientTokenId", 403, "bot's own AWS credentials are invalid or expired", false, 1},
		{"ValidationError", 400, "MAX_SESSION_DURATION", false, 1},
		{"Throttling", 400, "throttling", true, 3},
		{"ServiceUnavailable", 503, "unavailable", true, 3},
		{"InternalFailure", 500, "internally", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			srv := newFakeSTSServer(t, tt.status, tt.code)
			fed := fedtest.New(t)
			b := testBroker(t, stsClient(srv.URL), fed.URL())
			_, err := b.Issue(context.Background(), testGrant())
			ie := issueError(t, err)
			if ie.Code != tt.code {
				t.Errorf("Code = %q; want %q", ie.Code, tt.code)
			}
			if !strings.Contains(ie.Reason, tt.wantReason) {
				t.Errorf("Reason = %q; want it to contain %q", ie.Reason, tt.wantReason)
			}
			if ie.Temporary != tt.temporary {
				t.Errorf("Temporary() = %t; want %t", ie.Temporary, tt.temporary)
			}
			if got := len(srv.requests()); got != tt.attempts {
				t.Errorf("STS got %d requests; want %d", got, tt.attempts)
			}
			if fed.Requests() != 0 {
				t.Errorf("the federation endpoint was called after STS failed")
			}
		})
	}
}

// TestSTSWire checks the AssumeRole request as the SDK puts it on the wire.
func TestSTSWire(t *testing.T) {
	srv := newFakeSTSServer(t, 0, "")
	fed := fedtest.New(t, fedtest.RejectSessionDuration())
	b := testBroker(t, stsClient(srv.URL), fed.URL())
	g := testGrant()
	g.Session = 45 * time.Minute
	link, err := b.Issue(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if !link.SessionEnds.Equal(testExpiry) {
		t.Errorf("SessionEnds = %s; want %s", link.SessionEnds, testExpiry)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("STS got %d requests; want 1", len(reqs))
	}
	policy, _ := SessionPolicy("aws", g.Scope)
	want := map[string]string{
		"Action":              "AssumeRole",
		"Version":             "2011-06-15",
		"RoleArn":             validConfig().RoleARN,
		"RoleSessionName":     "slack-U0123ABCD",
		"SourceIdentity":      "slack-U0123ABCD",
		"DurationSeconds":     "2700",
		"Policy":              policy,
		"Tags.member.1.Key":   "request-id",
		"Tags.member.1.Value": "ABCDEFGHIJ",
		"Tags.member.2.Key":   "approver",
		"Tags.member.2.Value": "U0999ZZZZ",
	}
	for k, v := range want {
		if got := reqs[0].Get(k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	if len(reqs[0]) != len(want) {
		t.Errorf("request has fields %v; want exactly %d", reqs[0], len(want))
	}
	creds, err := fed.CredentialsFor(link.URL)
	if err != nil || creds.SecretAccessKey != testSecretKey {
		t.Errorf("CredentialsFor = %v; want the STS credentials", err)
	}
}

// TestNewHonoursEndpointEnv checks that New's STS client comes from the
// SDK's standard chain, AWS_ENDPOINT_URL_STS included.
func TestNewHonoursEndpointEnv(t *testing.T) {
	srv := newFakeSTSServer(t, 0, "")
	fed := fedtest.New(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_STS":                srv.URL,
		"AWS_ENDPOINT_URL":                    "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
		"AWS_REGION":                          "eu-central-1",
		"AWS_ACCESS_KEY_ID":                   "AKIAENVTEST",
		"AWS_SECRET_ACCESS_KEY":               "env-secret",
		"AWS_SESSION_TOKEN":                   "",
		"AWS_PROFILE":                         "",
		"AWS_CONFIG_FILE":                     empty,
		"AWS_SHARED_CREDENTIALS_FILE":         empty,
		"AWS_EC2_METADATA_DISABLED":           "true",
	} {
		t.Setenv(k, v)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.FederationURL = fed.URL()
	b := New(cfg, awsCfg)

	link, err := b.Issue(context.Background(), testGrant())
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.requests()) != 1 {
		t.Fatalf("the STS server at AWS_ENDPOINT_URL_STS got %d requests; want 1", len(srv.requests()))
	}
	_, dest, _ := fedtest.ParseLogin(link.URL)
	if !strings.Contains(dest, "region=eu-central-1") {
		t.Errorf("Destination %q does not name AWS_REGION", dest)
	}
	id, err := b.Check(context.Background())
	if err != nil || id.ARN != "arn:aws:iam::123456789012:user/bot" {
		t.Errorf("Check = %+v, %v", id, err)
	}
}

// TestSTSNetworkErrors uses a real client against endpoints that fail.
func TestSTSNetworkErrors(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		b := testBroker(t, stsClient(url), "http://127.0.0.1:1/federation")
		_, err := b.Issue(context.Background(), testGrant())
		if ie := issueError(t, err); ie.Code != "NetworkError" || !ie.Temporary {
			t.Errorf("Issue = %v; want temporary NetworkError", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(hang))
		defer srv.Close()
		b := testBroker(t, stsClient(srv.URL), "http://127.0.0.1:1/federation")
		b.stsTimeout = 100 * time.Millisecond
		_, err := b.Issue(context.Background(), testGrant())
		if ie := issueError(t, err); ie.Code != "Timeout" || !ie.Temporary {
			t.Errorf("Issue = %v; want temporary Timeout", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(hang))
		defer srv.Close()
		b := testBroker(t, stsClient(srv.URL), "http://127.0.0.1:1/federation")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := b.Issue(ctx, testGrant())
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*approval.IssueError)) {
			t.Errorf("Issue = %v; want the caller's context error, not an IssueError", err)
		}
	})
}

// hang answers nothing until the client gives up. It reads the body first,
// so the server notices when the client goes away.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}
