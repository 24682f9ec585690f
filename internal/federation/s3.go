package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// s3Client returns an S3 client acting with creds. The endpoint comes from
// the SDK's resolution of awsCfg (AWS_ENDPOINT_URL_S3 honoured).
// Addressing is path-style when that endpoint is an IP address or
// localhost, where a bucket name cannot be put in front of the host (MinIO
// in tests); virtual-hosted otherwise, as AWS wants.
func s3Client(awsCfg aws.Config, creds aws.Credentials, optFns ...func(*s3.Options)) *s3.Client {
	cfg := awsCfg.Copy()
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: creds}
	c := s3.NewFromConfig(cfg, optFns...)
	if needsPathStyle(aws.ToString(c.Options().BaseEndpoint)) {
		c = s3.NewFromConfig(cfg, append(optFns, func(o *s3.Options) { o.UsePathStyle = true })...)
	}
	return c
}

// needsPathStyle reports whether endpoint's host cannot take a bucket name
// as a subdomain.
func needsPathStyle(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	_, err = netip.ParseAddr(host)
	return err == nil
}

// CheckScope proves that grants inside allow-list entry e can work: it
// assumes the collaborator role for the shortest session with the session
// policy of a read grant on e, then lists at most one object under e's
// folder with those credentials. A refusal means every S3 call of such a
// grant would be denied, typically because the collaborator role's policy
// does not cover e. The error holds AWS's code and no secret.
func (b *Broker) CheckScope(ctx context.Context, e approval.AllowEntry) error {
	scope := approval.Scope{Kind: approval.KindFolder, Bucket: e.Bucket, Prefix: e.Prefix, Access: approval.AccessRead}
	policy, err := SessionPolicy(b.partition, scope, b.cfg.KMSKeys...)
	if err != nil {
		return err
	}
	name := SessionName("check")
	creds, err := b.assumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(b.cfg.RoleARN),
		RoleSessionName: aws.String(name),
		SourceIdentity:  aws.String(name),
		DurationSeconds: aws.Int32(int32(approval.MinSession.Seconds())),
		Policy:          aws.String(policy),
		Tags:            sessionTags(approval.Grant{RequestID: "check", Approver: "check"}),
	})
	if err != nil {
		return fmt.Errorf("assume %s for %s: %w", b.cfg.RoleARN, e, err)
	}
	cctx, cancel := context.WithTimeout(ctx, b.stsTimeout)
	defer cancel()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(e.Bucket), MaxKeys: aws.Int32(1)}
	if e.Prefix != "" {
		in.Prefix = aws.String(e.Prefix)
	}
	if _, err := s3Client(b.awsCfg, creds).ListObjectsV2(cctx, in); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return fmt.Errorf("list s3://%s with a grant's credentials: %s: %s", e, ae.ErrorCode(), s3Hint(ae.ErrorCode()))
		}
		return fmt.Errorf("list s3://%s with a grant's credentials: %w", e, withoutURL(err))
	}
	return nil
}

// presign returns a presigned URL for the one object of scope s, made
// with creds: a GET for a get grant, a PUT for a put grant. It lives as
// long as the session (X-Amz-Expires is what is left of it), and signs
// nothing but the host, so a browser or curl -T can use it as it is: no
// checksum headers or parameters, which the SDK adds by default when
// sending and would otherwise bind into the signature.
func (b *Broker) presign(ctx context.Context, s approval.Scope, creds aws.Credentials) (string, error) {
	left := time.Until(creds.Expires).Truncate(time.Second)
	if left < time.Second {
		return "", &approval.IssueError{Code: "PresignError", Reason: "the session ended before its link could be made", Temporary: true}
	}
	c := s3Client(b.awsCfg, creds, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	pc := s3.NewPresignClient(c, s3.WithPresignExpires(left))
	var (
		req *v4.PresignedHTTPRequest
		err error
	)
	switch s.Kind {
	case approval.KindGet:
		req, err = pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)})
	case approval.KindPut:
		req, err = pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Key)})
	default:
		return "", &approval.IssueError{Code: "InvalidGrant", Reason: fmt.Sprintf("a %q grant has no presigned link", s.Kind)}
	}
	if err != nil {
		// Presigning makes no call; its errors are about configuration.
		// The text is kept only if it quotes no part of the session.
		err = withoutURL(err)
		if containsSecret(err.Error(), []string{creds.SecretAccessKey, creds.SessionToken}) {
			err = errors.New("error text withheld: it quoted a credential")
		}
		return "", &approval.IssueError{Code: "PresignError", Reason: "the bot could not make the S3 link for the object", Err: err}
	}
	if extra := signedBeyondHost(req.SignedHeader); extra != "" {
		return "", &approval.IssueError{Code: "PresignError", Reason: "the S3 link would need the header " + extra + ", which a browser or curl does not send"}
	}
	return req.URL, nil
}

// signedBeyondHost returns the first header other than Host that a
// presigned request needs, or "".
func signedBeyondHost(h http.Header) string {
	for name := range h {
		if !strings.EqualFold(name, "Host") {
			return name
		}
	}
	return ""
}

// s3Hint says what an S3 error code of CheckScope usually means.
func s3Hint(code string) string {
	switch code {
	case "AccessDenied", "Forbidden":
		return "the collaborator role may not list this folder; make its policy (the stack's BucketNames and Prefix) cover this ALLOWED_BUCKETS entry"
	case "NoSuchBucket":
		return "the bucket does not exist (check its name and the region)"
	case "PermanentRedirect", "AuthorizationHeaderMalformed":
		return "the bucket is in another region than AWS_REGION"
	}
	return "S3 refused the listing"
}

// withoutURL drops the request URL that net/http puts in its errors.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}
