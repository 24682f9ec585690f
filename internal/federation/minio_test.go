package federation_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/config"
	"github.com/share-bucket/share-bucket/internal/federation"
	"github.com/share-bucket/share-bucket/internal/federation/fedtest"
	"github.com/share-bucket/share-bucket/internal/miniotest"
)

const (
	botUser   = "slackbot"
	botSecret = "slackbot-secret-456"
	// botPolicy is the bot's own (parent) policy: everything on both
	// buckets. A session's rights are this intersected with its session
	// policy, so everything the tests deny is denied by the session policy.
	botPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::collab-bucket","arn:aws:s3:::collab-bucket/*","arn:aws:s3:::other-bucket","arn:aws:s3:::other-bucket/*"]}]}`
)

// bed is MinIO with the buckets, objects and bot user of AWS.md §5, a fake
// federation endpoint that checks credentials against it, and the real
// Broker wired to both.
type bed struct {
	minio  *miniotest.Server
	fed    *fedtest.Server
	broker *federation.Broker
}

func newBed(t *testing.T) *bed {
	t.Helper()
	m := miniotest.New(t)
	ctx := context.Background()
	// unreachable-bucket exists but lies outside the bot's own policy.
	for _, b := range []string{"collab-bucket", "other-bucket", "unreachable-bucket"} {
		if err := m.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct{ bucket, key string }{
		{"collab-bucket", "myfolder/seed.txt"},
		{"collab-bucket", "other/secret.txt"},
		{"collab-bucket", "root.txt"},
		{"other-bucket", "myfolder/seed.txt"},
	} {
		if err := m.PutObject(ctx, o.bucket, o.key, []byte("content of "+o.key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.CreateUser(ctx, botUser, botSecret, botPolicy); err != nil {
		t.Fatal(err)
	}

	// The fake federation endpoint accepts only credentials MinIO knows:
	// a signed ListBuckets either works or is denied by policy, while
	// unknown or expired credentials fail otherwise.
	fed := fedtest.New(t, fedtest.RejectSessionDuration(), fedtest.WithVerifier(func(ctx context.Context, c aws.Credentials) error {
		_, err := m.S3(c).ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil || code(err) == "AccessDenied" {
			return nil
		}
		return err
	}))

	cfg := federation.Config{
		RoleARN:            "arn:aws:iam::123456789012:role/collaborator",
		MaxSessionDuration: config.Duration(time.Hour),
		FederationURL:      fed.URL(),
		ConsoleURL:         "https://console.aws.amazon.com/",
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	awsCfg := aws.Config{
		Region:       m.Region(),
		BaseEndpoint: aws.String(m.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(botUser, botSecret, ""),
	}
	return &bed{minio: m, fed: fed, broker: federation.New(cfg, awsCfg)}
}

// issue gets a link for scope and returns an S3 client with the
// credentials behind it.
func (b *bed) issue(t *testing.T, scope approval.Scope) *s3.Client {
	t.Helper()
	start := time.Now()
	link, err := b.broker.Issue(context.Background(), approval.Grant{
		RequestID: "ABCDEFGHIJ",
		Requester: "U0123ABCD",
		Approver:  "U0999ZZZZ",
		Scope:     scope,
		Session:   15 * time.Minute,
	})
	if err != nil {
		t.Fatalf("Issue(%s %s): %v", scope.Access, scope, err)
	}
	if d := link.SessionEnds.Sub(start); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("SessionEnds is %s after the request; want about 15m", d)
	}
	_, dest, err := fedtest.ParseLogin(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("link opens %s", dest)
	creds, err := b.fed.CredentialsFor(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID == botUser || creds.SessionToken == "" {
		t.Fatalf("the link carries the bot's own credentials, not a session's")
	}
	return b.minio.S3(creds)
}

func TestMinIO(t *testing.T) {
	start := time.Now()
	b := newBed(t)
	t.Logf("MinIO bed ready in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	t.Run("Write", func(t *testing.T) {
		c := b.issue(t, approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite})
		allowed(t, "get myfolder/seed.txt", get(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		allowed(t, "put myfolder/new.txt", put(ctx, c, "collab-bucket", "myfolder/new.txt"))
		allowed(t, "get myfolder/new.txt", get(ctx, c, "collab-bucket", "myfolder/new.txt"))
		allowed(t, "list myfolder/", list(ctx, c, "collab-bucket", "myfolder/", "myfolder/seed.txt", "myfolder/new.txt"))
		allowed(t, "list myfolder/ with delimiter", listDelim(ctx, c, "collab-bucket", "myfolder/"))
		allowed(t, "delete myfolder/new.txt", del(ctx, c, "collab-bucket", "myfolder/new.txt"))
		allowed(t, "multipart upload under myfolder/", multipart(ctx, c, "collab-bucket", "myfolder/big.bin"))
		allowed(t, "get location of collab-bucket", location(ctx, c, "collab-bucket"))

		denied(t, "get other/secret.txt", get(ctx, c, "collab-bucket", "other/secret.txt"))
		denied(t, "put other/x.txt", put(ctx, c, "collab-bucket", "other/x.txt"))
		denied(t, "get root.txt", get(ctx, c, "collab-bucket", "root.txt"))
		denied(t, "put root-new.txt", put(ctx, c, "collab-bucket", "root-new.txt"))
		denied(t, "put myfolderX/evil.txt", put(ctx, c, "collab-bucket", "myfolderX/evil.txt"))
		denied(t, "get myfolderX via lookalike list", list(ctx, c, "collab-bucket", "myfolderX/"))
		denied(t, "list without prefix", list(ctx, c, "collab-bucket", ""))
		denied(t, "list other/", list(ctx, c, "collab-bucket", "other/"))
		denied(t, "delete other/secret.txt", del(ctx, c, "collab-bucket", "other/secret.txt"))
		denied(t, "list other-bucket myfolder/", list(ctx, c, "other-bucket", "myfolder/"))
		denied(t, "get other-bucket myfolder/seed.txt", get(ctx, c, "other-bucket", "myfolder/seed.txt"))
		denied(t, "put other-bucket myfolder/x.txt", put(ctx, c, "other-bucket", "myfolder/x.txt"))
		denied(t, "get location of other-bucket", location(ctx, c, "other-bucket"))
		denied(t, "create a bucket", createBucket(ctx, c, "new-bucket"))
		denied(t, "delete collab-bucket's policy", deleteBucketPolicy(ctx, c, "collab-bucket"))

		if got, err := b.minio.ReadObject(ctx, "collab-bucket", "other/secret.txt"); err != nil || string(got) != "content of other/secret.txt" {
			t.Errorf("other/secret.txt changed: %q, %v", got, err)
		}
	})

	t.Run("Read", func(t *testing.T) {
		c := b.issue(t, approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead})
		allowed(t, "get myfolder/seed.txt", get(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		allowed(t, "list myfolder/", list(ctx, c, "collab-bucket", "myfolder/", "myfolder/seed.txt"))

		denied(t, "put myfolder/new.txt", put(ctx, c, "collab-bucket", "myfolder/read-only.txt"))
		denied(t, "delete myfolder/seed.txt", del(ctx, c, "collab-bucket", "myfolder/seed.txt"))
		denied(t, "multipart upload under myfolder/", multipart(ctx, c, "collab-bucket", "myfolder/big.bin"))
		denied(t, "get other/secret.txt", get(ctx, c, "collab-bucket", "other/secret.txt"))
		denied(t, "list without prefix", list(ctx, c, "collab-bucket", ""))
		denied(t, "get other-bucket myfolder/seed.txt", get(ctx, c, "other-bucket", "myfolder/seed.txt"))
	})

	t.Run("WholeBucketRead", func(t *testing.T) {
		c := b.issue(t, approval.Scope{Bucket: "collab-bucket", Prefix: "", Access: approval.AccessRead})
		allowed(t, "list without prefix", list(ctx, c, "collab-bucket", "", "root.txt", "other/secret.txt", "myfolder/seed.txt"))
		allowed(t, "get root.txt", get(ctx, c, "collab-bucket", "root.txt"))
		allowed(t, "get other/secret.txt", get(ctx, c, "collab-bucket", "other/secret.txt"))
		denied(t, "put root-new.txt", put(ctx, c, "collab-bucket", "root-new.txt"))
		denied(t, "list other-bucket", list(ctx, c, "other-bucket", ""))
		denied(t, "get other-bucket myfolder/seed.txt", get(ctx, c, "other-bucket", "myfolder/seed.txt"))
	})

	t.Run("Check", func(t *testing.T) {
		// MinIO has no GetCallerIdentity, so Check relies on the
		// AssumeRole with the deny-all policy, which MinIO must accept,
		// and on the federation endpoint accepting the result.
		before := b.fed.Requests()
		if _, err := b.broker.Check(ctx); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if b.fed.Requests() != before+1 {
			t.Errorf("Check did not get a sign-in token")
		}
	})

	t.Run("BotCredentialsWrong", func(t *testing.T) {
		awsCfg := aws.Config{
			Region:       b.minio.Region(),
			BaseEndpoint: aws.String(b.minio.Endpoint()),
			Credentials:  credentials.NewStaticCredentialsProvider(botUser, "wrong-secret", ""),
		}
		cfg := federation.Config{RoleARN: "arn:aws:iam::123456789012:role/collaborator", MaxSessionDuration: config.Duration(time.Hour), FederationURL: b.fed.URL(), ConsoleURL: "https://console.aws.amazon.com/"}
		_, err := federation.New(cfg, awsCfg).Issue(ctx, approval.Grant{
			RequestID: "ABCDEFGHIJ", Requester: "U1", Approver: "U2",
			Scope:   approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead},
			Session: 15 * time.Minute,
		})
		var ie *approval.IssueError
		if !errors.As(err, &ie) || ie.Code != "AccessDenied" {
			t.Errorf("Issue with a wrong bot secret = %v; want IssueError AccessDenied (MinIO's code for a bad signature)", err)
		}
	})
}

func allowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v; want it allowed", what, err)
	}
}

func denied(t *testing.T, what string, err error) {
	t.Helper()
	if c := code(err); c != "AccessDenied" {
		t.Errorf("%s: error %v (code %q); want AccessDenied", what, err, c)
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func get(ctx context.Context, c *s3.Client, bucket, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	_, err = io.Copy(io.Discard, out.Body)
	return err
}

func put(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
	return err
}

func del(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// list lists bucket under prefix and checks that want are among the keys.
func list(ctx context.Context, c *s3.Client, bucket, prefix string, want ...string) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	out, err := c.ListObjectsV2(ctx, in)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, o := range out.Contents {
		keys[aws.ToString(o.Key)] = true
	}
	for _, k := range want {
		if !keys[k] {
			return errors.New("listing lacks " + k)
		}
	}
	return nil
}

// listDelim lists like the S3 console does: one folder level at a time.
func listDelim(ctx context.Context, c *s3.Client, bucket, prefix string) error {
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	return err
}

func location(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	return err
}

func createBucket(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	return err
}

func deleteBucketPolicy(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)})
	return err
}

// multipart starts an upload, sends a part, lists the parts and aborts: the
// write grant's multipart actions.
func multipart(ctx context.Context, c *s3.Client, bucket, key string) error {
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	id := up.UploadId
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("p"), 1024)),
	}); err != nil {
		return err
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
	if err != nil {
		return err
	}
	if len(parts.Parts) != 1 {
		return errors.New("ListParts does not show the uploaded part")
	}
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id})
	return err
}

// TestCheckScope: bot check lists each ALLOWED_BUCKETS entry with a read
// grant's credentials, which finds an entry the role cannot reach before
// a user does.
func TestCheckScope(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	for _, tt := range []struct {
		entry string
		want  string // "" for success, else part of the error
	}{
		{"collab-bucket/myfolder/", ""},
		{"collab-bucket", ""},
		{"other-bucket", ""},
		{"unreachable-bucket", "AccessDenied: the collaborator role may not list this folder"},
		{"missing-bucket/x/", "AccessDenied"}, // MinIO checks the policy before the bucket
	} {
		e, err := approval.ParseAllowEntry(tt.entry)
		if err != nil {
			t.Fatal(err)
		}
		err = b.broker.CheckScope(ctx, e)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckScope(%s) = %v; want nil", tt.entry, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckScope(%s) = %v; want an error with %q", tt.entry, err, tt.want)
		case err != nil && strings.Contains(err.Error(), botSecret):
			t.Errorf("CheckScope(%s) error holds the bot's secret: %v", tt.entry, err)
		}
	}
}
