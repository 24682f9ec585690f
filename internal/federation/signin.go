package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// maxTokenResponse bounds how much of the federation endpoint's answer is
// read; a sign-in token is a few kilobytes.
const maxTokenResponse = 64 << 10

// signinToken exchanges temporary credentials for a sign-in token at the
// federation endpoint (Action=getSigninToken). It sends no SessionDuration,
// so the console session ends with the credentials; that is what a grant
// wants, and it also works when the bot's own credentials come from a role
// (role chaining), where AWS refuses SessionDuration with HTTP 400.
//
// The request URL carries the secret key and session token, so neither it
// nor any error text that could contain it leaves this function.
func (b *Broker) signinToken(ctx context.Context, c aws.Credentials) (string, error) {
	sess, err := json.Marshal(struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}{c.AccessKeyID, c.SecretAccessKey, c.SessionToken})
	if err != nil {
		return "", &approval.IssueError{Code: "InternalFailure", Reason: "could not encode the session for the sign-in endpoint"}
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(sess)}}

	cctx, cancel := context.WithTimeout(ctx, b.fedTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, b.cfg.FederationURL+"?"+q.Encode(), nil)
	if err != nil {
		// The parse error quotes the URL, so it is not kept.
		return "", &approval.IssueError{Code: "FederationError", Reason: "FEDERATION_URL is not a valid URL"}
	}
	req.Header.Set("Accept", "application/json")
	secrets := []string{c.SecretAccessKey, c.SessionToken, string(sess)}

	resp, err := b.hc.Do(req)
	if err != nil {
		return "", transportError(ctx, "the AWS sign-in endpoint", err, secrets)
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	// The status comes first: AWS answers errors with an HTML page, and its
	// body is never echoed.
	if resp.StatusCode != http.StatusOK {
		return "", federationStatusError(resp.StatusCode)
	}
	if readErr != nil {
		return "", transportError(ctx, "the AWS sign-in endpoint", readErr, secrets)
	}
	var out struct {
		SigninToken string `json:"SigninToken"`
	}
	// The JSON error is not kept: its text may quote the body.
	if err := json.Unmarshal(body, &out); err != nil || out.SigninToken == "" {
		return "", &approval.IssueError{Code: "FederationError", Reason: "the AWS sign-in endpoint answered HTTP 200 without a sign-in token"}
	}
	return out.SigninToken, nil
}

// federationStatusError explains a non-200 answer of the federation
// endpoint. Throttling and server errors are temporary, so the grant is
// retried; anything else is a FederationError.
func federationStatusError(status int) error {
	text := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	switch {
	case status == http.StatusTooManyRequests:
		return &approval.IssueError{Code: "Throttling", Reason: "the AWS sign-in endpoint is throttling requests (" + text + ")", Temporary: true}
	case status >= 500:
		return &approval.IssueError{Code: "ServiceUnavailable", Reason: "the AWS sign-in endpoint failed (" + text + ")", Temporary: true}
	case status == http.StatusBadRequest:
		return &approval.IssueError{Code: "FederationError", Reason: "the AWS sign-in endpoint refused the temporary credentials (" + text + "); check that FEDERATION_URL is in the role's partition"}
	default:
		return &approval.IssueError{Code: "FederationError", Reason: "the AWS sign-in endpoint refused to issue a sign-in token (" + text + ")"}
	}
}

// loginURL is the sign-in link: FEDERATION_URL?Action=login with the
// issuer, the console destination and the token, all form-encoded.
func (b *Broker) loginURL(token, destination string) string {
	q := url.Values{
		"Action":      {"login"},
		"Issuer":      {LoginIssuer},
		"Destination": {destination},
		"SigninToken": {token},
	}
	return b.cfg.FederationURL + "?" + q.Encode()
}

// destination is the S3 console page of the scope's bucket and folder under
// CONSOLE_URL, e.g.
// https://console.aws.amazon.com/s3/buckets/B?prefix=P&region=R&showversions=false.
func (b *Broker) destination(s approval.Scope) string {
	u, err := url.Parse(b.cfg.ConsoleURL)
	if err != nil || u.Host == "" {
		u, _ = url.Parse("https://console.aws.amazon.com/")
	}
	u = u.JoinPath("s3", "buckets", s.Bucket)
	q := url.Values{"showversions": {"false"}}
	if b.region != "" {
		q.Set("region", b.region)
	}
	if s.Prefix != "" {
		q.Set("prefix", s.Prefix)
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

// containsSecret reports whether text holds any of secrets, raw or
// form-encoded.
func containsSecret(text string, secrets []string) bool {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) || strings.Contains(text, url.PathEscape(s)) {
			return true
		}
	}
	return false
}
