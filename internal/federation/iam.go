package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// iamAPI is the part of the IAM client the Revoker uses.
type iamAPI interface {
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

var _ iamAPI = (*iam.Client)(nil)

// iamTimeout bounds each IAM call. The SDK retries throttling inside it.
const iamTimeout = 15 * time.Second

// Revoker keeps the share-bucket-revoked inline policy of the collaborator
// role. Each Apply renders the whole policy from what it is given and
// writes it once: it never reads share-bucket-revoked back to modify it,
// since PutRolePolicy replaces the whole document and IAM is eventually
// consistent. Calls may run concurrently, and then the last write wins, so
// callers must pass the full list from the database every time.
type Revoker struct {
	role    string
	iam     iamAPI
	timeout time.Duration
}

// NewRevoker returns a Revoker for the role of cfg.RoleARN, with an IAM
// client built from awsCfg by the SDK's standard chain (credentials,
// AWS_ENDPOINT_URL_IAM, …). IAM is global, with one endpoint per
// partition; the client's region only selects the partition, so it is the
// role's partition's home region (us-east-1, cn-north-1, us-gov-west-1)
// unless awsCfg's region is already in that partition. It returns an error
// for a malformed role ARN.
func NewRevoker(cfg Config, awsCfg aws.Config) (*Revoker, error) {
	name, err := RoleName(cfg.RoleARN)
	if err != nil {
		return nil, err
	}
	region := iamRegion(cfg.Partition(), awsCfg.Region)
	c := iam.NewFromConfig(awsCfg, func(o *iam.Options) { o.Region = region })
	return newRevoker(name, c), nil
}

// newRevoker is NewRevoker for tests: it takes the role name and the IAM
// client.
func newRevoker(roleName string, c iamAPI) *Revoker {
	return &Revoker{role: roleName, iam: c, timeout: iamTimeout}
}

// RoleName returns the name of the role in a role ARN, without its path:
// arn:aws:iam::123456789012:role/some/path/name gives name.
func RoleName(arn string) (string, error) {
	if !roleARN.MatchString(arn) {
		return "", fmt.Errorf("federation: %q is not a role ARN", arn)
	}
	return arn[strings.LastIndexByte(arn, '/')+1:], nil
}

// iamRegion returns the region for the IAM client: region if it belongs
// to partition, otherwise partition's home region, where IAM's endpoint
// is.
func iamRegion(partition, region string) string {
	home := map[string]string{"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
	if region != "" && regionPartition(region) == partition {
		return region
	}
	if h, ok := home[partition]; ok {
		return h
	}
	return region
}

// regionPartition returns the partition of a region name of the
// partitions COLLABORATOR_ROLE_ARN allows.
func regionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// Apply makes share-bucket-revoked deny ids (request IDs of ended grants
// whose sessions may still be live) and, if cutoff is set, every session
// issued up to the end of cutoff's second. It
//
//  1. lists the role's inline policies and reads every one except
//     share-bucket-revoked, to learn their size (and AWS's time, from the
//     answers' Date header);
//  2. decides with PlanRevocation: the list, or, when it does not fit, a
//     cut-off at AWS's time instead of the list;
//  3. writes once: PutRolePolicy, or DeleteRolePolicy when there is nothing
//     to deny (a policy that is already gone counts as deleted).
//
// If IAM refuses the list with LimitExceeded after all (another inline
// policy grew meanwhile), the failed write changed nothing and Apply writes
// the fallback instead.
//
// It returns what the policy now holds. Errors are *IAMError, except for
// an ID that is not a request ID, and when ctx itself ends.
func (r *Revoker) Apply(ctx context.Context, ids []string, cutoff time.Time) (Revocation, error) {
	ids, err := cleanIDs(ids)
	if err != nil {
		return Revocation{}, err
	}
	other, now, err := r.otherPolicies(ctx)
	if err != nil {
		return Revocation{}, err
	}
	plan, err := PlanRevocation(ids, cutoff, other, now)
	if err != nil {
		return Revocation{}, planError(err, other)
	}
	if plan.Deleted {
		if err := r.delete(ctx); err != nil {
			return Revocation{}, err
		}
		return plan, nil
	}
	err = r.put(ctx, plan.Document)
	var ie *IAMError
	if errors.As(err, &ie) && ie.Code == "LimitExceeded" && !plan.Fallback {
		fb, ferr := planFallback(cutoff, other, now)
		if ferr != nil {
			return Revocation{}, err
		}
		plan, err = fb, r.put(ctx, fb.Document)
	}
	if err != nil {
		return Revocation{}, err
	}
	return plan, nil
}

// CheckAccess proves the bot can do what Apply needs short of writing:
// ListRolePolicies on the role (which also proves the role exists) and
// GetRolePolicy on share-bucket-revoked, where NoSuchEntity (no policy
// yet) counts as allowed. The error is an *IAMError, except when ctx
// itself ends.
func (r *Revoker) CheckAccess(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	_, err := r.iam.ListRolePolicies(cctx, &iam.ListRolePoliciesInput{RoleName: aws.String(r.role), MaxItems: aws.Int32(1)})
	cancel()
	if err != nil {
		return iamError(ctx, "ListRolePolicies", err)
	}
	cctx, cancel = context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err = r.iam.GetRolePolicy(cctx, &iam.GetRolePolicyInput{RoleName: aws.String(r.role), PolicyName: aws.String(RevokedPolicyName)})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return iamError(ctx, "GetRolePolicy", err)
	}
	return nil
}

// otherPolicies returns the size of the role's inline policies other than
// share-bucket-revoked, and the latest AWS time their answers carried
// (zero if none had a Date header).
func (r *Revoker) otherPolicies(ctx context.Context) (size int, now time.Time, err error) {
	see := func(md middleware.Metadata) {
		if t, ok := awsmiddleware.GetServerTime(md); ok && t.After(now) {
			now = t
		}
	}
	var names []string
	var marker *string
	for {
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		out, err := r.iam.ListRolePolicies(cctx, &iam.ListRolePoliciesInput{RoleName: aws.String(r.role), Marker: marker, MaxItems: aws.Int32(1000)})
		cancel()
		if err != nil {
			return 0, time.Time{}, iamError(ctx, "ListRolePolicies", err)
		}
		see(out.ResultMetadata)
		names = append(names, out.PolicyNames...)
		if !out.IsTruncated || aws.ToString(out.Marker) == "" || aws.ToString(out.Marker) == aws.ToString(marker) {
			break
		}
		marker = out.Marker
	}
	for _, name := range names {
		if name == RevokedPolicyName {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		out, err := r.iam.GetRolePolicy(cctx, &iam.GetRolePolicyInput{RoleName: aws.String(r.role), PolicyName: aws.String(name)})
		cancel()
		if isCode(err, "NoSuchEntity") {
			continue // deleted since the listing: it takes no room
		}
		if err != nil {
			return 0, time.Time{}, iamError(ctx, "GetRolePolicy", err)
		}
		see(out.ResultMetadata)
		size += PolicySize(decodeDocument(aws.ToString(out.PolicyDocument)))
	}
	return size, now, nil
}

// decodeDocument undoes the URL encoding of GetRolePolicy's
// PolicyDocument ("Policies returned by this operation are URL-encoded
// compliant with RFC 3986"; the SDK leaves it encoded). A document that
// does not decode, from an endpoint that did not encode it, is taken as
// it is.
func decodeDocument(doc string) string {
	if d, err := url.PathUnescape(doc); err == nil {
		return d
	}
	return doc
}

func (r *Revoker) put(ctx context.Context, doc string) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.iam.PutRolePolicy(cctx, &iam.PutRolePolicyInput{
		RoleName:       aws.String(r.role),
		PolicyName:     aws.String(RevokedPolicyName),
		PolicyDocument: aws.String(doc),
	})
	if err != nil {
		return iamError(ctx, "PutRolePolicy", err)
	}
	return nil
}

// delete deletes share-bucket-revoked. NoSuchEntity means it is already
// gone: the listing just before proved the role exists.
func (r *Revoker) delete(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.iam.DeleteRolePolicy(cctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(r.role), PolicyName: aws.String(RevokedPolicyName)})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return iamError(ctx, "DeleteRolePolicy", err)
	}
	return nil
}

// IAMError is a failed IAM call of the Revoker. Code is AWS's error code
// (AccessDenied, Throttling, NoSuchEntity, …) or one of ours (Timeout,
// NetworkError, NoCredentials, NoServerTime, NoRoom, IAMError); Reason
// says what it means in plain words; Temporary says whether retrying
// later can help. None of them holds a secret.
type IAMError struct {
	Op        string // the IAM action, such as PutRolePolicy
	Code      string
	Reason    string
	Temporary bool
	Err       error // the underlying error, for logs
}

func (e *IAMError) Error() string {
	s := fmt.Sprintf("federation: iam %s: %s: %s", e.Op, e.Code, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *IAMError) Unwrap() error { return e.Err }

// iamReasons explains IAM error codes to people. Codes about the bot's own
// credentials are shared with STS (stsReasons).
var iamReasons = map[string]string{
	"AccessDenied":            "the bot may not read or change the collaborator role's inline policies (it needs iam:ListRolePolicies, iam:GetRolePolicy, iam:PutRolePolicy and iam:DeleteRolePolicy on the role)",
	"NoSuchEntity":            "the collaborator role does not exist: check COLLABORATOR_ROLE_ARN",
	"MalformedPolicyDocument": "IAM rejected the share-bucket-revoked policy document",
	"LimitExceeded":           "the collaborator role's inline policies together exceed IAM's 10,240 characters",
	"UnmodifiableEntity":      "IAM does not let anyone change the collaborator role's policies",
	"ValidationError":         "IAM rejected the request: check COLLABORATOR_ROLE_ARN",
	"Throttling":              "AWS is throttling requests; try again shortly",
	"ThrottlingException":     "AWS is throttling requests; try again shortly",
	"RequestLimitExceeded":    "AWS is throttling requests; try again shortly",
	"ServiceFailure":          "AWS IAM failed internally; try again shortly",
	"ServiceUnavailable":      "AWS IAM is unavailable; try again shortly",
	"InternalFailure":         "AWS IAM failed internally; try again shortly",
}

// credentialCodes are the codes whose stsReasons apply to any AWS call.
var credentialCodes = []string{"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "RequestExpired"}

// temporaryIAMCodes are the AWS codes that retrying later can cure.
var temporaryIAMCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"ServiceFailure": true, "ServiceUnavailable": true, "InternalFailure": true, "RequestTimeout": true,
}

// iamError turns an error of an IAM call into an *IAMError: AWS refusals
// keep AWS's code; timeouts and network failures get codes of ours and are
// temporary. If ctx itself ended, the error is returned as it is
// (wrapped), so the caller retries later.
func iamError(ctx context.Context, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		reason, ok := iamReasons[code]
		if !ok {
			if ok = slices.Contains(credentialCodes, code); ok {
				reason = stsReasons[code]
			}
		}
		if !ok {
			reason = "AWS IAM refused the request"
		}
		temp := temporaryIAMCodes[code]
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			temp = true
		}
		return &IAMError{Op: op, Code: code, Reason: reason, Temporary: temp, Err: err}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("federation: iam %s: %w", op, err)
	}
	switch {
	case isTimeout(err):
		return &IAMError{Op: op, Code: "Timeout", Reason: "AWS IAM did not answer in time", Temporary: true, Err: err}
	case isNetwork(err):
		return &IAMError{Op: op, Code: "NetworkError", Reason: "the bot could not reach AWS IAM", Temporary: true, Err: err}
	case strings.Contains(err.Error(), "failed to refresh cached credentials") ||
		strings.Contains(err.Error(), "failed to retrieve credentials"):
		return &IAMError{Op: op, Code: "NoCredentials", Reason: "the bot has no usable AWS credentials of its own", Err: err}
	}
	return &IAMError{Op: op, Code: "IAMError", Reason: "the call to AWS IAM failed", Err: err}
}

// planError turns an error of PlanRevocation inside Apply into an
// *IAMError.
func planError(err error, other int) error {
	switch {
	case errors.Is(err, errNoTime):
		return &IAMError{Op: "PutRolePolicy", Code: "NoServerTime", Reason: "the request IDs do not fit in IAM's limit and IAM's answers carried no Date header to take a cut-off time from", Err: err}
	case errors.Is(err, errNoRoom):
		return &IAMError{Op: "PutRolePolicy", Code: "NoRoom", Reason: fmt.Sprintf("the collaborator role's other inline policies take %d of IAM's %d characters, leaving no room for share-bucket-revoked", other, MaxRolePolicySize), Err: err}
	}
	return err
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
