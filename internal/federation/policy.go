package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

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
// scope s in partition ("aws", "aws-cn" or "aws-us-gov"). For a folder it
// allows exactly:
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
// For one object it allows s3:GetObject (get) or s3:PutObject (put) on that
// object's ARN and nothing else: no listing, no other key.
//
// With keys (KMS_KEY_ARNS), objects encrypted with those keys can be used
// too: kms:Decrypt for read access (and get), kms:GenerateDataKey as well
// for write access (and put), only when S3 calls KMS (see kmsStatements).
//
// The effective rights are this policy intersected with the role's policy.
// It returns an error for an invalid scope, partition or key, or a policy
// over MaxPolicyLen characters.
func SessionPolicy(partition string, s approval.Scope, keys ...KMSKey) (string, error) {
	p, err := buildPolicy(partition, s, keys)
	if err != nil {
		return "", err
	}
	if err := checkPolicyLen(p); err != nil {
		return "", fmt.Errorf("federation: session policy for %s: %w", s, err)
	}
	return p, nil
}

// buildPolicy is SessionPolicy without the length limit.
func buildPolicy(partition string, s approval.Scope, keys []KMSKey) (string, error) {
	if _, _, ok := Endpoints(partition); !ok {
		return "", fmt.Errorf("federation: unknown partition %q", partition)
	}
	if err := s.Check(); err != nil {
		return "", fmt.Errorf("federation: %w", err)
	}
	for _, k := range keys {
		if k.Partition != partition {
			return "", fmt.Errorf("federation: KMS key %s is not in the %s partition", k.ARN, partition)
		}
	}

	bucketARN := "arn:" + partition + ":s3:::" + s.Bucket
	var stmts []statement
	if s.Object() {
		action := "s3:GetObject"
		if s.Kind == approval.KindPut {
			action = "s3:PutObject"
		}
		stmts = []statement{{Sid: "Object", Effect: "Allow", Action: []string{action}, Resource: []string{bucketARN + "/" + s.Key}}}
	} else {
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
		stmts = []statement{
			{Sid: "Console", Effect: "Allow", Action: []string{"s3:ListAllMyBuckets"}, Resource: []string{"*"}},
			{Sid: "Locate", Effect: "Allow", Action: []string{"s3:GetBucketLocation"}, Resource: []string{bucketARN}},
			list,
			{Sid: "Objects", Effect: "Allow", Action: objectActions[s.Access], Resource: []string{bucketARN + "/" + s.Prefix + "*"}},
		}
	}
	stmts = append(stmts, kmsStatements(partition, s.Access, keys)...)
	return marshalPolicy(policyDoc{Version: "2012-10-17", Statement: stmts})
}

// kmsActions are what S3 asks KMS for on a session's behalf: Decrypt to
// read an SSE-KMS object (and to finish a multipart upload), and
// GenerateDataKey to write one.
var kmsActions = map[approval.Access][]string{
	approval.AccessRead:  {"kms:Decrypt"},
	approval.AccessWrite: {"kms:Decrypt", "kms:GenerateDataKey"},
}

// kmsStatements allow access's KMS actions on keys, only when S3 makes the
// call (kms:ViaService is S3 in the key's region), so a session cannot use
// a key directly. Keys given by ARN share one statement per region. An
// alias ARN in Resource would match the alias, not the key behind it, and
// so grant nothing: keys given by alias are matched as any key of the
// alias's region and account (key/*) that carries the alias
// (ForAnyValue:StringEquals on kms:ResourceAliases, which lists a key's
// aliases), one statement per region and account (AWS KMS Developer Guide,
// "Specifying KMS keys in IAM policy statements" and "Use aliases to
// control access to KMS keys").
func kmsStatements(partition string, access approval.Access, keys []KMSKey) []statement {
	type group struct {
		region, account string // account only for aliases
		alias           bool
		values          []string // key ARNs, or alias names
	}
	var groups []*group
	find := func(k KMSKey) *group {
		alias := k.Alias != ""
		for _, g := range groups {
			if g.alias == alias && g.region == k.Region && (!alias || g.account == k.Account) {
				return g
			}
		}
		g := &group{region: k.Region, alias: alias}
		if alias {
			g.account = k.Account
		}
		groups = append(groups, g)
		return g
	}
	for _, k := range keys {
		g := find(k)
		v := k.ARN
		if g.alias {
			v = k.Alias
		}
		if !slices.Contains(g.values, v) {
			g.values = append(g.values, v)
		}
	}
	var out []statement
	for i, g := range groups {
		st := statement{
			Sid:       fmt.Sprintf("Kms%d", i+1),
			Effect:    "Allow",
			Action:    kmsActions[access],
			Resource:  g.values,
			Condition: map[string]map[string][]string{"StringEquals": {"kms:ViaService": {s3ViaService(g.region)}}},
		}
		if g.alias {
			st.Resource = []string{"arn:" + partition + ":kms:" + g.region + ":" + g.account + ":key/*"}
			st.Condition["ForAnyValue:StringEquals"] = map[string][]string{"kms:ResourceAliases": g.values}
		}
		out = append(out, st)
	}
	return out
}

// LargestPolicy returns the length of the longest session policy any
// grant on buckets can need in partition with keys, and the scope that
// needs it. For each bucket that is a folder of MaxPrefixLen characters
// with write access, or a put or get of a key of MaxKeyLen bytes (none of
// whose characters grows in JSON); with no buckets, a bucket name of the
// 63 characters S3 allows stands for any. The length may be over
// MaxPolicyLen: that is for the caller to check.
func LargestPolicy(partition string, buckets []string, keys []KMSKey) (int, approval.Scope) {
	if len(buckets) == 0 {
		buckets = []string{strings.Repeat("b", 63)}
	}
	prefix := strings.Repeat("f", approval.MaxPrefixLen-1) + "/"
	key := strings.Repeat("k", approval.MaxKeyLen)
	var (
		most  int
		scope approval.Scope
	)
	for _, b := range buckets {
		for _, s := range []approval.Scope{
			{Kind: approval.KindFolder, Bucket: b, Prefix: prefix, Access: approval.AccessWrite},
			{Kind: approval.KindPut, Bucket: b, Key: key, Access: approval.AccessWrite},
			{Kind: approval.KindGet, Bucket: b, Key: key, Access: approval.AccessRead},
		} {
			if p, err := buildPolicy(partition, s, keys); err == nil && len(p) > most {
				most, scope = len(p), s
			}
		}
	}
	return most, scope
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
