package iamtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/share-bucket/share-bucket/internal/iamtest"
)

// Test credentials, so tests can prove they never reach the server's
// records.
const (
	testKeyID  = "AKIAIAMTESTKEY"
	testSecret = "iamtest-secret-do-not-leak"
	testToken  = "iamtest-session-token-do-not-leak"
)

// client is aws-sdk-go-v2's IAM client aimed at s, without retries so
// each call is one request.
func client(s *iamtest.Server) *iam.Client {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, testToken),
		Retryer:      aws.NopRetryer{},
	})
}

const doc1 = `{"Version":"2012-10-17","Statement":[{"Sid":"A1","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/request-id":["AAAAAAAAAA"]}}}]}`

func TestRoundTrip(t *testing.T) {
	s := iamtest.New(t)
	arn := s.CreateRole("/team/app/", "collab")
	if want := "arn:aws:iam::123456789012:role/team/app/collab"; arn != want {
		t.Errorf("CreateRole = %q; want %q", arn, want)
	}
	c := client(s)
	ctx := context.Background()

	// A document with characters RFC 3986 reserves, spaces and Latin-1,
	// to prove GetRolePolicy's encoding round-trips.
	doc2 := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:Get*\", \"Resource\": \"arn:aws:s3:::b/a+b c/é?&=%*\"}\n}"
	for name, doc := range map[string]string{"share-bucket-revoked": doc1, "other": doc2} {
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatalf("PutRolePolicy %s: %v", name, err)
		}
	}
	out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("other")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.PolicyDocument); strings.ContainsAny(got, "{\" :/+?&=") {
		t.Errorf("GetRolePolicy PolicyDocument = %q; want it URL-encoded as AWS sends it", got)
	}
	got, err := url.PathUnescape(aws.ToString(out.PolicyDocument))
	if err != nil || got != doc2 {
		t.Errorf("decoded PolicyDocument = %q, %v; want %q", got, err, doc2)
	}
	if aws.ToString(out.RoleName) != "collab" || aws.ToString(out.PolicyName) != "other" {
		t.Errorf("GetRolePolicy names = %q, %q", aws.ToString(out.RoleName), aws.ToString(out.PolicyName))
	}

	list, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("collab")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(list.PolicyNames, ","); got != "other,share-bucket-revoked" || list.IsTruncated || list.Marker != nil {
		t.Errorf("ListRolePolicies = %s truncated=%v marker=%v; want other,share-bucket-revoked, not truncated", got, list.IsTruncated, list.Marker)
	}

	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("share-bucket-revoked")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Policy("collab", "share-bucket-revoked"); ok {
		t.Error("share-bucket-revoked still exists after DeleteRolePolicy")
	}
	if got := s.Policies("collab"); len(got) != 1 || got[0] != "other" {
		t.Errorf("Policies = %v; want [other]", got)
	}

	writes := s.Writes()
	var order []string
	for _, w := range writes {
		order = append(order, w.Action+" "+w.Policy)
	}
	// Map iteration put the two PutRolePolicy calls in either order; the
	// delete is last.
	if len(writes) != 3 || order[2] != "DeleteRolePolicy share-bucket-revoked" || writes[2].Document != "" {
		t.Errorf("Writes = %v; want two puts then the delete", order)
	}
	for action, want := range map[string]int{iamtest.PutRolePolicy: 2, iamtest.GetRolePolicy: 1, iamtest.ListRolePolicies: 1, iamtest.DeleteRolePolicy: 1} {
		if got := s.Calls(action); got != want {
			t.Errorf("Calls(%s) = %d; want %d", action, got, want)
		}
	}
	for _, r := range s.Requests() {
		if r.AccessKeyID != testKeyID || r.Region != "us-east-1" {
			t.Errorf("request %s: key %q region %q; want %q us-east-1", r.Action, r.AccessKeyID, r.Region, testKeyID)
		}
		for k, v := range r.Params {
			if strings.Contains(strings.Join(v, ""), testSecret) || strings.Contains(strings.Join(v, ""), testToken) {
				t.Errorf("request %s kept a credential in %s", r.Action, k)
			}
		}
	}
}

// TestDateHeader proves the Date header comes from the clock tests set, and
// that the SDK reports it.
func TestDateHeader(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("", "collab")
	at := time.Date(2031, 2, 3, 4, 5, 6, 700_000_000, time.UTC)
	s.SetNow(at)
	out, err := client(s).ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String("collab")})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := awsmiddleware.GetServerTime(out.ResultMetadata)
	if want := at.Truncate(time.Second); !ok || !got.Equal(want) {
		t.Errorf("server time = %v, %v; want %v", got, ok, want)
	}
	raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response in the metadata")
	}
	if d := raw.Header.Get("Date"); d != "Mon, 03 Feb 2031 04:05:06 GMT" {
		t.Errorf("Date = %q; want RFC 1123 in GMT", d)
	}
	if raw.Header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId header")
	}

	// Errors carry the Date too.
	_, err = client(s).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("none")})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response.Header.Get("Date") != "Mon, 03 Feb 2031 04:05:06 GMT" {
		t.Errorf("error response Date missing: %v", err)
	}

	s.SetNow(time.Time{})
	if d := time.Since(s.Now()); d < 0 || d > time.Minute {
		t.Errorf("after SetNow(zero), Now = %v; want the real clock", s.Now())
	}
}

func apiError(t *testing.T, err error) (smithy.APIError, int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	return ae, re.HTTPStatusCode()
}

func TestErrors(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("/", "collab")
	c := client(s)
	ctx := context.Background()
	put := func(role, name, doc string) error {
		_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		return err
	}

	t.Run("NoSuchRole", func(t *testing.T) {
		for name, err := range map[string]error{
			"put": put("nobody", "p", doc1),
			"list": func() error {
				_, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("nobody")})
				return err
			}(),
			"get": func() error {
				_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("nobody"), PolicyName: aws.String("p")})
				return err
			}(),
			"delete": func() error {
				_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("nobody"), PolicyName: aws.String("p")})
				return err
			}(),
		} {
			var nse *types.NoSuchEntityException
			if !errors.As(err, &nse) {
				t.Errorf("%s: %v; want *types.NoSuchEntityException", name, err)
				continue
			}
			ae, status := apiError(t, err)
			if ae.ErrorCode() != "NoSuchEntity" || status != 404 || ae.ErrorMessage() != "The role with name nobody cannot be found." {
				t.Errorf("%s: %s %d %q", name, ae.ErrorCode(), status, ae.ErrorMessage())
			}
		}
	})
	t.Run("NoSuchPolicy", func(t *testing.T) {
		_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("nope")})
		ae, status := apiError(t, err)
		if ae.ErrorCode() != "NoSuchEntity" || status != 404 || ae.ErrorMessage() != "The role policy with name nope cannot be found." {
			t.Errorf("%s %d %q", ae.ErrorCode(), status, ae.ErrorMessage())
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, doc := range []string{
			`{"Version":"2012-10-17","Statement":[`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*"}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Principal":"*"}]}`,
			`{"Version":"2012-10-17","Statement":[{"Sid":"a-b","Effect":"Deny","Action":"*","Resource":"*"}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"yesterday"}}}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringIs":{"k":"v"}}}]}`,
			`{"Version":"2001-01-01","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
			"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"\u20ac\"}]}",
		} {
			err := put("collab", "p", doc)
			var mpd *types.MalformedPolicyDocumentException
			if !errors.As(err, &mpd) {
				t.Errorf("PutRolePolicy(%s) = %v; want MalformedPolicyDocument", doc, err)
				continue
			}
			if _, status := apiError(t, err); status != 400 {
				t.Errorf("status %d; want 400", status)
			}
		}
		if got := s.Writes(); len(got) != 0 {
			t.Errorf("malformed documents were written: %v", got)
		}
	})
	t.Run("LimitExceeded", func(t *testing.T) {
		s.CreateRole("/", "full")
		// 10,240 characters with whitespace aplenty: whitespace is not
		// counted, so exactly 10,240 fits.
		fill := func(n int) string {
			prefix := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"`
			suffix := `"}]}`
			return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
		}
		spaced := strings.ReplaceAll(fill(6000), ",", ",\n    ")
		if iamtest.PolicySize(spaced) != 6000 {
			t.Fatalf("PolicySize = %d; want 6000", iamtest.PolicySize(spaced))
		}
		if err := put("full", "a", spaced); err != nil {
			t.Fatal(err)
		}
		if err := put("full", "b", fill(4240)); err != nil {
			t.Fatalf("aggregate of exactly 10240: %v", err)
		}
		// Replacing a policy counts the new document, not both.
		if err := put("full", "b", fill(4240)); err != nil {
			t.Fatalf("rewrite of b: %v", err)
		}
		err := put("full", "c", fill(100))
		var le *types.LimitExceededException
		if !errors.As(err, &le) {
			t.Fatalf("over the limit: %v; want LimitExceeded", err)
		}
		ae, status := apiError(t, err)
		if status != 409 || ae.ErrorMessage() != "Maximum policy size of 10240 bytes exceeded for role full" {
			t.Errorf("%d %q", status, ae.ErrorMessage())
		}
		if _, ok := s.Policy("full", "c"); ok {
			t.Error("the refused policy was stored")
		}
	})
	t.Run("Injected", func(t *testing.T) {
		tests := []struct {
			code   string
			status int
			fault  smithy.ErrorFault
		}{
			// The SDK knows the fault of modeled errors only.
			{"AccessDenied", 403, smithy.FaultUnknown},
			{"Throttling", 400, smithy.FaultUnknown},
			{"ServiceFailure", 500, smithy.FaultServer},
			{"LimitExceeded", 409, smithy.FaultClient},
		}
		for _, tt := range tests {
			s.Fail(iamtest.PutRolePolicy, tt.code, 2)
			for i := range 2 {
				ae, status := apiError(t, put("collab", "p", doc1))
				if ae.ErrorCode() != tt.code || status != tt.status || ae.ErrorFault() != tt.fault {
					t.Errorf("%s call %d: %s %d %v; want %s %d %v", tt.code, i, ae.ErrorCode(), status, ae.ErrorFault(), tt.code, tt.status, tt.fault)
				}
			}
			if err := put("collab", "p", doc1); err != nil {
				t.Errorf("%s: third call failed too: %v", tt.code, err)
			}
		}
		s.Fail(iamtest.GetRolePolicy, "AccessDenied", iamtest.Always)
		for range 3 {
			_, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("p")})
			if ae, _ := apiError(t, err); !strings.Contains(ae.ErrorMessage(), "is not authorized to perform: iam:GetRolePolicy on resource: role collab") {
				t.Errorf("AccessDenied message %q", ae.ErrorMessage())
			}
		}
		// Other actions are not affected.
		if _, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("collab")}); err != nil {
			t.Errorf("ListRolePolicies while GetRolePolicy fails: %v", err)
		}
		s.Heal()
		if _, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("collab"), PolicyName: aws.String("p")}); err != nil {
			t.Errorf("after Heal: %v", err)
		}
	})
}

func TestPagination(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("/", "collab")
	want := []string{"a", "b", "c", "d", "e"}
	for _, n := range want {
		s.SetPolicy("collab", n, doc1)
	}
	c := client(s)
	ctx := context.Background()

	first, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("collab"), MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(first.PolicyNames, ",") != "a,b" || !first.IsTruncated || aws.ToString(first.Marker) == "" {
		t.Fatalf("first page = %v truncated=%v marker=%q", first.PolicyNames, first.IsTruncated, aws.ToString(first.Marker))
	}

	s.SetPageSize(2)
	var got []string
	p := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String("collab")})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.PolicyNames...)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Errorf("paginated = %v in %d pages; want %v in 3", got, pages, want)
	}
	if _, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("collab"), MaxItems: aws.Int32(1001)}); err == nil {
		t.Error("MaxItems 1001 accepted")
	}
}

// post sends a raw form POST, as no SDK would, to see the server's wire
// answers.
func post(t *testing.T, s *iamtest.Server, form url.Values, auth string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const fakeAuth = "AWS4-HMAC-SHA256 Credential=AKIAWIRE/20310203/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

func TestWire(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("/", "collab")
	s.SetPolicy("collab", "p", `{"a":"b c"}`)
	s.SetNow(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))
	form := url.Values{"Action": {"GetRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {"collab"}, "PolicyName": {"p"}}

	status, h, body := post(t, s, form, fakeAuth)
	want := `<GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRolePolicyResult><RoleName>collab</RoleName><PolicyName>p</PolicyName><PolicyDocument>%7B%22a%22%3A%22b%20c%22%7D</PolicyDocument></GetRolePolicyResult><ResponseMetadata><RequestId>` + h.Get("x-amzn-RequestId") + `</RequestId></ResponseMetadata></GetRolePolicyResponse>`
	if status != 200 || body != want || h.Get("Content-Type") != "text/xml" || h.Get("Date") != "Mon, 03 Feb 2031 04:05:06 GMT" {
		t.Errorf("GetRolePolicy = %d %v\n%s\nwant\n%s", status, h, body, want)
	}

	status, h, body = post(t, s, url.Values{"Action": {"ListRolePolicies"}, "Version": {"2010-05-08"}, "RoleName": {"collab"}}, fakeAuth)
	if want := `<ListRolePoliciesResult><PolicyNames><member>p</member></PolicyNames><IsTruncated>false</IsTruncated></ListRolePoliciesResult>`; status != 200 || !strings.Contains(body, want) {
		t.Errorf("ListRolePolicies = %d %s; want %s (no Marker when not truncated)", status, body, want)
	}

	tests := []struct {
		name   string
		form   url.Values
		auth   string
		status int
		code   string
	}{
		{"unsigned", form, "", 403, "MissingAuthenticationToken"},
		{"not SigV4", form, "AWS AKIAWIRE:c2ln", 403, "MissingAuthenticationToken"},
		{"scoped to sts", form, strings.Replace(fakeAuth, "/iam/", "/sts/", 1), 403, "SignatureDoesNotMatch"},
		{"wrong version", url.Values{"Action": {"GetRolePolicy"}, "Version": {"2011-06-15"}}, fakeAuth, 400, "InvalidAction"},
		{"unknown action", url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}}, fakeAuth, 400, "InvalidAction"},
	}
	for _, tt := range tests {
		status, h, body := post(t, s, tt.form, tt.auth)
		want := `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>` + tt.code + `</Code><Message>`
		if status != tt.status || !strings.HasPrefix(body, want) || !strings.HasSuffix(body, `</Message></Error><RequestId>`+h.Get("x-amzn-RequestId")+`</RequestId></ErrorResponse>`) {
			t.Errorf("%s: %d %s; want %d %s…", tt.name, status, body, tt.status, want)
		}
	}
	if s.Calls(iamtest.GetRolePolicy) != 5 {
		t.Errorf("Calls(GetRolePolicy) = %d; want 5 (refused requests count too)", s.Calls(iamtest.GetRolePolicy))
	}

	status, _, body = post(t, s, url.Values{"Action": {"ServiceFailure"}}, fakeAuth)
	if status != 400 {
		t.Errorf("unknown action without version: %d %s", status, body)
	}
	s.Fail(iamtest.ListRolePolicies, "ServiceFailure", 1)
	status, _, body = post(t, s, url.Values{"Action": {"ListRolePolicies"}, "Version": {"2010-05-08"}, "RoleName": {"collab"}}, fakeAuth)
	if status != 500 || !strings.Contains(body, "<Type>Receiver</Type><Code>ServiceFailure</Code>") {
		t.Errorf("ServiceFailure = %d %s; want 500 Receiver", status, body)
	}
}

func TestUnsignedSDKRequest(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("/", "collab")
	c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL()), Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}})
	_, err := c.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String("collab")})
	if ae, status := apiError(t, err); ae.ErrorCode() != "MissingAuthenticationToken" || status != 403 {
		t.Errorf("anonymous request: %s %d; want MissingAuthenticationToken 403", ae.ErrorCode(), status)
	}
}

func TestDelay(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("/", "collab")
	s.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client(s).ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("collab")})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("delayed request = %v after %v; want a timeout", err, time.Since(start))
	}
}
