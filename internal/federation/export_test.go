package federation

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// IssueWithCredentials is Issue that also returns the credentials of the
// session behind the link, so tests can prove what that session may do: a
// presigned URL does not carry the secret key.
func (b *Broker) IssueWithCredentials(ctx context.Context, g approval.Grant) (approval.Link, aws.Credentials, error) {
	return b.issue(ctx, g)
}
