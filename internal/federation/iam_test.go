package federation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/share-bucket/share-bucket/internal/iamtest"
)

// Test credentials of the bot, so tests can check they reach no error.
const (
	iamKeyID  = "AKIAREVOKERTEST"
	iamSecret = "revoker-secret-do-not-leak"
	iamToken  = "revoker-session-token-do-not-leak"
)

// iamConfig is the bot's aws.Config aimed at srv, without SDK retries so
// each call is one request.
func iamConfig(srv *iamtest.Server) aws.Config {
	return aws.Config{
		Region:       "eu-central-1",
		Credentials:  credentials.NewStaticCredentialsProvider(iamKeyID, iamSecret, iamToken),
		BaseEndpoint: aws.String(srv.URL()),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// newTestRevoker makes a role at path/name in srv and a Revoker for it.
func newTestRevoker(t *testing.T, srv *iamtest.Server, path, name string) *Revoker {
	t.Helper()
	cfg := validConfig()
	cfg.RoleARN = srv.CreateRole(path, name)
	r, err := NewRevoker(cfg, iamConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// iamErr returns err as an *IAMError or fails the test.
func iamErr(t *testing.T, err error) *IAMError {
	t.Helper()
	var ie *IAMError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *IAMError", err, err)
	}
	for _, secret := range []string{iamSecret, iamToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds a credential", err)
		}
	}
	return ie
}

func TestRoleName(t *testing.T) {
	tests := []struct {
		arn, want string
	}{
		{"arn:aws:iam::123456789012:role/share-bucket-collaborator", "share-bucket-collaborator"},
		{"arn:aws:iam::123456789012:role/some/path/name", "name"},
		{"arn:aws-cn:iam::123456789012:role/team/a.b@c", "a.b@c"},
		{"arn:aws-us-gov:iam::123456789012:role/x", "x"},
	}
	for _, tt := range tests {
		if got, err := RoleName(tt.arn); err != nil || got != tt.want {
			t.Errorf("RoleName(%q) = %q, %v; want %q", tt.arn, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "arn:aws:iam::123456789012:user/name", "arn:aws:iam::123456789012:role/", "name", "arn:aws:sts::123456789012:assumed-role/name/s"} {
		if got, err := RoleName(bad); err == nil {
			t.Errorf("RoleName(%q) = %q; want an error", bad, got)
		}
	}
	if _, err := NewRevoker(Config{RoleARN: "nope"}, aws.Config{}); err == nil {
		t.Error("NewRevoker with a malformed role ARN succeeded")
	}
}

// TestIAMEndpoints records what the SDK resolves for IAM in each
// partition, with the region NewRevoker gives the client: one global
// endpoint per partition, signed for its home region.
func TestIAMEndpoints(t *testing.T) {
	tests := []struct {
		partition, botRegion string
		wantRegion, wantURL  string
		wantSigningRegion    string
	}{
		{"aws", "eu-central-1", "eu-central-1", "https://iam.amazonaws.com", "us-east-1"},
		{"aws", "", "us-east-1", "https://iam.amazonaws.com", "us-east-1"},
		{"aws", "cn-north-1", "us-east-1", "https://iam.amazonaws.com", "us-east-1"},
		{"aws-cn", "cn-northwest-1", "cn-northwest-1", "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
		{"aws-cn", "eu-central-1", "cn-north-1", "https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"},
		{"aws-us-gov", "us-gov-east-1", "us-gov-east-1", "https://iam.us-gov.amazonaws.com", "us-gov-west-1"},
		{"aws-us-gov", "", "us-gov-west-1", "https://iam.us-gov.amazonaws.com", "us-gov-west-1"},
	}
	for _, tt := range tests {
		region := iamRegion(tt.partition, tt.botRegion)
		if region != tt.wantRegion {
			t.Errorf("iamRegion(%s, %q) = %q; want %q", tt.partition, tt.botRegion, region, tt.wantRegion)
		}
		e, err := iam.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), iam.EndpointParameters{Region: aws.String(region)})
		if err != nil {
			t.Fatal(err)
		}
		if e.URI.String() != tt.wantURL {
			t.Errorf("%s via %s: endpoint %s; want %s", tt.partition, region, e.URI.String(), tt.wantURL)
		}
		var signing string
		if opts, ok := smithyauth.GetAuthOptions(&e.Properties); ok {
			for _, o := range opts {
				// The endpoint rules name the scheme "sigv4".
				if o.SchemeID == "sigv4" {
					signing, _ = smithyhttp.GetSigV4SigningRegion(&o.SignerProperties)
				}
			}
		}
		if signing != tt.wantSigningRegion {
			t.Errorf("%s via %s: signing region %q; want %q", tt.partition, region, signing, tt.wantSigningRegion)
		}
	}
}

func TestApplyList(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/some/path/", "collab")
	ids := []string{"QX7RT2KLMB", "ABCDEFGH23", "QX7RT2KLMB"}
	got, err := r.Apply(context.Background(), ids, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := RevokedPolicy(ids, time.Time{})
	if got.Document != want || got.Fallback || got.Deleted || strings.Join(got.IDs, ",") != "ABCDEFGH23,QX7RT2KLMB" || got.Size != PolicySize(want) {
		t.Errorf("Apply = %+v; want the list %s", got, want)
	}
	if doc, ok := srv.Policy("collab", RevokedPolicyName); !ok || doc != want {
		t.Errorf("share-bucket-revoked on the role = %q, %v; want %s", doc, ok, want)
	}
	writes := srv.Writes()
	if len(writes) != 1 || writes[0].Action != iamtest.PutRolePolicy || writes[0].Role != "collab" || writes[0].Policy != RevokedPolicyName {
		t.Errorf("writes = %+v; want one PutRolePolicy of share-bucket-revoked on collab", writes)
	}

	// A second Apply with the policy in place lists it but never reads it.
	if _, err := r.Apply(context.Background(), []string{"ABCDEFGH23"}, testCutoff); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls(iamtest.GetRolePolicy); n != 0 {
		t.Errorf("GetRolePolicy was called %d times; want never (share-bucket-revoked is never read back)", n)
	}
	want, _ = RevokedPolicy([]string{"ABCDEFGH23"}, testCutoff)
	if doc, _ := srv.Policy("collab", RevokedPolicyName); doc != want {
		t.Errorf("after the second Apply: %s; want %s", doc, want)
	}
	for _, req := range srv.Requests() {
		if req.Region != "eu-central-1" || req.AccessKeyID != iamKeyID {
			t.Errorf("request %s signed for %q by %q", req.Action, req.Region, req.AccessKeyID)
		}
	}
}

func TestApplyDelete(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/", "collab")
	ctx := context.Background()
	if _, err := r.Apply(ctx, []string{"ABCDEFGH23"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Apply(ctx, nil, time.Time{})
	if err != nil || !got.Deleted || got.Document != "" {
		t.Fatalf("Apply(nothing) = %+v, %v; want Deleted", got, err)
	}
	if _, ok := srv.Policy("collab", RevokedPolicyName); ok {
		t.Error("share-bucket-revoked still exists")
	}
	// Again, with the policy gone: NoSuchEntity counts as deleted.
	if got, err := r.Apply(ctx, []string{}, time.Time{}); err != nil || !got.Deleted {
		t.Errorf("Apply(nothing) again = %+v, %v; want Deleted, no error", got, err)
	}
	if n := srv.Calls(iamtest.DeleteRolePolicy); n != 2 {
		t.Errorf("DeleteRolePolicy calls = %d; want 2", n)
	}
	var actions []string
	for _, w := range srv.Writes() {
		actions = append(actions, w.Action)
	}
	if strings.Join(actions, ",") != "PutRolePolicy,DeleteRolePolicy" {
		t.Errorf("writes = %v", actions)
	}
}

// otherPolicy returns a valid policy document of exactly size characters
// as IAM counts them, padded with whitespace that must not count.
func otherPolicy(size int) string {
	prefix := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/"
	suffix := "\"}]\n}"
	return prefix + strings.Repeat("x", size-PolicySize(prefix)-PolicySize(suffix)) + suffix
}

func TestApplyCountsOtherPolicies(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/team/", "collab")
	srv.SetPageSize(1) // every policy on its own page
	srv.SetPolicy("collab", "a", otherPolicy(1000))
	srv.SetPolicy("collab", "b", otherPolicy(2000))
	srv.SetPolicy("collab", "c", otherPolicy(300))
	if PolicySize(otherPolicy(1000)) != 1000 || len(otherPolicy(1000)) == 1000 {
		t.Fatal("otherPolicy is wrong")
	}
	n := RevokedCapacity(3300, false)
	ctx := context.Background()

	got, err := r.Apply(ctx, testIDs(n), time.Time{})
	if err != nil || got.Fallback || len(got.IDs) != n || got.OtherSize != 3300 {
		t.Fatalf("Apply(%d IDs) = %+v, %v; want the list beside 3300 characters", n, got, err)
	}
	if got := srv.Calls(iamtest.ListRolePolicies); got != 3 {
		t.Errorf("ListRolePolicies calls = %d; want 3 pages", got)
	}
	// One more ID does not fit: the fake would refuse it, so the
	// Revoker must fall back without trying.
	got, err = r.Apply(ctx, testIDs(n+1), time.Time{})
	if err != nil || !got.Fallback || got.OtherSize != 3300 {
		t.Fatalf("Apply(%d IDs) = %+v, %v; want a fallback", n+1, got, err)
	}
	var gets []string
	for _, req := range srv.Requests() {
		if req.Action == iamtest.GetRolePolicy {
			gets = append(gets, req.Params.Get("PolicyName"))
		}
	}
	if strings.Join(gets, ",") != "a,b,c,a,b,c" {
		t.Errorf("GetRolePolicy read %v; want a,b,c twice and never share-bucket-revoked", gets)
	}
	if n := srv.Calls(iamtest.PutRolePolicy); n != 2 {
		t.Errorf("PutRolePolicy calls = %d; want 2 (no refused attempt)", n)
	}
}

// TestApplyFallbackUsesAWSClock sets the fake's clock far from the bot's
// and checks the cut-off comes from IAM's Date header.
func TestApplyFallbackUsesAWSClock(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/", "collab")
	aws := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	srv.SetNow(aws)
	got, err := r.Apply(context.Background(), testIDs(RevokedCapacity(0, false)+1), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Fallback || len(got.IDs) != 0 || !got.Cutoff.Equal(aws) {
		t.Fatalf("Apply = %+v; want a fallback at AWS's %v (the bot's clock says %v)", got, aws, time.Now())
	}
	doc, _ := srv.Policy("collab", RevokedPolicyName)
	if want, _ := RevokedPolicy(nil, aws); doc != want || !strings.Contains(doc, `"aws:TokenIssueTime":"2031-02-03T04:05:07Z"`) {
		t.Errorf("document = %s; want %s", doc, want)
	}
	if n := len(srv.Writes()); n != 1 {
		t.Errorf("%d writes; want exactly one", n)
	}

	// The next Apply keeps the recorded cut-off and lists new IDs beside
	// it; AWS's clock moving on changes nothing.
	srv.SetNow(aws.Add(time.Hour))
	got, err = r.Apply(context.Background(), []string{"ABCDEFGH23"}, got.Cutoff)
	if err != nil || got.Fallback || !got.Cutoff.Equal(aws) {
		t.Fatalf("Apply after the fallback = %+v, %v", got, err)
	}
	doc, _ = srv.Policy("collab", RevokedPolicyName)
	if want, _ := RevokedPolicy([]string{"ABCDEFGH23"}, aws); doc != want {
		t.Errorf("document = %s; want %s", doc, want)
	}
}

// TestApplyLimitExceededFallsBack: another inline policy grew between the
// listing and the write, so IAM refuses the list; the failed write changed
// nothing and the fallback is written instead.
func TestApplyLimitExceededFallsBack(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/", "collab")
	now := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	srv.SetNow(now)
	srv.Fail(iamtest.PutRolePolicy, "LimitExceeded", 1)
	got, err := r.Apply(context.Background(), testIDs(10), time.Time{})
	if err != nil || !got.Fallback || !got.Cutoff.Equal(now) {
		t.Fatalf("Apply = %+v, %v; want a fallback after LimitExceeded", got, err)
	}
	if w := srv.Writes(); len(w) != 1 || w[0].Document != got.Document {
		t.Errorf("writes = %+v; want the fallback only", w)
	}

	srv.Fail(iamtest.PutRolePolicy, "LimitExceeded", 2)
	_, err = r.Apply(context.Background(), testIDs(10), time.Time{})
	if ie := iamErr(t, err); ie.Code != "LimitExceeded" || ie.Temporary || ie.Op != "PutRolePolicy" {
		t.Errorf("Apply = %v; want a lasting LimitExceeded", err)
	}
}

func TestApplyNoRoom(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/", "collab")
	srv.SetPolicy("collab", "big", otherPolicy(MaxRolePolicySize-20))
	_, err := r.Apply(context.Background(), []string{"ABCDEFGH23"}, time.Time{})
	if ie := iamErr(t, err); ie.Code != "NoRoom" || ie.Temporary || !strings.Contains(ie.Reason, "10220") {
		t.Errorf("Apply = %v; want NoRoom naming the size", err)
	}
	if n := srv.Calls(iamtest.PutRolePolicy); n != 0 {
		t.Errorf("PutRolePolicy calls = %d; want none", n)
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		code      string
		times     int
		temporary bool
	}{
		{"AccessDeniedPut", iamtest.PutRolePolicy, "AccessDenied", iamtest.Always, false},
		{"AccessDeniedList", iamtest.ListRolePolicies, "AccessDenied", iamtest.Always, false},
		{"ThrottledList", iamtest.ListRolePolicies, "Throttling", 1, true},
		{"ThrottledPut", iamtest.PutRolePolicy, "Throttling", 1, true},
		{"ServiceFailureGet", iamtest.GetRolePolicy, "ServiceFailure", 1, true},
		{"ServiceUnavailablePut", iamtest.PutRolePolicy, "ServiceUnavailable", 1, true},
		{"MalformedPut", iamtest.PutRolePolicy, "MalformedPolicyDocument", 1, false},
		{"UnmodifiablePut", iamtest.PutRolePolicy, "UnmodifiableEntity", 1, false},
		{"AccessDeniedDelete", iamtest.DeleteRolePolicy, "AccessDenied", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := iamtest.New(t)
			r := newTestRevoker(t, srv, "/", "collab")
			srv.SetPolicy("collab", "other", otherPolicy(200))
			srv.Fail(tt.action, tt.code, tt.times)
			ids := []string{"ABCDEFGH23"}
			if tt.action == iamtest.DeleteRolePolicy {
				ids = nil
			}
			got, err := r.Apply(context.Background(), ids, time.Time{})
			if got.Document != "" || got.Deleted || got.Fallback {
				t.Errorf("Apply failed but returned %+v", got)
			}
			ie := iamErr(t, err)
			if ie.Code != tt.code || ie.Op != tt.action || ie.Temporary != tt.temporary || ie.Reason == "" {
				t.Errorf("Apply = %+v; want %s from %s, temporary %v", ie, tt.code, tt.action, tt.temporary)
			}
			if !strings.Contains(err.Error(), tt.code) {
				t.Errorf("error %q does not name the AWS code", err)
			}
			if tt.action != iamtest.PutRolePolicy && srv.Calls(iamtest.PutRolePolicy) != 0 {
				t.Error("Apply wrote after a failed read")
			}
			// A retry by the caller, once the fault is gone, succeeds.
			if tt.times != iamtest.Always {
				if _, err := r.Apply(context.Background(), ids, time.Time{}); err != nil {
					t.Errorf("retry: %v", err)
				}
			}
		})
	}

	t.Run("NoSuchRole", func(t *testing.T) {
		srv := iamtest.New(t)
		cfg := validConfig()
		cfg.RoleARN = "arn:aws:iam::123456789012:role/path/missing"
		r, err := NewRevoker(cfg, iamConfig(srv))
		if err != nil {
			t.Fatal(err)
		}
		for _, ids := range [][]string{{"ABCDEFGH23"}, nil} {
			_, err := r.Apply(context.Background(), ids, time.Time{})
			ie := iamErr(t, err)
			if ie.Code != "NoSuchEntity" || ie.Temporary || !strings.Contains(ie.Reason, "COLLABORATOR_ROLE_ARN") {
				t.Errorf("Apply(%v) on a missing role = %v; want a lasting NoSuchEntity naming COLLABORATOR_ROLE_ARN", ids, err)
			}
		}
		if ie := iamErr(t, r.CheckAccess(context.Background())); ie.Code != "NoSuchEntity" {
			t.Errorf("CheckAccess on a missing role = %v; want NoSuchEntity", ie)
		}
	})
	t.Run("BadID", func(t *testing.T) {
		srv := iamtest.New(t)
		r := newTestRevoker(t, srv, "/", "collab")
		if _, err := r.Apply(context.Background(), []string{`A"],"X":["`}, time.Time{}); err == nil {
			t.Error("Apply with a malformed ID succeeded")
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%d requests for a malformed ID; want none", n)
		}
	})
	t.Run("SDKRetriesThrottling", func(t *testing.T) {
		srv := iamtest.New(t)
		cfg := validConfig()
		cfg.RoleARN = srv.CreateRole("/", "collab")
		awsCfg := iamConfig(srv)
		awsCfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} })
		}
		r, err := NewRevoker(cfg, awsCfg)
		if err != nil {
			t.Fatal(err)
		}
		srv.Fail(iamtest.PutRolePolicy, "Throttling", 1)
		if _, err := r.Apply(context.Background(), []string{"ABCDEFGH23"}, time.Time{}); err != nil {
			t.Errorf("Apply with one throttle and the SDK's retryer: %v", err)
		}
		if n := srv.Calls(iamtest.PutRolePolicy); n != 2 {
			t.Errorf("PutRolePolicy calls = %d; want 2", n)
		}
	})
}

func TestApplyNetworkErrors(t *testing.T) {
	t.Run("Timeout", func(t *testing.T) {
		srv := iamtest.New(t)
		r := newTestRevoker(t, srv, "/", "collab")
		r.timeout = 100 * time.Millisecond
		srv.SetDelay(5 * time.Second)
		_, err := r.Apply(context.Background(), []string{"ABCDEFGH23"}, time.Time{})
		if ie := iamErr(t, err); ie.Code != "Timeout" || !ie.Temporary {
			t.Errorf("Apply = %v; want a temporary Timeout", err)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		hs := httptest.NewServer(http.NotFoundHandler())
		url := hs.URL
		hs.Close()
		cfg := validConfig()
		awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(iamKeyID, iamSecret, iamToken), BaseEndpoint: aws.String(url), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
		r, err := NewRevoker(cfg, awsCfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Apply(context.Background(), []string{"ABCDEFGH23"}, time.Time{})
		if ie := iamErr(t, err); ie.Code != "NetworkError" || !ie.Temporary {
			t.Errorf("Apply = %v; want a temporary NetworkError", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		srv := iamtest.New(t)
		r := newTestRevoker(t, srv, "/", "collab")
		srv.SetDelay(5 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := r.Apply(ctx, []string{"ABCDEFGH23"}, time.Time{})
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*IAMError)) {
			t.Errorf("Apply = %v; want the caller's context error, not an IAMError", err)
		}
	})
}

func TestCheckAccess(t *testing.T) {
	srv := iamtest.New(t)
	r := newTestRevoker(t, srv, "/", "collab")
	ctx := context.Background()
	if err := r.CheckAccess(ctx); err != nil {
		t.Errorf("CheckAccess without the policy = %v; want nil (NoSuchEntity counts as allowed)", err)
	}
	if _, err := r.Apply(ctx, []string{"ABCDEFGH23"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckAccess(ctx); err != nil {
		t.Errorf("CheckAccess with the policy = %v", err)
	}
	var got []string
	for _, req := range srv.Requests() {
		if req.Action == iamtest.GetRolePolicy {
			got = append(got, req.Params.Get("RoleName")+"/"+req.Params.Get("PolicyName"))
		}
	}
	if strings.Join(got, ",") != "collab/share-bucket-revoked,collab/share-bucket-revoked" {
		t.Errorf("CheckAccess read %v", got)
	}
	for _, action := range []string{iamtest.GetRolePolicy, iamtest.ListRolePolicies} {
		srv.Fail(action, "AccessDenied", 1)
		if ie := iamErr(t, r.CheckAccess(ctx)); ie.Code != "AccessDenied" || ie.Op != action || ie.Temporary {
			t.Errorf("CheckAccess with %s denied = %+v", action, ie)
		}
	}
	if n := len(srv.Writes()); n != 1 {
		t.Errorf("CheckAccess wrote: %d writes; want only Apply's", n)
	}
}

// TestNewRevokerHonoursEndpointEnv checks that NewRevoker's IAM client
// comes from the SDK's standard chain, AWS_ENDPOINT_URL_IAM included.
func TestNewRevokerHonoursEndpointEnv(t *testing.T) {
	srv := iamtest.New(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_IAM":                srv.URL(),
		"AWS_ENDPOINT_URL":                    "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
		"AWS_REGION":                          "eu-central-1",
		"AWS_ACCESS_KEY_ID":                   iamKeyID,
		"AWS_SECRET_ACCESS_KEY":               iamSecret,
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
	for _, arn := range []string{"arn:aws:iam::123456789012:role/collab", "arn:aws-cn:iam::123456789012:role/china/collab"} {
		cfg := validConfig()
		cfg.RoleARN = arn
		srv.CreateRole("/", "collab")
		r, err := NewRevoker(cfg, awsCfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckAccess(context.Background()); err != nil {
			t.Fatalf("%s: CheckAccess = %v", arn, err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("the IAM server at AWS_ENDPOINT_URL_IAM got %d requests; want 4", len(reqs))
	}
	// With a custom endpoint the SDK signs for the client's region: the
	// bot's own for the aws role, the partition's home for aws-cn.
	if reqs[0].Region != "eu-central-1" || reqs[2].Region != "cn-north-1" {
		t.Errorf("signing regions %q, %q; want eu-central-1, cn-north-1", reqs[0].Region, reqs[2].Region)
	}
}

// fakeIAM is a hand-written iamAPI that records calls, for what the fake
// server cannot show: the Revoker's own sequencing when answers carry no
// Date header.
type fakeIAM struct {
	mu       sync.Mutex
	names    []string
	calls    []string
	putErr   error
	lastDoc  string
	listHook func()
}

var _ iamAPI = (*fakeIAM)(nil)

func (f *fakeIAM) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeIAM) ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	f.record("List " + aws.ToString(in.RoleName))
	return &iam.ListRolePoliciesOutput{PolicyNames: f.names}, nil
}

func (f *fakeIAM) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	f.record("Get " + aws.ToString(in.PolicyName))
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String("%7B%22a%22%3A%20%22b%22%7D")}, nil
}

func (f *fakeIAM) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.record("Put " + aws.ToString(in.PolicyName))
	f.mu.Lock()
	f.lastDoc = aws.ToString(in.PolicyDocument)
	f.mu.Unlock()
	return &iam.PutRolePolicyOutput{}, f.putErr
}

func (f *fakeIAM) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	f.record("Delete " + aws.ToString(in.PolicyName))
	return &iam.DeleteRolePolicyOutput{}, nil
}

func TestApplyWithoutServerTime(t *testing.T) {
	f := &fakeIAM{names: []string{"other", RevokedPolicyName}}
	r := newRevoker("collab", f)
	got, err := r.Apply(context.Background(), testIDs(3), time.Time{})
	if err != nil || got.OtherSize != 9 {
		t.Fatalf("Apply = %+v, %v; want the list beside a decoded 9-character policy", got, err)
	}
	if strings.Join(f.calls, ",") != "List collab,Get other,Put share-bucket-revoked" {
		t.Errorf("calls = %v", f.calls)
	}
	// Without a Date header there is no AWS time, so no fallback: the
	// bot's own clock is never used.
	f.calls = nil
	_, err = r.Apply(context.Background(), testIDs(RevokedCapacity(9, false)+1), time.Time{})
	if ie := iamErr(t, err); ie.Code != "NoServerTime" || ie.Temporary {
		t.Errorf("Apply = %v; want NoServerTime", err)
	}
	if strings.Join(f.calls, ",") != "List collab,Get other" {
		t.Errorf("calls = %v; want no write", f.calls)
	}
}
