// Package federation turns an approved grant into a link: STS AssumeRole
// on the collaborator role with a session policy scoped to one bucket
// folder or one object, then for a folder the AWS sign-in federation
// endpoint (getSigninToken, then a login URL to the console), and for an
// object a presigned S3 URL made with the session's credentials.
//
// Credentials, sign-in tokens, sign-in URLs and presigned URLs are secrets. This package
// never stores or logs them, and keeps them out of its error messages.
package federation

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// stsAPI is the part of the STS client the broker uses.
type stsAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ stsAPI = (*sts.Client)(nil)

// Default per-call timeouts. The SDK retries throttling inside the STS
// timeout.
const (
	stsTimeout        = 15 * time.Second
	federationTimeout = 10 * time.Second
)

// LoginIssuer is the value of the login URL's Issuer parameter. AWS does
// not check it; it names us in the sign-in flow.
const LoginIssuer = "share-bucket"

// Broker issues console sign-in links for grants. It implements
// approval.Issuer and is safe for concurrent use.
type Broker struct {
	cfg       Config
	partition string
	region    string
	sts       stsAPI
	hc        *http.Client
	awsCfg    aws.Config // for S3 clients acting with a session's credentials

	stsTimeout time.Duration
	fedTimeout time.Duration
}

var _ approval.Issuer = (*Broker)(nil)

// New returns a Broker that calls STS with a client built from awsCfg (the
// SDK's standard chain: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_STS, …)
// and the federation endpoint with its own HTTP client. cfg should have
// passed Validate.
func New(cfg Config, awsCfg aws.Config) *Broker {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b := newBroker(cfg, sts.NewFromConfig(awsCfg), &http.Client{Transport: tr}, awsCfg.Region)
	b.awsCfg = awsCfg
	return b
}

// newBroker is New for tests: it takes the STS client, the HTTP client for
// the federation endpoint, and the region that console links name.
func newBroker(cfg Config, s stsAPI, hc *http.Client, region string) *Broker {
	if hc == nil {
		hc = &http.Client{}
	}
	// Never follow redirects: a redirect would send the request, which
	// carries the credentials, somewhere else.
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Broker{
		cfg:        cfg,
		partition:  cfg.Partition(),
		region:     region,
		sts:        s,
		hc:         &c,
		stsTimeout: stsTimeout,
		fedTimeout: federationTimeout,
	}
}

// Issue assumes the collaborator role for g with a session policy limited
// to g.Scope and returns a link that ends with the session: for a folder,
// a console sign-in link; for one object, a presigned URL that downloads
// (get) or uploads (put) that object. Errors are *approval.IssueError,
// except when ctx itself ends. Neither the error nor anything else here
// holds a credential.
func (b *Broker) Issue(ctx context.Context, g approval.Grant) (approval.Link, error) {
	link, _, err := b.issue(ctx, g)
	return link, err
}

// issue is Issue that also returns the session's credentials, which only
// tests see (export_test.go): a presigned URL does not carry the secret
// key, and the tests prove what the session itself may do.
func (b *Broker) issue(ctx context.Context, g approval.Grant) (approval.Link, aws.Credentials, error) {
	session := g.Session
	if maxSession := time.Duration(b.cfg.MaxSessionDuration); maxSession > 0 && session > maxSession {
		session = maxSession
	}
	// Revocation denies sessions by this tag, and the role refuses
	// sessions without it: a grant without an ID must not get one.
	if !approval.ValidID(g.RequestID) {
		return approval.Link{}, aws.Credentials{}, &approval.IssueError{Code: "InvalidGrant", Reason: "a grant without a request ID cannot be issued: its sessions could not be revoked"}
	}
	if session < approval.MinSession {
		return approval.Link{}, aws.Credentials{}, &approval.IssueError{Code: "InvalidGrant", Reason: fmt.Sprintf("a session lasts at least %s, not %s",
			approval.FormatDuration(approval.MinSession), approval.FormatDuration(session))}
	}
	policy, err := SessionPolicy(b.partition, g.Scope, b.cfg.KMSKeys...)
	if err != nil {
		return approval.Link{}, aws.Credentials{}, &approval.IssueError{Code: "InvalidGrant", Reason: "the grant's bucket or folder cannot be put in a session policy", Err: err}
	}
	name := SessionName(g.Requester)
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(b.cfg.RoleARN),
		RoleSessionName: aws.String(name),
		SourceIdentity:  aws.String(name),
		DurationSeconds: aws.Int32(int32(session.Seconds())),
		Policy:          aws.String(policy),
		Tags:            sessionTags(g),
	}
	creds, err := b.assumeRole(ctx, in)
	if err != nil {
		return approval.Link{}, aws.Credentials{}, err
	}
	if g.Scope.Object() {
		u, err := b.presign(ctx, g.Scope, creds)
		if err != nil {
			return approval.Link{}, aws.Credentials{}, err
		}
		return approval.Link{URL: u, SessionEnds: creds.Expires}, creds, nil
	}
	token, err := b.signinToken(ctx, creds)
	if err != nil {
		return approval.Link{}, aws.Credentials{}, err
	}
	return approval.Link{
		URL:         b.loginURL(token, b.destination(g.Scope)),
		SessionEnds: creds.Expires,
	}, creds, nil
}

// assumeRole calls AssumeRole with the STS timeout and checks the answer.
func (b *Broker) assumeRole(ctx context.Context, in *sts.AssumeRoleInput) (aws.Credentials, error) {
	cctx, cancel := context.WithTimeout(ctx, b.stsTimeout)
	defer cancel()
	out, err := b.sts.AssumeRole(cctx, in)
	if err != nil {
		return aws.Credentials{}, stsError(ctx, err)
	}
	var c *types.Credentials
	if out != nil {
		c = out.Credentials
	}
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" ||
		aws.ToString(c.SessionToken) == "" || c.Expiration == nil {
		return aws.Credentials{}, &approval.IssueError{Code: "InvalidResponse", Reason: "AWS STS answered without complete credentials"}
	}
	return aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		CanExpire:       true,
		Expires:         *c.Expiration,
	}, nil
}

// SessionName derives the STS role session name and source identity from a
// Slack user ID: "slack-" and the ID, with characters outside STS's
// [\w+=,.@-] replaced by "_", at most 64 characters. CloudTrail shows it.
func SessionName(userID string) string {
	if userID == "" {
		userID = "unknown"
	}
	var b strings.Builder
	b.WriteString("slack-")
	for _, r := range userID {
		if b.Len() >= 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// sessionTags returns the request-id and approver session tags, dropping
// characters STS does not allow in tag values and empty values.
func sessionTags(g approval.Grant) []types.Tag {
	var tags []types.Tag
	for _, kv := range [][2]string{{"request-id", g.RequestID}, {"approver", g.Approver}} {
		if v := tagValue(kv[1]); v != "" {
			tags = append(tags, types.Tag{Key: aws.String(kv[0]), Value: aws.String(v)})
		}
	}
	return tags
}

// tagValue keeps the characters of STS's tag pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]
// and at most 256 of them.
func tagValue(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 256 {
			break
		}
		if unicode.IsLetter(r) || unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r) {
			b.WriteRune(r)
			n++
		}
	}
	return b.String()
}

// Identity is who the bot is to AWS, as Check found it.
type Identity struct {
	Account string // the bot's AWS account; "" if STS could not say
	ARN     string // the bot's own identity (user or assumed role); "" if STS could not say
	// Chained is true when the bot runs with role credentials, so its
	// AssumeRole is role chaining: sessions are limited to 1h.
	Chained bool
}

// Check proves the configuration works without granting anything: it asks
// STS who the bot is, assumes the collaborator role with a deny-everything
// session policy for 15 minutes (using the same session name, source
// identity and tags as Issue, so the role's trust policy is fully tested),
// and gets a sign-in token for those credentials from the federation
// endpoint. It returns the identity found and the first problem, in plain
// words (an *approval.IssueError for AWS's refusals).
func (b *Broker) Check(ctx context.Context) (Identity, error) {
	var id Identity
	cctx, cancel := context.WithTimeout(ctx, b.stsTimeout)
	out, err := b.sts.GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	cancel()
	switch {
	case err == nil:
		id = Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
	case unsupportedAction(err):
		// STS peers such as MinIO lack GetCallerIdentity; the AssumeRole
		// below still tests what matters.
	default:
		return Identity{}, fmt.Errorf("who am I (sts:GetCallerIdentity): %w", stsError(ctx, err))
	}
	id.Chained = strings.Contains(id.ARN, ":assumed-role/")
	if strings.HasSuffix(id.ARN, ":root") {
		return id, fmt.Errorf("the bot runs with the AWS account's root credentials (%s); AWS does not let root assume roles: give it an IAM user or role", id.ARN)
	}
	if id.Chained && time.Duration(b.cfg.MaxSessionDuration) > time.Hour {
		return id, fmt.Errorf("MAX_SESSION_DURATION is %s but the bot runs with role credentials (%s), and AWS limits sessions of a role assumed from a role to 1h", b.cfg.MaxSessionDuration, id.ARN)
	}
	name := SessionName("check")
	creds, err := b.assumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(b.cfg.RoleARN),
		RoleSessionName: aws.String(name),
		SourceIdentity:  aws.String(name),
		DurationSeconds: aws.Int32(int32(approval.MinSession.Seconds())),
		Policy:          aws.String(denyAllPolicy),
		Tags:            sessionTags(approval.Grant{RequestID: "check", Approver: "check"}),
	})
	if err != nil {
		return id, fmt.Errorf("assume %s: %w", b.cfg.RoleARN, err)
	}
	if _, err := b.signinToken(ctx, creds); err != nil {
		return id, fmt.Errorf("sign-in token from %s: %w", b.cfg.FederationURL, err)
	}
	return id, nil
}
