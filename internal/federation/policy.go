package federation

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// MaxPolicyLen is the longest inline session policy STS accepts, in
// characters of the raw parameter (whitespace counts, so policies are
// minified).
const MaxPolicyLen = 2048

// Object actions per access level. Every action here is one MinIO knows;
// MinIO rejects a session policy with an action it does not know.
var objectActions = map[approval.Access][]string{
	approval.AccessRead: {"s3:GetObject"},
	approval.AccessWrite: {
		"s3:GetObject",
		"s3:PutObject",
		"s3:DeleteObject",
		"s3:AbortMultipartUpload",
		"s3:ListMultipartUploadParts",
	},
}

type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                         `json:"Sid"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// SessionPolicy returns the minified inline session policy for a grant of
// scope s in partition ("aws", "aws-cn" or "aws-us-gov"). It allows exactly:
//
//   - s3:ListAllMyBuckets on "*", so the S3 console can start; the action
//     has no resource, and the bucket list only names buckets.
//   - s3:GetBucketLocation on the bucket, which the console calls before it
//     shows the bucket. It is scoped to the granted bucket rather than "*"
//     (as in AWS's console example) because the link opens that bucket
//     directly and other buckets' regions are none of the user's business.
//   - s3:ListBucket on the bucket, for the prefix only (StringLike s3:prefix
//     on prefix and prefix*; a listing without a prefix is denied). No
//     condition for the whole bucket.
//   - the object actions of the access level on bucket/prefix*: read is
//     s3:GetObject; write adds PutObject, DeleteObject, AbortMultipartUpload
//     and ListMultipartUploadParts.
//
// The effective rights are this policy intersected with the role's policy.
// It returns an error for an invalid scope or partition, or a policy over
// MaxPolicyLen characters.
func SessionPolicy(partition string, s approval.Scope) (string, error) {
	if _, _, ok := Endpoints(partition); !ok {
		return "", fmt.Errorf("federation: unknown partition %q", partition)
	}
	if err := approval.CheckBucket(s.Bucket); err != nil {
		return "", fmt.Errorf("federation: %w", err)
	}
	if clean, err := approval.CleanPrefix(s.Prefix); err != nil {
		return "", fmt.Errorf("federation: %w", err)
	} else if clean != s.Prefix {
		return "", fmt.Errorf("federation: prefix %q must end with /", s.Prefix)
	}
	actions, ok := objectActions[s.Access]
	if !ok {
		return "", fmt.Errorf("federation: unknown access level %q", s.Access)
	}

	bucketARN := "arn:" + partition + ":s3:::" + s.Bucket
	list := statement{
		Sid:      "ListFolder",
		Effect:   "Allow",
		Action:   []string{"s3:ListBucket"},
		Resource: []string{bucketARN},
	}
	if s.Prefix != "" {
		list.Condition = map[string]map[string][]string{
			"StringLike": {"s3:prefix": {s.Prefix, s.Prefix + "*"}},
		}
	}
	doc := policyDoc{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "Console", Effect: "Allow", Action: []string{"s3:ListAllMyBuckets"}, Resource: []string{"*"}},
			{Sid: "Locate", Effect: "Allow", Action: []string{"s3:GetBucketLocation"}, Resource: []string{bucketARN}},
			list,
			{Sid: "Objects", Effect: "Allow", Action: actions, Resource: []string{bucketARN + "/" + s.Prefix + "*"}},
		},
	}
	p, err := marshalPolicy(doc)
	if err != nil {
		return "", err
	}
	if err := checkPolicyLen(p); err != nil {
		return "", fmt.Errorf("federation: session policy for %s: %w", s, err)
	}
	return p, nil
}

// checkPolicyLen enforces STS's limit on the session policy parameter.
func checkPolicyLen(p string) error {
	if len(p) > MaxPolicyLen {
		return fmt.Errorf("the policy is %d characters; STS allows %d", len(p), MaxPolicyLen)
	}
	return nil
}

// denyAllPolicy grants nothing: a session's rights are the intersection of
// the role's policy and this one. Check uses it to prove the trust works.
const denyAllPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAll","Effect":"Deny","Action":["*"],"Resource":["*"]}]}`

func marshalPolicy(doc policyDoc) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("federation: encode session policy: %w", err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}
