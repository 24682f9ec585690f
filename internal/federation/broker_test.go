package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/config"
	"github.com/share-bucket/share-bucket/internal/federation/fedtest"
)

// Test credentials. The secret and token hold characters that URL encoding
// changes, so leak checks also look for their encoded forms.
const (
	testAccessKey = "ASIATESTACCESSKEY000"
	testSecretKey = "tEsT/sEcReT+kEy=0123456789abcdefABCDEF"
	testToken     = "FwoGZXIvYXdzEBQaDtestTOKEN/with+slash=and/plus//end=="
)

var testExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeSTS is a hand-written stsAPI: function fields, calls recorded.
type fakeSTS struct {
	AssumeRoleFn        func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error)
	GetCallerIdentityFn func() (*sts.GetCallerIdentityOutput, error)

	mu    sync.Mutex
	calls []*sts.AssumeRoleInput
}

var _ stsAPI = (*fakeSTS)(nil)

func (f *fakeSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	if f.AssumeRoleFn != nil {
		return f.AssumeRoleFn(in)
	}
	return &sts.AssumeRoleOutput{Credentials: &types.Credentials{
		AccessKeyId:     aws.String(testAccessKey),
		SecretAccessKey: aws.String(testSecretKey),
		SessionToken:    aws.String(testToken),
		Expiration:      aws.Time(testExpiry),
	}}, nil
}

func (f *fakeSTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	if f.GetCallerIdentityFn != nil {
		return f.GetCallerIdentityFn()
	}
	return &sts.GetCallerIdentityOutput{
		Account: aws.String("123456789012"),
		Arn:     aws.String("arn:aws:iam::123456789012:user/share-bucket-bot"),
		UserId:  aws.String("AIDATESTUSER"),
	}, nil
}

func (f *fakeSTS) lastCall(t *testing.T) *sts.AssumeRoleInput {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("AssumeRole was not called")
	}
	return f.calls[len(f.calls)-1]
}

func testGrant() approval.Grant {
	return approval.Grant{
		RequestID: "ABCDEFGHIJ",
		Requester: "U0123ABCD",
		Approver:  "U0999ZZZZ",
		Scope:     approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite},
		Session:   time.Hour,
	}
}

func testBroker(t *testing.T, s stsAPI, fedURL string) *Broker {
	t.Helper()
	cfg := validConfig()
	cfg.FederationURL = fedURL
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return newBroker(cfg, s, &http.Client{}, "eu-west-1")
}

// assertNoSecrets fails if text holds a credential, the sign-in token or
// the Session JSON, raw or URL-encoded.
func assertNoSecrets(t *testing.T, text string, extra ...string) {
	t.Helper()
	secrets := append([]string{testSecretKey, testToken}, extra...)
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if strings.Contains(text, form) {
				t.Errorf("text leaks a secret (%.8s…): %s", s, text)
			}
		}
	}
	for _, marker := range []string{"sessionKey", "sessionToken", "Session=", "SigninToken="} {
		if strings.Contains(text, marker) {
			t.Errorf("text contains %q: %s", marker, text)
		}
	}
}

func issueError(t *testing.T, err error) *approval.IssueError {
	t.Helper()
	var ie *approval.IssueError
	if !errors.As(err, &ie) {
		t.Fatalf("error = %v (%T); want *approval.IssueError", err, err)
	}
	return ie
}

func TestIssue(t *testing.T) {
	fed := fedtest.New(t, fedtest.RejectSessionDuration())
	fake := &fakeSTS{}
	b := testBroker(t, fake, fed.URL())
	g := testGrant()

	link, err := b.Issue(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("AssumeRoleInput", func(t *testing.T) {
		in := fake.lastCall(t)
		if got, want := aws.ToString(in.RoleArn), validConfig().RoleARN; got != want {
			t.Errorf("RoleArn = %q; want %q", got, want)
		}
		if got, want := aws.ToString(in.RoleSessionName), "slack-U0123ABCD"; got != want {
			t.Errorf("RoleSessionName = %q; want %q", got, want)
		}
		if got, want := aws.ToString(in.SourceIdentity), "slack-U0123ABCD"; got != want {
			t.Errorf("SourceIdentity = %q; want %q", got, want)
		}
		if got, want := aws.ToInt32(in.DurationSeconds), int32(3600); got != want {
			t.Errorf("DurationSeconds = %d; want %d", got, want)
		}
		want, _ := SessionPolicy("aws", g.Scope)
		if got := aws.ToString(in.Policy); got != want {
			t.Errorf("Policy = %s; want %s", got, want)
		}
		tags := map[string]string{}
		for _, tag := range in.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if len(tags) != 2 || tags["request-id"] != "ABCDEFGHIJ" || tags["approver"] != "U0999ZZZZ" {
			t.Errorf("Tags = %v; want request-id=ABCDEFGHIJ approver=U0999ZZZZ", tags)
		}
		if in.ExternalId != nil || len(in.PolicyArns) != 0 || len(in.TransitiveTagKeys) != 0 {
			t.Errorf("unexpected AssumeRole fields: %+v", in)
		}
	})

	t.Run("Link", func(t *testing.T) {
		if !link.SessionEnds.Equal(testExpiry) {
			t.Errorf("SessionEnds = %s; want %s", link.SessionEnds, testExpiry)
		}
		u, err := url.Parse(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != fed.URL() {
			t.Errorf("link goes to %s; want %s", got, fed.URL())
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 4 || q.Get("Action") != "login" || q.Get("Issuer") != "share-bucket" || q.Get("SigninToken") == "" {
			t.Errorf("login query = %v; want Action=login, Issuer=share-bucket, Destination, SigninToken", q)
		}
		wantDest := "https://console.aws.amazon.com/s3/buckets/collab-bucket?prefix=myfolder%2F&region=eu-west-1&showversions=false"
		if got := q.Get("Destination"); got != wantDest {
			t.Errorf("Destination = %q; want %q", got, wantDest)
		}
		// Destination is form-encoded in the link: none of its own
		// delimiters appear raw.
		raw := u.RawQuery[strings.Index(u.RawQuery, "Destination=")+len("Destination="):]
		raw = raw[:strings.IndexByte(raw, '&')]
		if strings.ContainsAny(raw, ":/?&=") || raw != url.QueryEscape(wantDest) {
			t.Errorf("Destination is not form-encoded in the link: %s", raw)
		}
		tok, dest, err := fedtest.ParseLogin(link.URL)
		if err != nil || tok == "" || dest != wantDest {
			t.Errorf("ParseLogin = %q, %q, %v", tok, dest, err)
		}
		creds, err := fed.CredentialsFor(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID != testAccessKey || creds.SecretAccessKey != testSecretKey || creds.SessionToken != testToken {
			t.Errorf("the federation endpoint got other credentials than STS issued")
		}
		for _, secret := range []string{testSecretKey, testToken} {
			if strings.Contains(link.URL, secret) || strings.Contains(link.URL, url.QueryEscape(secret)) {
				t.Errorf("the link carries a credential: %s", link.URL)
			}
		}
	})

	t.Run("LoginRedirects", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, dest, _ := fedtest.ParseLogin(link.URL)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
			t.Errorf("login = %d to %q; want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), dest)
		}
	})
}

func TestIssueSession(t *testing.T) {
	fed := fedtest.New(t)
	tests := []struct {
		name    string
		session time.Duration
		want    int32 // 0: refused
	}{
		{"Minimum", 15 * time.Minute, 900},
		{"Odd", 20*time.Minute + 30*time.Second + 500*time.Millisecond, 1230},
		{"CappedAtMax", 3 * time.Hour, 3600},
		{"TooShort", 14*time.Minute + 59*time.Second, 0},
		{"Zero", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeSTS{}
			b := testBroker(t, fake, fed.URL())
			g := testGrant()
			g.Session = tt.session
			_, err := b.Issue(context.Background(), g)
			if tt.want == 0 {
				if ie := issueError(t, err); ie.Code != "InvalidGrant" || len(fake.calls) != 0 {
					t.Errorf("Issue = %v after %d STS calls; want InvalidGrant and no call", err, len(fake.calls))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToInt32(fake.lastCall(t).DurationSeconds); got != tt.want {
				t.Errorf("DurationSeconds = %d; want %d", got, tt.want)
			}
		})
	}
}

// TestIssueWithoutRequestID: every session carries the request-id tag that
// revocation denies by; a grant without one gets no session at all.
func TestIssueWithoutRequestID(t *testing.T) {
	fake := &fakeSTS{}
	b := testBroker(t, fake, "http://127.0.0.1:1/federation")
	for _, id := range []string{"", "not-an-id", "ABC<>!DEF"} {
		g := testGrant()
		g.RequestID = id
		_, err := b.Issue(context.Background(), g)
		if ie := issueError(t, err); ie.Code != "InvalidGrant" || ie.Temporary {
			t.Errorf("Issue(request %q) = %v; want permanent InvalidGrant", id, err)
		}
	}
	if len(fake.calls) != 0 {
		t.Errorf("STS was called for a grant without a request ID")
	}
}

func TestIssueInvalidScope(t *testing.T) {
	fake := &fakeSTS{}
	b := testBroker(t, fake, "http://127.0.0.1:1/federation")
	g := testGrant()
	g.Prefix = "../"
	_, err := b.Issue(context.Background(), g)
	if ie := issueError(t, err); ie.Code != "InvalidGrant" || ie.Temporary {
		t.Errorf("Issue = %v; want permanent InvalidGrant", err)
	}
	if len(fake.calls) != 0 {
		t.Errorf("STS was called for an invalid scope")
	}
}

func TestIssueWholeBucketDestination(t *testing.T) {
	fed := fedtest.New(t)
	cfg := validConfig()
	cfg.FederationURL = fed.URL()
	cfg.ConsoleURL = "https://console.amazonaws-us-gov.com" // no trailing slash
	cfg.RoleARN = "arn:aws-us-gov:iam::123456789012:role/collab"
	b := newBroker(cfg, &fakeSTS{}, nil, "")
	g := testGrant()
	g.Prefix = ""
	link, err := b.Issue(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	_, dest, err := fedtest.ParseLogin(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://console.amazonaws-us-gov.com/s3/buckets/collab-bucket?showversions=false"; dest != want {
		t.Errorf("Destination = %q; want %q", dest, want)
	}
}

func TestSessionName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"U0123ABCD", "slack-U0123ABCD"},
		{"W012_a+b=c,d.e@f-g", "slack-W012_a+b=c,d.e@f-g"},
		{"", "slack-unknown"},
		{"U1 2:3/4", "slack-U1_2_3_4"},
		{"Ü", "slack-_"},
		{strings.Repeat("x", 100), "slack-" + strings.Repeat("x", 58)},
	}
	for _, tt := range tests {
		got := SessionName(tt.in)
		if got != tt.want {
			t.Errorf("SessionName(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if len(got) < 2 || len(got) > 64 {
			t.Errorf("SessionName(%q) has %d characters", tt.in, len(got))
		}
	}
}

func TestSessionTags(t *testing.T) {
	tags := sessionTags(approval.Grant{RequestID: "ABC<>!DEF", Approver: ""})
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "request-id" || aws.ToString(tags[0].Value) != "ABCDEF" {
		t.Errorf("sessionTags = %+v; want only request-id=ABCDEF", tags)
	}
	if got := tagValue("ü ñ_.:/=+-@1" + strings.Repeat("x", 300)); len([]rune(got)) != 256 || !strings.HasPrefix(got, "ü ñ_.:/=+-@1x") {
		t.Errorf("tagValue kept %q", got)
	}
}

func TestIssueFederationErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantCode  string
		temporary bool
	}{
		{"InvalidCredentials", http.StatusBadRequest, "FederationError", false},
		{"Forbidden", http.StatusForbidden, "FederationError", false},
		{"Throttled", http.StatusTooManyRequests, "Throttling", true},
		{"ServerError", http.StatusInternalServerError, "ServiceUnavailable", true},
		{"Unavailable", http.StatusServiceUnavailable, "ServiceUnavailable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fed := fedtest.New(t)
			fed.FailNext(tt.status)
			b := testBroker(t, &fakeSTS{}, fed.URL())
			_, err := b.Issue(context.Background(), testGrant())
			ie := issueError(t, err)
			if ie.Code != tt.wantCode || ie.Temporary != tt.temporary {
				t.Errorf("Code = %s (temporary %t); want %s (%t)", ie.Code, ie.Temporary, tt.wantCode, tt.temporary)
			}
			if !strings.Contains(ie.Reason, fmt.Sprint(tt.status)) {
				t.Errorf("Reason %q does not give the HTTP status %d", ie.Reason, tt.status)
			}
			if strings.Contains(err.Error(), "<") || strings.Contains(err.Error(), "syntactically") {
				t.Errorf("error echoes the HTML body: %v", err)
			}
			assertNoSecrets(t, err.Error())
		})
	}
}

// TestIssueRejectedCredentials is the federation endpoint refusing the
// credentials themselves, as AWS does for invalid or expired ones.
func TestIssueRejectedCredentials(t *testing.T) {
	fed := fedtest.New(t, fedtest.WithVerifier(func(ctx context.Context, c aws.Credentials) error {
		return errors.New("expired")
	}))
	b := testBroker(t, &fakeSTS{}, fed.URL())
	_, err := b.Issue(context.Background(), testGrant())
	if ie := issueError(t, err); ie.Code != "FederationError" || !strings.Contains(ie.Reason, "400") {
		t.Errorf("Issue = %v; want FederationError with HTTP 400", err)
	}
	assertNoSecrets(t, err.Error())
}

func TestIssueFederationBadAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"NotJSON":    "<html>oops</html>",
		"NoToken":    `{"Token":"x"}`,
		"EmptyToken": `{"SigninToken":""}`,
		"WrongType":  `{"SigninToken":12345}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, body)
			}))
			defer srv.Close()
			b := testBroker(t, &fakeSTS{}, srv.URL+"/federation")
			_, err := b.Issue(context.Background(), testGrant())
			if ie := issueError(t, err); ie.Code != "FederationError" {
				t.Errorf("Issue = %v; want FederationError", err)
			}
			assertNoSecrets(t, err.Error())
		})
	}
}

// TestIssueNoRedirect checks that the credentials are never sent on to
// where a redirect points.
func TestIssueNoRedirect(t *testing.T) {
	var followed bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	b := testBroker(t, &fakeSTS{}, srv.URL+"/federation")
	_, err := b.Issue(context.Background(), testGrant())
	if ie := issueError(t, err); ie.Code != "FederationError" || !strings.Contains(ie.Reason, "307") {
		t.Errorf("Issue = %v; want FederationError with HTTP 307", err)
	}
	if followed {
		t.Errorf("the redirect was followed")
	}
	assertNoSecrets(t, err.Error())
}

func TestIssueFederationTimeout(t *testing.T) {
	fed := fedtest.New(t)
	fed.SetDelay(5 * time.Second)
	b := testBroker(t, &fakeSTS{}, fed.URL())
	b.fedTimeout = 50 * time.Millisecond
	start := time.Now()
	_, err := b.Issue(context.Background(), testGrant())
	if ie := issueError(t, err); ie.Code != "Timeout" || !ie.Temporary {
		t.Errorf("Issue = %v; want temporary Timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Issue took %s; the timeout is 50ms", d)
	}
	assertNoSecrets(t, err.Error())
}

// TestIssueNoSecretsInErrors makes the HTTP client fail in the ways that put
// the request URL, which carries the credentials, into error texts.
func TestIssueNoSecretsInErrors(t *testing.T) {
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String() + "/federation"
	l.Close()

	tests := []struct {
		name     string
		fedURL   string
		rt       http.RoundTripper
		wantCode string
	}{
		{"ConnectionRefused", closedURL, nil, "NetworkError"},
		{"UnknownHost", "https://xx-none-9.signin.aws.amazon.com/federation", noDNS(), "NetworkError"},
		{"TransportQuotesURL", "http://127.0.0.1:1/federation", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("proxy failed for %s (query %s)", r.URL, r.URL.RawQuery)
		}), "NetworkError"},
		{"TransportQuotesSecret", "http://127.0.0.1:1/federation", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("bad session %s", r.URL.Query().Get("Session"))
		}), "NetworkError"},
		{"TimeoutQuotesURL", "http://127.0.0.1:1/federation", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, fmt.Errorf("gave up on %s: %w", r.URL, r.Context().Err())
		}), "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBroker(t, &fakeSTS{}, tt.fedURL)
			b.fedTimeout = 200 * time.Millisecond
			if tt.rt != nil {
				b.hc.Transport = tt.rt
			}
			_, err := b.Issue(context.Background(), testGrant())
			ie := issueError(t, err)
			if ie.Code != tt.wantCode || !ie.Temporary {
				t.Errorf("Code = %s; want temporary %s (error %v)", ie.Code, tt.wantCode, err)
			}
			assertNoSecrets(t, err.Error())
			assertNoSecrets(t, fmt.Sprintf("%+v %#v", err, ie.Err))
		})
	}
}

// noDNS is a transport whose name lookups all fail, as they do for a host
// that does not exist.
func noDNS() http.RoundTripper {
	d := &net.Dialer{Resolver: &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no name server in this test")
	}}}
	return &http.Transport{DialContext: d.DialContext}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIssueCanceled: when the caller's context ends the error is not an
// IssueError, so the domain retries later rather than failing the grant.
func TestIssueCanceled(t *testing.T) {
	fed := fedtest.New(t)
	fed.SetDelay(5 * time.Second)
	b := testBroker(t, &fakeSTS{}, fed.URL())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := b.Issue(ctx, testGrant())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Issue = %v; want context.Canceled", err)
	}
	if errors.As(err, new(*approval.IssueError)) {
		t.Errorf("Issue = %v; want no IssueError", err)
	}
	assertNoSecrets(t, err.Error())
}

func TestIssueSTSFailures(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		out       *sts.AssumeRoleOutput
		wantCode  string
		temporary bool
	}{
		{"AccessDenied", &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: x is not authorized"}, nil, "AccessDenied", false},
		{"Typed", &types.MalformedPolicyDocumentException{Message: aws.String("bad")}, nil, "MalformedPolicyDocument", false},
		{"Unknown", &smithy.GenericAPIError{Code: "SomethingNew"}, nil, "SomethingNew", false},
		{"Network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, nil, "NetworkError", true},
		{"Deadline", fmt.Errorf("operation error STS: AssumeRole: %w", context.DeadlineExceeded), nil, "Timeout", true},
		{"NoCredentials", errors.New("failed to refresh cached credentials, no EC2 IMDS role found"), nil, "NoCredentials", false},
		{"Other", errors.New("boom"), nil, "STSError", false},
		{"NoCredentialsInAnswer", nil, &sts.AssumeRoleOutput{}, "InvalidResponse", false},
		{"NoAnswer", nil, nil, "InvalidResponse", false},
		{"NoExpiration", nil, &sts.AssumeRoleOutput{Credentials: &types.Credentials{
			AccessKeyId: aws.String("a"), SecretAccessKey: aws.String("b"), SessionToken: aws.String("c"),
		}}, "InvalidResponse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fed := fedtest.New(t)
			fake := &fakeSTS{AssumeRoleFn: func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) { return tt.out, tt.err }}
			b := testBroker(t, fake, fed.URL())
			_, err := b.Issue(context.Background(), testGrant())
			ie := issueError(t, err)
			if ie.Code != tt.wantCode || ie.Temporary != tt.temporary {
				t.Errorf("Code = %s (temporary %t); want %s (%t)", ie.Code, ie.Temporary, tt.wantCode, tt.temporary)
			}
			if ie.Reason == "" {
				t.Errorf("no Reason for %s", ie.Code)
			}
			if fed.Requests() != 0 {
				t.Errorf("the federation endpoint was called after STS failed")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		fed := fedtest.New(t)
		fake := &fakeSTS{}
		b := testBroker(t, fake, fed.URL())
		id, err := b.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if id.ARN != "arn:aws:iam::123456789012:user/share-bucket-bot" || id.Account != "123456789012" || id.Chained {
			t.Errorf("Identity = %+v", id)
		}
		in := fake.lastCall(t)
		if aws.ToString(in.Policy) != denyAllPolicy || aws.ToInt32(in.DurationSeconds) != 900 {
			t.Errorf("Check assumed the role with policy %s for %ds; want deny-all for 900s", aws.ToString(in.Policy), aws.ToInt32(in.DurationSeconds))
		}
		if aws.ToString(in.SourceIdentity) == "" || len(in.Tags) == 0 {
			t.Errorf("Check did not test SourceIdentity and tags like Issue does")
		}
		if fed.Requests() != 1 {
			t.Errorf("Check made %d federation requests; want 1", fed.Requests())
		}
	})
	t.Run("Root", func(t *testing.T) {
		fake := &fakeSTS{GetCallerIdentityFn: func() (*sts.GetCallerIdentityOutput, error) {
			return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), Arn: aws.String("arn:aws:iam::123456789012:root")}, nil
		}}
		b := testBroker(t, fake, "http://127.0.0.1:1/federation")
		if _, err := b.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "root") {
			t.Errorf("Check = %v; want an error about root", err)
		}
	})
	t.Run("ChainedTooLong", func(t *testing.T) {
		fake := &fakeSTS{GetCallerIdentityFn: func() (*sts.GetCallerIdentityOutput, error) {
			return &sts.GetCallerIdentityOutput{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/bot/i-0abc")}, nil
		}}
		b := testBroker(t, fake, "http://127.0.0.1:1/federation")
		b.cfg.MaxSessionDuration = config.Duration(2 * time.Hour)
		id, err := b.Check(context.Background())
		if !id.Chained || err == nil || !strings.Contains(err.Error(), "MAX_SESSION_DURATION") {
			t.Errorf("Check = %+v, %v; want Chained and an error about MAX_SESSION_DURATION", id, err)
		}
	})
	t.Run("AccessDenied", func(t *testing.T) {
		fake := &fakeSTS{AssumeRoleFn: func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "AccessDenied"}
		}}
		b := testBroker(t, fake, "http://127.0.0.1:1/federation")
		_, err := b.Check(context.Background())
		if ie := issueError(t, err); ie.Code != "AccessDenied" || !strings.Contains(err.Error(), "does not trust") {
			t.Errorf("Check = %v; want AccessDenied in plain words", err)
		}
	})
	t.Run("FederationDown", func(t *testing.T) {
		fed := fedtest.New(t)
		fed.FailNext(http.StatusBadRequest)
		b := testBroker(t, &fakeSTS{}, fed.URL())
		_, err := b.Check(context.Background())
		if ie := issueError(t, err); ie.Code != "FederationError" {
			t.Errorf("Check = %v; want FederationError", err)
		}
		assertNoSecrets(t, err.Error())
	})
	t.Run("WhoAmIUnsupported", func(t *testing.T) {
		fed := fedtest.New(t)
		fake := &fakeSTS{GetCallerIdentityFn: func() (*sts.GetCallerIdentityOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Unsupported action GetCallerIdentity"}
		}}
		b := testBroker(t, fake, fed.URL())
		id, err := b.Check(context.Background())
		if err != nil || id.ARN != "" || len(fake.calls) != 1 {
			t.Errorf("Check = %+v, %v after %d AssumeRole calls; want it to go on to AssumeRole", id, err, len(fake.calls))
		}
	})
	t.Run("WhoAmIFails", func(t *testing.T) {
		fake := &fakeSTS{GetCallerIdentityFn: func() (*sts.GetCallerIdentityOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "InvalidClientTokenId"}
		}}
		b := testBroker(t, fake, "http://127.0.0.1:1/federation")
		_, err := b.Check(context.Background())
		if ie := issueError(t, err); ie.Code != "InvalidClientTokenId" || !strings.Contains(err.Error(), "invalid or expired") {
			t.Errorf("Check = %v; want InvalidClientTokenId in plain words", err)
		}
	})
}
