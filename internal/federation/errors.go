package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// stsReasons explains STS error codes to people. The codes are AWS's wire
// codes (smithy.APIError.ErrorCode), which the SDK reports for modeled and
// unmodeled errors alike.
var stsReasons = map[string]string{
	"AccessDenied":                       "the bot is not allowed to assume the collaborator role, or the role does not trust it",
	"MalformedPolicyDocument":            "AWS rejected the session policy for this folder",
	"PackedPolicyTooLarge":               "the session policy and tags for this folder are too large for AWS",
	"RegionDisabledException":            "AWS STS is not activated for the account in the bot's region",
	"ExpiredToken":                       "the bot's own AWS credentials are invalid or expired",
	"ExpiredTokenException":              "the bot's own AWS credentials are invalid or expired",
	"InvalidClientTokenId":               "the bot's own AWS credentials are invalid or expired",
	"UnrecognizedClientException":        "the bot's own AWS credentials are invalid or expired",
	"SignatureDoesNotMatch":              "the bot's own AWS credentials are invalid (wrong secret key)",
	"RequestExpired":                     "the request to AWS expired on the way; check the bot's clock",
	"ValidationError":                    "AWS rejected the request: check COLLABORATOR_ROLE_ARN, and that MAX_SESSION_DURATION is within the role's maximum session duration (1h if the bot itself runs with role credentials)",
	"InvalidParameterValue":              "AWS rejected a parameter of the request",
	"SessionDurationEscalationException": "AWS refused the requested session duration",
	"Throttling":                         "AWS is throttling requests; try again shortly",
	"ThrottlingException":                "AWS is throttling requests; try again shortly",
	"ServiceUnavailable":                 "AWS STS is unavailable; try again shortly",
	"InternalFailure":                    "AWS STS failed internally; try again shortly",
}

// temporaryCodes are AWS error codes after which the same call may succeed
// later: throttling and AWS's own failures. Everything else (a refusal, a
// malformed request, bad credentials) fails the same way again.
var temporaryCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"ServiceUnavailable": true, "InternalFailure": true, "InternalError": true, "RequestTimeout": true,
}

// stsError turns an error of an STS call into an *approval.IssueError: AWS
// refusals keep AWS's code; timeouts, network failures, throttling and
// AWS's own failures are marked temporary. If ctx itself ended, the error is returned
// as it is (wrapped), so the caller retries later instead of failing the
// grant.
func stsError(ctx context.Context, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		reason, ok := stsReasons[code]
		if !ok {
			reason = "AWS STS refused to issue credentials"
		}
		return &approval.IssueError{Code: code, Reason: reason, Temporary: temporaryCodes[code], Err: err}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("federation: %w", err)
	}
	switch {
	case isTimeout(err):
		return &approval.IssueError{Code: "Timeout", Reason: "AWS STS did not answer in time", Temporary: true, Err: err}
	case isNetwork(err):
		return &approval.IssueError{Code: "NetworkError", Reason: "the bot could not reach AWS STS", Temporary: true, Err: err}
	case strings.Contains(err.Error(), "failed to refresh cached credentials") ||
		strings.Contains(err.Error(), "failed to retrieve credentials"):
		return &approval.IssueError{Code: "NoCredentials", Reason: "the bot has no usable AWS credentials of its own", Err: err}
	}
	return &approval.IssueError{Code: "STSError", Reason: "the call to AWS STS failed", Err: err}
}

// transportError classifies a failed HTTP exchange with service. net/http's
// *url.Error quotes the whole request URL, which carries the credentials,
// so only its inner error is kept, and even that is dropped if it mentions
// one of secrets.
func transportError(ctx context.Context, service string, err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("federation: %s: %w", service, ctx.Err())
	}
	timeout := isTimeout(err)
	if containsSecret(err.Error(), secrets) {
		err = errors.New("error text withheld: it quoted a credential")
	}
	if timeout {
		return &approval.IssueError{Code: "Timeout", Reason: service + " did not answer in time", Temporary: true, Err: err}
	}
	return &approval.IssueError{Code: "NetworkError", Reason: "the bot could not reach " + service, Temporary: true, Err: err}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetwork(err error) bool {
	var (
		se *smithyhttp.RequestSendError
		oe *net.OpError
		de *net.DNSError
	)
	return errors.As(err, &se) || errors.As(err, &oe) || errors.As(err, &de)
}

// unsupportedAction reports whether an STS endpoint said it does not
// implement the operation (MinIO: InvalidParameterValue "Unsupported
// action GetCallerIdentity").
func unsupportedAction(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "InvalidAction", "NotImplemented":
		return true
	case "InvalidParameterValue":
		return strings.Contains(strings.ToLower(ae.ErrorMessage()), "unsupported action")
	}
	return false
}
