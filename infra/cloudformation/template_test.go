// Package cloudformation_test checks infra/cloudformation/share-bucket.yaml:
// it parses the template with goformation, renders it for concrete
// parameter values the way CloudFormation would, and asserts on the IAM
// policies that result.
package cloudformation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// validParams are parameter values that deploy; tests change one or two.
func validParams(overrides ...string) map[string]string {
	p := map[string]string{
		"BotPrincipalArn": "arn:aws:iam::123456789012:role/share-bucket-bot",
		"BucketNames":     "collab-bucket",
		"Prefix":          "shared/",
	}
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		p[k] = v
	}
	return p
}

// objectActions are the actions the collaborator role may perform on
// objects; consoleActions the bucket-level ones; kmsActions those on the
// keys of SSE-KMS buckets; stsActions what the bot may do to the role.
var (
	objectActions  = []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}
	consoleActions = []string{"s3:GetBucketLocation", "s3:ListAllMyBuckets", "s3:ListBucket"}
	kmsActions     = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	stsActions     = []string{"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}
)

// Logical IDs of the policies around the collaborator role.
const (
	permissionsPolicy = "CollaboratorPermissions"
	boundaryPolicy    = "CollaboratorBoundary"
	botPolicy         = "BotPolicy"
)

// The session tag keys the bot sets (internal/federation sessionTags), in
// the template's order.
var botTagKeys = []string{"request-id", "approver"}

// Example KMS key ARNs, one set per partition.
var (
	awsKeys = []string{
		"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
	}
	govKeys = []string{"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
	cnKeys  = []string{"arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
)

// A policyCase is one deployment of the template: parameters, partition,
// and what the collaborator role should then be allowed.
type policyCase struct {
	name      string
	params    map[string]string
	partition string // "" means aws
	buckets   []string
	prefix    string
	keys      []string
}

func (c policyCase) part() string {
	if c.partition == "" {
		return "aws"
	}
	return c.partition
}

// policyCases covers 1 to 5 buckets, with and without a prefix, with and
// without KMS keys, in the three partitions.
func policyCases() []policyCase {
	return []policyCase{
		{"OneBucket", validParams(), "", []string{"collab-bucket"}, "shared/", nil},
		{"TwoBuckets", validParams("BucketNames=collab-bucket,audit-exports"), "", []string{"collab-bucket", "audit-exports"}, "shared/", nil},
		{"FiveBucketsNestedPrefix", validParams("BucketNames=b-one,b-two,b.three,b-four,b-five", "Prefix=teams/finance q1/"), "", []string{"b-one", "b-two", "b.three", "b-four", "b-five"}, "teams/finance q1/", nil},
		{"WholeBuckets", validParams("BucketNames=collab-bucket,audit-exports,third-bucket", "Prefix="), "", []string{"collab-bucket", "audit-exports", "third-bucket"}, "", nil},
		{"OneKey", validParams("KmsKeyArns=" + awsKeys[0]), "", []string{"collab-bucket"}, "shared/", awsKeys[:1]},
		{"FourBucketsTwoKeys", validParams("BucketNames=a-bucket,b-bucket,c-bucket,d-bucket", "KmsKeyArns="+strings.Join(awsKeys, ",")), "", []string{"a-bucket", "b-bucket", "c-bucket", "d-bucket"}, "shared/", awsKeys},
		{"WholeBucketsKey", validParams("Prefix=", "KmsKeyArns="+awsKeys[1]), "", []string{"collab-bucket"}, "", awsKeys[1:]},
		{"GovCloud", validParams(), "aws-us-gov", []string{"collab-bucket"}, "shared/", nil},
		{"GovCloudKey", validParams("BucketNames=a-bucket,b-bucket,c-bucket", "KmsKeyArns="+govKeys[0]), "aws-us-gov", []string{"a-bucket", "b-bucket", "c-bucket"}, "shared/", govKeys},
		{"China", validParams("BucketNames=a-bucket,b-bucket"), "aws-cn", []string{"a-bucket", "b-bucket"}, "shared/", nil},
		{"ChinaKeyWholeBuckets", validParams("BucketNames=a-bucket,b-bucket,c-bucket,d-bucket,e-bucket", "Prefix=", "KmsKeyArns="+cnKeys[0]), "aws-cn", []string{"a-bucket", "b-bucket", "c-bucket", "d-bucket", "e-bucket"}, "", cnKeys},
	}
}

func TestGoformationOpen(t *testing.T) {
	tpl, err := goformation.Open(templatePath)
	if err != nil {
		t.Fatalf("goformation.Open(%s): %v", templatePath, err)
	}
	want := map[string]string{
		"CollaboratorRole":   "AWS::IAM::Role",
		permissionsPolicy:    "AWS::IAM::ManagedPolicy",
		boundaryPolicy:       "AWS::IAM::ManagedPolicy",
		botPolicy:            "AWS::IAM::ManagedPolicy",
		"BotRole":            "AWS::IAM::Role",
		"BotInstanceProfile": "AWS::IAM::InstanceProfile",
		"TooManyBucketNames": "AWS::IAM::RolePolicy",
	}
	if got := len(tpl.Resources); got != len(want) {
		t.Errorf("got %d resources; want %d", got, len(want))
	}
	for name, typ := range want {
		r, ok := tpl.Resources[name]
		if !ok {
			t.Errorf("resource %s missing", name)
			continue
		}
		if got := r.AWSCloudFormationType(); got != typ {
			t.Errorf("%s is %s; want %s", name, got, typ)
		}
	}
	// goformation resolves a Ref to a parameter to the parameter's Default.
	role, err := tpl.GetIAMRoleWithName("CollaboratorRole")
	if err != nil {
		t.Fatal(err)
	}
	if role.MaxSessionDuration == nil || *role.MaxSessionDuration != 3600 {
		t.Errorf("CollaboratorRole MaxSessionDuration = %v; want the parameter default 3600", role.MaxSessionDuration)
	}
	if tpl.AWSTemplateFormatVersion != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %q", tpl.AWSTemplateFormatVersion)
	}
}

// TestGoformationRejectsUnknownProperty shows that a misspelt property
// fails the tests above instead of being ignored.
func TestGoformationRejectsUnknownProperty(t *testing.T) {
	const tmpl = `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      MaxSessionDuration: 3600
%s`
	dir := t.TempDir()
	for _, tc := range []struct {
		name, extra string
		wantErr     bool
	}{
		{"Known", "", false},
		{"Unknown", "      MaxSessionDurations: 3600\n", true},
		{"KnownBoundary", "      PermissionsBoundary: arn:aws:iam::123456789012:policy/b\n", false},
		{"UnknownBoundary", "      PermissionBoundary: arn:aws:iam::123456789012:policy/b\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(path, []byte(fmt.Sprintf(tmpl, tc.extra)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := goformation.Open(path)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("goformation.Open error = %v; want error: %v", err, tc.wantErr)
			}
			if tc.wantErr && !strings.Contains(err.Error(), strings.TrimSuffix(strings.Fields(tc.extra)[0], ":")) {
				t.Errorf("error %q does not name the unknown property", err)
			}
		})
	}
}

// wildcardActionProblems walks v (a template or policy, before rendering,
// so every branch of every condition) and reports every Allow or
// effect-less statement whose Action has a wildcard, and every NotAction,
// NotResource or NotPrincipal. A Deny may use "*": it can only take
// permissions away. n is the number of actions seen.
func wildcardActionProblems(v any) (problems []string, n int) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "NotAction" || k == "NotResource" || k == "NotPrincipal" {
					problems = append(problems, k+" is used; write the allowed set explicitly")
				}
				if k == "Action" {
					deny := v["Effect"] == "Deny"
					walkStrings(x, func(s string) {
						n++
						if strings.ContainsAny(s, "*?") && !deny {
							problems = append(problems, fmt.Sprintf("Action %q has a wildcard", s))
						}
					})
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return problems, n
}

// TestNoWildcardActions looks at every Action in the template source, in
// every branch of every condition.
func TestNoWildcardActions(t *testing.T) {
	problems, n := wildcardActionProblems(readRawTemplate(t)["Resources"])
	for _, p := range problems {
		t.Error(p)
	}
	if n < 20 {
		t.Fatalf("found %d actions in the template; the walk is broken", n)
	}
	// The walk itself: it finds a wildcard in an Allow, also inside an
	// Fn::If branch, and lets a Deny use "*".
	for _, tc := range []struct {
		name string
		doc  string
		want int
	}{
		{"AllowWildcard", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, 1},
		{"AllowWildcardInIf", `{"Statement":[{"Fn::If":["C",{"Effect":"Allow","Action":["kms:Decrypt","kms:*"]},{"Ref":"AWS::NoValue"}]}]}`, 1},
		{"NoEffectQuestionMark", `{"Action":"s3:Get?bject"}`, 1},
		{"NotAction", `{"Statement":[{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"}]}`, 1},
		{"DenyStar", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, 0},
		{"AllowExact", `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tc.doc), &doc); err != nil {
				t.Fatal(err)
			}
			if got, _ := wildcardActionProblems(doc); len(got) != tc.want {
				t.Errorf("problems %q; want %d", got, tc.want)
			}
		})
	}
}

// checkCeilingAllows checks the Allow statements of the collaborator
// role's permissions policy or boundary: object actions on BUCKET/PREFIX*
// only, listing inside the prefix, the console calls, and the KMS keys
// through S3 only.
func checkCeilingAllows(t *testing.T, tc policyCase, stmts []statement) {
	t.Helper()
	partition := tc.part()
	var bucketARNs, objectARNs []string
	for _, b := range tc.buckets {
		bucketARNs = append(bucketARNs, fmt.Sprintf("arn:%s:s3:::%s", partition, b))
		objectARNs = append(objectARNs, fmt.Sprintf("arn:%s:s3:::%s/%s*", partition, b, tc.prefix))
	}
	if want := 4 + min(len(tc.keys), 1); len(stmts) != want {
		t.Errorf("got %d Allow statements; want %d (list, location, list buckets, objects, KMS if keys)", len(stmts), want)
	}
	seen := map[string]bool{}
	for _, s := range stmts {
		if s.Effect != "Allow" {
			t.Errorf("statement %q: Effect %q; want Allow", s.Sid, s.Effect)
		}
		if s.Principal != nil {
			t.Errorf("statement %q: identity policy has a Principal", s.Sid)
		}
		if len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Errorf("statement %q: no actions or no resources", s.Sid)
		}
		for _, a := range s.Action {
			seen[a] = true
		}
		switch {
		case slices.Equal(sorted(s.Action), objectActions):
			// Object actions only on BUCKET/PREFIX* object ARNs.
			if got := sorted(s.Resource); !slices.Equal(got, sorted(objectARNs)) {
				t.Errorf("object actions on %q; want exactly %q", got, objectARNs)
			}
			for _, res := range s.Resource {
				if res == "*" || !strings.HasSuffix(res, "/"+tc.prefix+"*") || strings.Count(res, "*") != 1 {
					t.Errorf("object resource %q is not BUCKET/%s*", res, tc.prefix)
				}
			}
			if s.Condition != nil {
				t.Errorf("object statement has condition %v", s.Condition)
			}
		case slices.Equal(s.Action, []string{"s3:ListBucket"}):
			if got := sorted(s.Resource); !slices.Equal(got, sorted(bucketARNs)) {
				t.Errorf("ListBucket on %q; want exactly %q", got, bucketARNs)
			}
			if tc.prefix == "" {
				if s.Condition != nil {
					t.Errorf("ListBucket for whole buckets has condition %v; want none", s.Condition)
				}
				break
			}
			want := map[string]map[string][]string{"StringLike": {"s3:prefix": {tc.prefix, tc.prefix + "*"}}}
			if !reflect.DeepEqual(s.Condition, want) {
				t.Errorf("ListBucket condition = %v; want %v", s.Condition, want)
			}
		case slices.Equal(s.Action, []string{"s3:GetBucketLocation"}):
			if got := sorted(s.Resource); !slices.Equal(got, sorted(bucketARNs)) {
				t.Errorf("GetBucketLocation on %q; want exactly %q", got, bucketARNs)
			}
		case slices.Equal(s.Action, []string{"s3:ListAllMyBuckets"}):
			if !slices.Equal(s.Resource, []string{"*"}) || s.Condition != nil {
				t.Errorf("ListAllMyBuckets on %q with %v; want \"*\" (it has no resource type)", s.Resource, s.Condition)
			}
		case slices.Equal(sorted(s.Action), kmsActions):
			checkKMS(t, tc, s)
		default:
			t.Errorf("statement %q has unexpected actions %q", s.Sid, s.Action)
		}
		for _, res := range s.Resource {
			if res == "*" && !slices.Equal(s.Action, []string{"s3:ListAllMyBuckets"}) {
				t.Errorf("statement %q: %q on resource \"*\"", s.Sid, s.Action)
			}
			if res != "*" && !strings.HasPrefix(res, "arn:"+partition+":s3:::") && !strings.HasPrefix(res, "arn:"+partition+":kms:") {
				t.Errorf("resource %q is not in partition %s", res, partition)
			}
		}
	}
	want := append(append([]string(nil), objectActions...), consoleActions...)
	if len(tc.keys) > 0 {
		want = append(want, kmsActions...)
	}
	for _, a := range want {
		if !seen[a] {
			t.Errorf("action %s is not granted", a)
		}
	}
	if len(tc.keys) == 0 && (seen["kms:Decrypt"] || seen["kms:GenerateDataKey"]) {
		t.Error("KMS actions are granted without KmsKeyArns")
	}
}

// checkKMS checks the KMS statement: the given key ARNs only, and only
// when S3 calls KMS (kms:ViaService s3.REGION.URLSUFFIX, where the suffix
// is amazonaws.com.cn in China).
func checkKMS(t *testing.T, tc policyCase, s statement) {
	t.Helper()
	if len(tc.keys) == 0 {
		t.Errorf("statement %q grants %q without KmsKeyArns", s.Sid, s.Action)
		return
	}
	if got := sorted(s.Resource); !slices.Equal(got, sorted(tc.keys)) {
		t.Errorf("KMS actions on %q; want exactly the given keys %q", got, tc.keys)
	}
	suffix := map[string]string{"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}[tc.part()]
	want := map[string]map[string][]string{"StringLike": {"kms:ViaService": {"s3.*." + suffix}}}
	if !reflect.DeepEqual(s.Condition, want) {
		t.Fatalf("KMS condition = %v; want %v", s.Condition, want)
	}
	ctx := func(via string) requestContext { return requestContext{"kms:ViaService": {via}} }
	for _, key := range tc.keys {
		region := strings.Split(key, ":")[3]
		if ok, err := conditionMatches(s.Condition, ctx("s3."+region+"."+suffix)); err != nil || !ok {
			t.Errorf("KMS condition refuses S3 in the key's region %s (err %v)", region, err)
		}
	}
	for _, via := range []string{"ec2.us-east-1." + suffix, "kms.us-east-1." + suffix, "s3.cn-north-1.amazonaws.com.cn.example", ""} {
		if ok, _ := conditionMatches(s.Condition, ctx(via)); ok {
			t.Errorf("KMS condition allows kms:ViaService %q", via)
		}
	}
	if ok, _ := conditionMatches(s.Condition, requestContext{}); ok {
		t.Error("KMS condition allows a direct call (no kms:ViaService)")
	}
}

// managedPolicyStatements returns the statements of the managed policy
// logicalID, split into Allows and Denies.
func managedPolicyStatements(t *testing.T, r *rendered, logicalID string) (allows, denies []statement) {
	t.Helper()
	p, err := r.GetIAMManagedPolicyWithName(logicalID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range decodeStatements(t, p.PolicyDocument) {
		switch s.Effect {
		case "Allow":
			allows = append(allows, s)
		case "Deny":
			denies = append(denies, s)
		default:
			t.Errorf("%s statement %q: Effect %q", logicalID, s.Sid, s.Effect)
		}
	}
	return allows, denies
}

func TestCollaboratorPolicy(t *testing.T) {
	for _, tc := range policyCases() {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(readRawTemplate(t), tc.params, renderOptions{partition: tc.partition})
			if err != nil {
				t.Fatal(err)
			}
			allows, denies := managedPolicyStatements(t, r, permissionsPolicy)
			if len(denies) != 0 {
				t.Errorf("%s has Deny statements %+v", permissionsPolicy, denies)
			}
			checkCeilingAllows(t, tc, allows)
			if _, err := r.GetIAMRolePolicyWithName("TooManyBucketNames"); err == nil {
				t.Errorf("deployment guard TooManyBucketNames is present for %d buckets", len(tc.buckets))
			}
		})
	}
}

// forbiddenInBoundary reports an action that must never be inside the
// collaborator role's ceiling: anything on IAM or STS (the bot's inline
// policy must not be able to grant those), bucket policies, ACLs and
// public access blocks.
func forbiddenInBoundary(action string) bool {
	a := strings.ToLower(action)
	return strings.HasPrefix(a, "iam:") || strings.HasPrefix(a, "sts:") ||
		strings.Contains(a, "policy") || strings.Contains(a, "acl") ||
		strings.Contains(a, "publicaccessblock") || strings.Contains(a, "ownershipcontrols") ||
		a == "*" || a == "s3:*"
}

func TestBoundary(t *testing.T) {
	for _, tc := range policyCases() {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(readRawTemplate(t), tc.params, renderOptions{partition: tc.partition})
			if err != nil {
				t.Fatal(err)
			}
			allows, denies := managedPolicyStatements(t, r, boundaryPolicy)
			checkCeilingAllows(t, tc, allows)
			for _, s := range allows {
				for _, a := range s.Action {
					if forbiddenInBoundary(a) {
						t.Errorf("boundary allows %s", a)
					}
				}
			}
			// The same Allow statements as the permissions policy, so
			// neither is wider than the other.
			perm, _ := managedPolicyStatements(t, r, permissionsPolicy)
			if !reflect.DeepEqual(allows, perm) {
				t.Errorf("boundary Allow statements differ from %s:\n%+v\n%+v", permissionsPolicy, allows, perm)
			}

			// Fail closed: one fixed Deny of everything for a session
			// without a request-id tag.
			if len(denies) != 1 {
				t.Fatalf("boundary has %d Deny statements; want 1", len(denies))
			}
			d := denies[0]
			want := map[string]map[string][]string{"Null": {"aws:PrincipalTag/request-id": {"true"}}}
			if !slices.Equal(d.Action, []string{"*"}) || !slices.Equal(d.Resource, []string{"*"}) || !reflect.DeepEqual(d.Condition, want) {
				t.Errorf("boundary Deny = %+v; want Deny * on * with %v", d, want)
			}
			for _, c := range []struct {
				name string
				ctx  requestContext
				deny bool
			}{
				{"Untagged", requestContext{"aws:PrincipalTag/approver": {"U0999ZZZZ"}}, true},
				{"NoTags", requestContext{}, true},
				{"Grant", requestContext{"aws:PrincipalTag/request-id": {"ABCDEFGHIJ"}, "aws:PrincipalTag/approver": {"U0999ZZZZ"}}, false},
				{"Check", requestContext{"aws:PrincipalTag/request-id": {"check"}}, false},
			} {
				got, err := conditionMatches(d.Condition, c.ctx)
				if err != nil || got != c.deny {
					t.Errorf("%s session: boundary Deny applies = %v (err %v); want %v", c.name, got, err, c.deny)
				}
			}
		})
	}
}

// TestCollaboratorRole checks what is attached to the role: the boundary,
// the permissions policy, no inline Allow of its own (inline is where the
// bot writes), and no request-id tag.
func TestCollaboratorRole(t *testing.T) {
	for _, params := range []map[string]string{validParams(), validParams("BotPrincipalArn=", "CreateBotRole=true", "KmsKeyArns="+awsKeys[0])} {
		r := mustRender(t, params)
		role, err := r.GetIAMRoleWithName("CollaboratorRole")
		if err != nil {
			t.Fatal(err)
		}
		if len(role.Policies) != 0 {
			t.Errorf("CollaboratorRole has %d inline policies; want none (its Allow is %s)", len(role.Policies), permissionsPolicy)
		}
		if want := []string{refValue(permissionsPolicy)}; !slices.Equal(role.ManagedPolicyArns, want) {
			t.Errorf("CollaboratorRole managed policies %q; want %q", role.ManagedPolicyArns, want)
		}
		if role.PermissionsBoundary == nil || *role.PermissionsBoundary != refValue(boundaryPolicy) {
			t.Errorf("CollaboratorRole PermissionsBoundary = %v; want %s", role.PermissionsBoundary, refValue(boundaryPolicy))
		}
		// IAM tag keys are case-insensitive.
		for _, tag := range role.Tags {
			if strings.EqualFold(tag.Key, "request-id") {
				t.Errorf("CollaboratorRole is tagged %s=%s; untagged sessions would pass the boundary's Deny", tag.Key, tag.Value)
			}
		}
		// Nothing else in the stack puts a policy on the role.
		for name, p := range r.GetAllIAMRolePolicyResources() {
			if p.RoleName == refValue("CollaboratorRole") {
				t.Errorf("inline policy %s is put on CollaboratorRole", name)
			}
		}
		for name, p := range r.GetAllIAMManagedPolicyResources() {
			if slices.Contains(p.Roles, refValue("CollaboratorRole")) {
				t.Errorf("managed policy %s is attached to CollaboratorRole through its Roles", name)
			}
		}
		if len(r.GetAllIAMPolicyResources()) != 0 {
			t.Errorf("the stack has AWS::IAM::Policy resources %v", r.GetAllIAMPolicyResources())
		}
	}
}

func TestTooManyBuckets(t *testing.T) {
	r := mustRender(t, validParams("BucketNames=b-one,b-two,b-three,b-four,b-five,b-six"))
	guard, err := r.GetIAMRolePolicyWithName("TooManyBucketNames")
	if err != nil {
		t.Fatalf("six buckets: no deployment guard: %v", err)
	}
	// The guard fails the stack because its role does not exist.
	if !strings.HasPrefix(guard.RoleName, "ERROR-BucketNames-has-more-than-5") {
		t.Errorf("guard RoleName = %q; want a name that explains the error", guard.RoleName)
	}
	for name := range r.GetAllIAMRoleResources() {
		if name == guard.RoleName {
			t.Errorf("guard attaches to a role the stack creates")
		}
	}
	for _, s := range decodeStatements(t, guard.PolicyDocument) {
		if s.Effect != "Deny" {
			t.Errorf("guard statement Effect %q; want Deny", s.Effect)
		}
	}
}

// assumeRequest is an AssumeRole call as the trust policy sees it.
func assumeRequest(sourceIdentity string, tags map[string]string, transitive ...string) requestContext {
	ctx := requestContext{}
	if sourceIdentity != "" {
		ctx["sts:SourceIdentity"] = []string{sourceIdentity}
	}
	for k, v := range tags {
		ctx["aws:RequestTag/"+k] = []string{v}
		ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
	}
	if len(transitive) > 0 {
		ctx["sts:TransitiveTagKeys"] = transitive
	}
	return ctx
}

func TestTrustPolicy(t *testing.T) {
	const botArn = "arn:aws:iam::123456789012:role/share-bucket-bot"
	for _, tc := range []struct {
		name          string
		params        map[string]string
		wantPrincipal []string
	}{
		{"ExistingPrincipal", validParams(), []string{botArn}},
		{"ExistingUser", validParams("BotPrincipalArn=arn:aws:iam::123456789012:user/bots/share-bucket"), []string{"arn:aws:iam::123456789012:user/bots/share-bucket"}},
		{"CreatedBotRole", validParams("BotPrincipalArn=", "CreateBotRole=true"), []string{getAttValue("BotRole", "Arn")}},
		{"Both", validParams("CreateBotRole=true"), []string{botArn, getAttValue("BotRole", "Arn")}},
		{"CustomSourceIdentity", validParams("SourceIdentityPattern=sb-U*"), []string{botArn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRender(t, tc.params)
			role, err := r.GetIAMRoleWithName("CollaboratorRole")
			if err != nil {
				t.Fatal(err)
			}
			stmts := decodeStatements(t, role.AssumeRolePolicyDocument)
			if len(stmts) == 0 {
				t.Fatal("trust policy has no statements")
			}
			pattern := r.params["SourceIdentityPattern"].(string)
			sourceIdentity := map[string][]string{"sts:SourceIdentity": {pattern}}
			requestID := map[string][]string{"aws:RequestTag/request-id": {"?*"}}
			tagKeys := map[string][]string{"aws:TagKeys": botTagKeys}
			byAction := map[string]statement{}
			var actions []string
			for _, s := range stmts {
				if s.Effect != "Allow" || len(s.Resource) != 0 {
					t.Errorf("statement %q: Effect %q, Resource %q", s.Sid, s.Effect, s.Resource)
				}
				if len(s.Principal) != 1 || s.Principal["AWS"] == nil {
					t.Errorf("statement %q: Principal %v; want only AWS principals", s.Sid, s.Principal)
				}
				if got := sorted(s.Principal["AWS"]); !slices.Equal(got, sorted(tc.wantPrincipal)) {
					t.Errorf("statement %q: principals %q; want %q", s.Sid, got, tc.wantPrincipal)
				}
				actions = append(actions, s.Action...)
				for _, a := range s.Action {
					byAction[a] = s
				}
			}
			if got := sorted(actions); !slices.Equal(got, stsActions) {
				t.Fatalf("trust policy actions %q; want exactly %q", got, stsActions)
			}
			// The SAR lists aws:RequestTag and aws:TagKeys for AssumeRole
			// and TagSession, not for SetSourceIdentity, so each action has
			// its own statement and exactly these conditions.
			for action, want := range map[string]map[string]map[string][]string{
				"sts:AssumeRole":        {"StringLike": merge(sourceIdentity, requestID), "ForAllValues:StringEquals": tagKeys},
				"sts:SetSourceIdentity": {"StringLike": sourceIdentity},
				"sts:TagSession":        {"StringLike": requestID, "ForAllValues:StringEquals": tagKeys, "Null": {"sts:TransitiveTagKeys": {"true"}}},
			} {
				s := byAction[action]
				if len(s.Action) != 1 {
					t.Errorf("%s shares statement %q with %q", action, s.Sid, s.Action)
				}
				if !reflect.DeepEqual(s.Condition, want) {
					t.Errorf("%s condition = %v; want %v", action, s.Condition, want)
				}
			}

			// The conditions as IAM evaluates them: the bot's own calls
			// pass, anything that could mint a session the revocation list
			// cannot name fails.
			si := strings.ReplaceAll(strings.ReplaceAll(pattern, "*", "U0123ABCD"), "?", "x")
			grant := map[string]string{"request-id": "ABCDEFGHIJ", "approver": "U0999ZZZZ"}
			for _, c := range []struct {
				name string
				ctx  requestContext
				ok   bool // every action the call needs is allowed
			}{
				{"Grant", assumeRequest(si, grant), true},
				{"GrantNoApprover", assumeRequest(si, map[string]string{"request-id": "ABCDEFGHIJ"}), true},
				{"BotCheck", assumeRequest(si, map[string]string{"request-id": "check", "approver": "check"}), true},
				{"NoTags", assumeRequest(si, nil), false},
				{"OnlyApprover", assumeRequest(si, map[string]string{"approver": "U0999ZZZZ"}), false},
				{"EmptyRequestID", assumeRequest(si, map[string]string{"request-id": ""}), false},
				{"ExtraTagKey", assumeRequest(si, map[string]string{"request-id": "ABCDEFGHIJ", "team": "x"}), false},
				{"WrongCaseKey", assumeRequest(si, map[string]string{"Request-Id": "ABCDEFGHIJ"}), false},
				{"Transitive", assumeRequest(si, grant, "request-id"), false},
				{"NoSourceIdentity", assumeRequest("", grant), false},
				{"OtherSourceIdentity", assumeRequest("zz-"+si, grant), false},
			} {
				// The actions this call needs, as in the SAR's dependent
				// actions of sts:AssumeRole.
				needed := []string{"sts:AssumeRole"}
				if c.ctx["sts:SourceIdentity"] != nil {
					needed = append(needed, "sts:SetSourceIdentity")
				}
				if len(c.ctx["aws:TagKeys"]) > 0 {
					needed = append(needed, "sts:TagSession")
				}
				ok := true
				for _, a := range needed {
					m, err := conditionMatches(byAction[a].Condition, c.ctx)
					if err != nil {
						t.Fatalf("%s: %v", a, err)
					}
					ok = ok && m
				}
				if ok != c.ok {
					t.Errorf("%s: AssumeRole allowed = %v; want %v", c.name, ok, c.ok)
				}
			}
		})
	}
}

// merge returns the union of condition key maps.
func merge(ms ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestBotPrincipalRequired(t *testing.T) {
	_, err := render(readRawTemplate(t), validParams("BotPrincipalArn="), renderOptions{})
	if err == nil || !strings.Contains(err.Error(), "BotPrincipalRequired") {
		t.Errorf("no bot principal and CreateBotRole=false: err = %v; want rule BotPrincipalRequired to fail", err)
	}
}

func TestMaxSessionDuration(t *testing.T) {
	for _, tc := range []struct {
		value   string // "" means the default
		want    int
		wantErr bool
	}{
		{"", 3600, false},
		{"7200", 7200, false},
		{"43200", 43200, false},
		{"1800", 0, true},
		{"43201", 0, true},
	} {
		t.Run("value="+tc.value, func(t *testing.T) {
			p := validParams()
			if tc.value != "" {
				p["MaxSessionDuration"] = tc.value
			}
			r, err := render(readRawTemplate(t), p, renderOptions{})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MaxSessionDuration=%s deployed; want a parameter error", tc.value)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			role, err := r.GetIAMRoleWithName("CollaboratorRole")
			if err != nil {
				t.Fatal(err)
			}
			if role.MaxSessionDuration == nil || *role.MaxSessionDuration != tc.want {
				t.Errorf("MaxSessionDuration = %v; want %d", role.MaxSessionDuration, tc.want)
			}
		})
	}
}

// sarPermissionsBoundaryKey says, for each IAM action the bot gets, whether
// the Service Authorization Reference lists the iam:PermissionsBoundary
// condition key for it ("Actions, resources, and condition keys for AWS
// Identity and Access Management", role* resource). A condition on a key
// the action does not supply is false, so it may be used only where listed.
var sarPermissionsBoundaryKey = map[string]bool{
	"iam:PutRolePolicy":    true,
	"iam:DeleteRolePolicy": true,
	"iam:GetRolePolicy":    false,
	"iam:ListRolePolicies": false,
}

// botMustNotHave are actions that would let the bot widen the collaborator
// role or escape its boundary.
var botMustNotHave = []string{
	"iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
	"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
	"iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy",
	"iam:UpdateRole", "iam:TagRole", "iam:UntagRole", "iam:DeleteRole", "iam:PassRole", "iam:CreateRole",
}

func TestBotPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  map[string]string
		botRole bool
	}{
		{"ExistingPrincipal", validParams(), false},
		{"CreatedBotRole", validParams("BotPrincipalArn=", "CreateBotRole=true"), true},
		{"Both", validParams("CreateBotRole=true", "KmsKeyArns="+awsKeys[0]), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRender(t, tc.params)
			p, err := r.GetIAMManagedPolicyWithName(botPolicy)
			if err != nil {
				t.Fatal(err)
			}
			var wantRoles []string
			if tc.botRole {
				wantRoles = []string{refValue("BotRole")}
			}
			if !slices.Equal(p.Roles, wantRoles) || len(p.Users) != 0 || len(p.Groups) != 0 {
				t.Errorf("%s attached to roles %q users %q groups %q; want roles %q", botPolicy, p.Roles, p.Users, p.Groups, wantRoles)
			}
			collaborator := getAttValue("CollaboratorRole", "Arn")
			boundaryCondition := map[string]map[string][]string{"StringEquals": {"iam:PermissionsBoundary": {refValue(boundaryPolicy)}}}
			var actions []string
			for _, s := range decodeStatements(t, p.PolicyDocument) {
				if s.Effect != "Allow" || s.Principal != nil {
					t.Errorf("statement %q: Effect %q Principal %v", s.Sid, s.Effect, s.Principal)
				}
				if !slices.Equal(s.Resource, []string{collaborator}) {
					t.Errorf("statement %q on %q; want only the collaborator role %s", s.Sid, s.Resource, collaborator)
				}
				actions = append(actions, s.Action...)
				for _, a := range s.Action {
					wantBoundary, isIAM := sarPermissionsBoundaryKey[a]
					switch {
					case !isIAM && !slices.Contains(stsActions, a):
						t.Errorf("statement %q grants %s", s.Sid, a)
					case wantBoundary && !reflect.DeepEqual(s.Condition, boundaryCondition):
						t.Errorf("%s condition = %v; want %v", a, s.Condition, boundaryCondition)
					case !wantBoundary && s.Condition != nil:
						t.Errorf("%s has condition %v; want none (the SAR lists no iam:PermissionsBoundary for it)", a, s.Condition)
					}
				}
			}
			want := append(slices.Collect(maps.Keys(sarPermissionsBoundaryKey)), stsActions...)
			if got := sorted(actions); !slices.Equal(got, sorted(want)) {
				t.Errorf("%s actions %q; want exactly %q", botPolicy, got, sorted(want))
			}
			for _, a := range botMustNotHave {
				if slices.Contains(actions, a) {
					t.Errorf("%s grants %s", botPolicy, a)
				}
			}

			o, ok := r.Outputs["BotPolicyArn"]
			if !ok || o.Value != refValue(botPolicy) {
				t.Errorf("output BotPolicyArn = %+v; want %s", o, refValue(botPolicy))
			}
			if o.Description == nil || !strings.Contains(*o.Description, "attach") {
				t.Errorf("BotPolicyArn description does not say to attach it")
			}
		})
	}
}

// TestBotGetsNothingElse checks that BotPolicy is the bot's only grant in
// the stack: no other policy names the bot's role, and BotRole has no
// policies of its own.
func TestBotGetsNothingElse(t *testing.T) {
	r := mustRender(t, validParams("BotPrincipalArn=", "CreateBotRole=true"))
	role, err := r.GetIAMRoleWithName("BotRole")
	if err != nil {
		t.Fatal(err)
	}
	if len(role.Policies) != 0 || len(role.ManagedPolicyArns) != 0 || role.PermissionsBoundary != nil {
		t.Errorf("BotRole has inline %d / managed %q policies / boundary %v; want its permissions in %s only", len(role.Policies), role.ManagedPolicyArns, role.PermissionsBoundary, botPolicy)
	}
	for name, p := range r.GetAllIAMRolePolicyResources() {
		if p.RoleName == refValue("BotRole") {
			t.Errorf("inline policy %s is put on BotRole", name)
		}
	}
	for name, p := range r.GetAllIAMManagedPolicyResources() {
		if name != botPolicy && slices.Contains(p.Roles, refValue("BotRole")) {
			t.Errorf("managed policy %s is attached to BotRole", name)
		}
	}
}

func TestBotRole(t *testing.T) {
	t.Run("Created", func(t *testing.T) {
		r := mustRender(t, validParams("BotPrincipalArn=", "CreateBotRole=true"))
		role, err := r.GetIAMRoleWithName("BotRole")
		if err != nil {
			t.Fatal(err)
		}
		var services []string
		for _, s := range decodeStatements(t, role.AssumeRolePolicyDocument) {
			if s.Effect != "Allow" || !slices.Equal(s.Action, []string{"sts:AssumeRole"}) || len(s.Principal) != 1 {
				t.Errorf("BotRole trust statement %+v", s)
			}
			services = append(services, s.Principal["Service"]...)
			if slices.Contains(s.Principal["Service"], "ecs-tasks.amazonaws.com") {
				if got := s.Condition["StringEquals"]["aws:SourceAccount"]; !slices.Equal(got, []string{testAccountID}) {
					t.Errorf("ECS trust aws:SourceAccount = %q; want the stack's account", got)
				}
			}
		}
		if got, want := sorted(services), []string{"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"}; !slices.Equal(got, want) {
			t.Errorf("BotRole trusted by %q; want %q", got, want)
		}

		prof, err := r.GetIAMInstanceProfileWithName("BotInstanceProfile")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(prof.Roles, []string{refValue("BotRole")}) {
			t.Errorf("BotInstanceProfile roles %q; want BotRole", prof.Roles)
		}
		for _, out := range []struct{ name, want string }{
			{"BotRoleArn", getAttValue("BotRole", "Arn")},
			{"BotInstanceProfileName", refValue("BotInstanceProfile")},
		} {
			o, ok := r.Outputs[out.name]
			if !ok || o.Value != out.want {
				t.Errorf("output %s = %+v; want %s", out.name, o, out.want)
			}
		}
		if d := r.Outputs["BotRoleArn"].Description; d == nil || !strings.Contains(*d, "1 hour") {
			t.Errorf("BotRoleArn description does not warn about the 1 hour role chaining limit")
		}
	})
	t.Run("NotCreated", func(t *testing.T) {
		r := mustRender(t, validParams())
		var got []string
		for name := range r.Resources {
			got = append(got, name)
		}
		if want := sorted([]string{"CollaboratorRole", permissionsPolicy, boundaryPolicy, botPolicy}); !slices.Equal(sorted(got), want) {
			t.Errorf("resources with CreateBotRole=false: %q; want %q", sorted(got), want)
		}
		for _, name := range []string{"BotRoleArn", "BotInstanceProfileName"} {
			if _, ok := r.Outputs[name]; ok {
				t.Errorf("output %s exists with CreateBotRole=false", name)
			}
		}
	})
}

func TestOutputs(t *testing.T) {
	r := mustRender(t, validParams())
	for _, tc := range []struct{ name, want, mention string }{
		{"CollaboratorRoleArn", getAttValue("CollaboratorRole", "Arn"), "COLLABORATOR_ROLE_ARN"},
		{"CollaboratorBoundaryArn", refValue(boundaryPolicy), "PermissionsBoundary"},
		{"BotPolicyArn", refValue(botPolicy), "attach-role-policy"},
	} {
		o, ok := r.Outputs[tc.name]
		if !ok {
			t.Errorf("no %s output", tc.name)
			continue
		}
		if o.Value != tc.want {
			t.Errorf("%s = %v; want %s", tc.name, o.Value, tc.want)
		}
		if o.Description == nil || !strings.Contains(*o.Description, tc.mention) {
			t.Errorf("%s description does not mention %s", tc.name, tc.mention)
		}
	}
}

// TestManagedPolicySize renders the largest policies the parameters allow
// with room to spare and checks them against IAM's 6,144-character limit
// for a managed policy (whitespace not counted).
func TestManagedPolicySize(t *testing.T) {
	const limit = 6144
	long := func(c byte) string { return strings.Repeat(string(c), 63) }
	buckets := []string{long('a'), long('b'), long('c'), long('d'), long('e')}
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-%032d", i))
	}
	prefix := strings.Repeat("folder-name/", 12) // 144 characters
	r, err := render(readRawTemplate(t), validParams("BucketNames="+strings.Join(buckets, ","), "Prefix="+prefix, "KmsKeyArns="+strings.Join(keys, ",")), renderOptions{partition: "aws-us-gov"})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range r.GetAllIAMManagedPolicyResources() {
		js, err := json.Marshal(p.PolicyDocument)
		if err != nil {
			t.Fatal(err)
		}
		n := len(strings.Join(strings.Fields(string(js)), ""))
		t.Logf("%s: %d characters", name, n)
		if n > limit {
			t.Errorf("%s is %d characters with 5 63-character buckets, a %d-character prefix and %d keys; IAM allows %d", name, n, len(prefix), len(keys), limit)
		}
	}
}

func TestParameterValidation(t *testing.T) {
	for _, tc := range []struct {
		param, value string
		ok           bool
	}{
		{"BucketNames", "collab-bucket,audit.exports,b12", true},
		{"BucketNames", "*", false},
		{"BucketNames", "collab-*", false},
		{"BucketNames", "collab-bucket/shared", false},
		{"BucketNames", "collab-bucket,", false},
		{"BucketNames", "", false},
		{"BucketNames", "Collab_Bucket", false},
		{"BucketNames", "collab-bucket, audit-exports", false},
		{"Prefix", "", true},
		{"Prefix", "shared/", true},
		{"Prefix", "teams/finance q1/", true},
		{"Prefix", "shared", false},
		{"Prefix", "/shared/", false},
		{"Prefix", "sh*red/", false},
		{"Prefix", "shared?/", false},
		{"Prefix", "${aws:username}/", false},
		{"Prefix", "a//", false},
		{"BotPrincipalArn", "arn:aws:iam::123456789012:role/path/to/bot", true},
		{"BotPrincipalArn", "arn:aws-us-gov:iam::123456789012:user/bot", true},
		{"BotPrincipalArn", "arn:aws:iam::123456789012:root", false},
		{"BotPrincipalArn", "123456789012", false},
		{"BotPrincipalArn", "*", false},
		{"BotPrincipalArn", "arn:aws:sts::123456789012:assumed-role/bot/session", false},
		{"CreateBotRole", "yes", false},
		{"SourceIdentityPattern", "slack-*", true},
		{"SourceIdentityPattern", "", false},
		{"SourceIdentityPattern", "${aws:username}", false},
		{"KmsKeyArns", "", true},
		{"KmsKeyArns", awsKeys[0], true},
		{"KmsKeyArns", strings.Join(awsKeys, ","), true},
		{"KmsKeyArns", govKeys[0], true},
		{"KmsKeyArns", cnKeys[0], true},
		// An alias ARN in Resource matches the alias, not the key.
		{"KmsKeyArns", "arn:aws:kms:us-east-1:123456789012:alias/collab", false},
		{"KmsKeyArns", "1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"KmsKeyArns", "arn:aws:kms:us-east-1:123456789012:key/*", false},
		{"KmsKeyArns", "arn:aws:kms:*:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"KmsKeyArns", "*", false},
		{"KmsKeyArns", "arn:aws:s3:::collab-bucket", false},
		{"KmsKeyArns", " " + awsKeys[0], false},
		{"KmsKeyArns", awsKeys[0] + ",", false},
		{"KmsKeyArns", "," + awsKeys[0], false},
		{"KmsKeyArns", awsKeys[0] + ",," + awsKeys[1], false},
		// Only empty entries: no keys, which is harmless.
		{"KmsKeyArns", ",", true},
	} {
		t.Run(tc.param+"="+tc.value, func(t *testing.T) {
			_, err := render(readRawTemplate(t), validParams(tc.param+"="+tc.value), renderOptions{})
			if got := err == nil; got != tc.ok {
				t.Errorf("%s=%q: err = %v; want ok: %v", tc.param, tc.value, err, tc.ok)
			}
		})
	}
}

// deployCommand is an "aws cloudformation deploy" command from the
// template's header comment.
type deployCommand struct {
	templateFile string
	capabilities []string
	overrides    map[string]string
}

// headerDeployCommands returns the deploy commands in the comment at the
// top of the template.
func headerDeployCommands(tb testing.TB) []deployCommand {
	tb.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		tb.Fatal(err)
	}
	var cmds []deployCommand
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break // end of the header comment
		}
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if strings.HasPrefix(text, "aws cloudformation deploy") {
			cur = []string{}
		}
		if cur == nil {
			continue
		}
		cur = append(cur, strings.TrimSuffix(text, `\`))
		if !strings.HasSuffix(text, `\`) {
			cmds = append(cmds, parseDeploy(tb, strings.Fields(strings.Join(cur, " "))))
			cur = nil
		}
	}
	return cmds
}

func parseDeploy(tb testing.TB, args []string) deployCommand {
	tb.Helper()
	c := deployCommand{overrides: map[string]string{}}
	flag := ""
	for _, a := range args[3:] {
		if strings.HasPrefix(a, "--") {
			flag = a
			continue
		}
		switch flag {
		case "--template-file":
			c.templateFile = a
		case "--capabilities":
			c.capabilities = append(c.capabilities, a)
		case "--parameter-overrides":
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				tb.Errorf("parameter override %q is not Key=Value", a)
			}
			if _, dup := c.overrides[k]; dup {
				tb.Errorf("parameter %s given twice", k)
			}
			c.overrides[k] = v
		}
	}
	return c
}

func TestHeaderDeployCommands(t *testing.T) {
	cmds := headerDeployCommands(t)
	if len(cmds) < 2 {
		t.Fatalf("found %d deploy commands in the header; want one for an existing bot principal and one with CreateBotRole=true", len(cmds))
	}
	raw := readRawTemplate(t)
	params := mapOf(raw["Parameters"])
	modes := map[string]bool{}
	for i, c := range cmds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			// The command runs from the repository root.
			a, err := os.Stat(filepath.Join("..", "..", filepath.FromSlash(c.templateFile)))
			if err != nil {
				t.Fatalf("--template-file %q: %v", c.templateFile, err)
			}
			b, err := os.Stat(templatePath)
			if err != nil || !os.SameFile(a, b) {
				t.Errorf("--template-file %q is not this template", c.templateFile)
			}
			// Unnamed IAM resources need CAPABILITY_IAM.
			if !slices.Contains(c.capabilities, "CAPABILITY_IAM") {
				t.Errorf("--capabilities %q; want CAPABILITY_IAM", c.capabilities)
			}
			for k := range c.overrides {
				if _, ok := params[k]; !ok {
					t.Errorf("the command sets %s, which the template does not declare", k)
				}
			}
			for name, p := range params {
				if _, hasDefault := mapOf(p)["Default"]; !hasDefault {
					if _, ok := c.overrides[name]; !ok {
						t.Errorf("the command omits required parameter %s", name)
					}
				}
			}
			if _, err := render(raw, c.overrides, renderOptions{}); err != nil {
				t.Errorf("the command's parameters do not deploy: %v", err)
			}
			modes[c.overrides["CreateBotRole"]] = true
			if c.overrides["KmsKeyArns"] != "" {
				modes["kms"] = true
			}
		})
	}
	if !modes["true"] {
		t.Error("no header command uses CreateBotRole=true")
	}
	if !modes["kms"] {
		t.Error("no header command shows KmsKeyArns")
	}

	// Every describe-stacks query names an output that exists, and the
	// header shows how to get the role ARN and the bot's policy.
	data, _ := os.ReadFile(templatePath)
	queried := map[string]bool{}
	for _, m := range regexp.MustCompile(`OutputKey=='(\w+)'`).FindAllSubmatch(data, -1) {
		name := string(m[1])
		queried[name] = true
		if _, ok := mapOf(raw["Outputs"])[name]; !ok {
			t.Errorf("header queries output %s, which the template does not declare", name)
		}
	}
	for _, name := range []string{"CollaboratorRoleArn", "BotPolicyArn"} {
		if !queried[name] {
			t.Errorf("header has no describe-stacks query for %s", name)
		}
	}
	if !regexp.MustCompile(`aws iam attach-role-policy --role-name \S+ --policy-arn`).Match(data) {
		t.Error("header does not show how to attach BotPolicyArn to an existing role")
	}
}

// TestRenderCatchesErrors checks the renderer itself on small templates,
// so that the tests above cannot pass because it accepts anything.
func TestRenderCatchesErrors(t *testing.T) {
	base := map[string]any{
		"Parameters": map[string]any{"L": map[string]any{"Type": "CommaDelimitedList", "Default": "a,b"}},
		"Conditions": map[string]any{"No": map[string]any{"Fn::Equals": []any{"x", "y"}}},
	}
	for _, tc := range []struct {
		name  string
		value any
		want  string // error substring; "" means no error
	}{
		{"SelectOutOfRange", map[string]any{"Fn::Select": []any{"2", map[string]any{"Ref": "L"}}}, "nonexistent value"},
		{"SelectHiddenByIf", map[string]any{"Fn::If": []any{"No", map[string]any{"Fn::Select": []any{"5", map[string]any{"Ref": "L"}}}, "ok"}}, "nonexistent value"},
		{"JoinDelimiterFunction", map[string]any{"Fn::Join": []any{map[string]any{"Ref": "AWS::Partition"}, []any{"a"}}}, "literal"},
		{"SubUnknown", map[string]any{"Fn::Sub": "${Nope}"}, "unknown"},
		{"RefToAbsentResource", map[string]any{"Fn::GetAtt": []any{"Cond", "Arn"}}, "not created"},
		{"NoValueRemoved", []any{"a", map[string]any{"Fn::If": []any{"No", "b", map[string]any{"Ref": "AWS::NoValue"}}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{
				"Parameters": base["Parameters"],
				"Conditions": base["Conditions"],
				"Resources": map[string]any{
					"Cond": map[string]any{"Type": "AWS::IAM::Role", "Condition": "No", "Properties": map[string]any{"AssumeRolePolicyDocument": map[string]any{}}},
				},
				"Outputs": map[string]any{"O": map[string]any{"Value": tc.value}},
			}
			r, err := render(raw, nil, renderOptions{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(r.Outputs["O"].Value); got != "[a]" {
					t.Errorf("value = %s; want [a]", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRenderRuleFunctions checks the rule functions the template's Rules
// use, on a small template.
func TestRenderRuleFunctions(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		assert      map[string]any
		ok          bool
	}{
		{"ContainsYes", "a,b", map[string]any{"Fn::Contains": []any{map[string]any{"Ref": "L"}, "b"}}, true},
		{"ContainsNo", "a,b", map[string]any{"Fn::Contains": []any{map[string]any{"Ref": "L"}, "c"}}, false},
		{"ContainsLiteralList", "a", map[string]any{"Fn::Contains": []any{[]any{"x", "a"}, map[string]any{"Ref": "S"}}}, true},
		{"EachMemberEqualsYes", "a,a", map[string]any{"Fn::EachMemberEquals": []any{map[string]any{"Ref": "L"}, "a"}}, true},
		{"EachMemberEqualsNo", "a,b", map[string]any{"Fn::EachMemberEquals": []any{map[string]any{"Ref": "L"}, "a"}}, false},
		{"EachMemberEqualsEmpty", "", map[string]any{"Fn::EachMemberEquals": []any{map[string]any{"Ref": "L"}, ""}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{
				"Parameters": map[string]any{
					"L": map[string]any{"Type": "CommaDelimitedList"},
					"S": map[string]any{"Type": "String", "Default": "a"},
				},
				"Rules":     map[string]any{"R": map[string]any{"Assertions": []any{map[string]any{"Assert": tc.assert, "AssertDescription": "failed"}}}},
				"Resources": map[string]any{},
			}
			_, err := render(raw, map[string]string{"L": tc.value}, renderOptions{})
			if got := err == nil; got != tc.ok {
				t.Errorf("err = %v; want ok: %v", err, tc.ok)
			}
		})
	}
}

// ---- Rendering: parameters, conditions and intrinsic functions ----

// templatePath is the template under test, relative to this package.
const templatePath = "share-bucket.yaml"

// Why the tests render the template themselves instead of trusting
// goformation's intrinsic processing (goformation v7.14.9, intrinsics/*.go):
//   - Fn::If returns nil unless ProcessorOptions.EvaluateConditions is set,
//     and EvaluateConditions replaces every map that has a string
//     "Condition" key (any conditional resource or output) with a bool, so
//     the template no longer unmarshals.
//   - Fn::GetAtt always returns nil; Ref knows only a few pseudo parameters
//     (not AWS::Partition) and resolves parameters to their Default only.
//   - Fn::Split returns []string, which Fn::Select and Fn::Join ignore.
//   - Ref AWS::NoValue becomes null instead of removing the element.
// With plain goformation.Open, the trust policy's principals and every
// bucket slot after the first come back as null, and assertions on them
// would pass or fail for the wrong reason. So render below evaluates the
// intrinsics for concrete parameter values the way CloudFormation does,
// and goformation is used for what it does well: turning the YAML short
// tags into JSON and unmarshalling every resource into its generated Go
// type, rejecting unknown properties.

// testAccountID stands in for AWS::AccountId.
const testAccountID = "123456789012"

// noValue is what Ref AWS::NoValue evaluates to; render removes it from
// the lists and maps that hold it, as CloudFormation does.
type noValue struct{}

// renderOptions are the pseudo parameters a rendering uses.
type renderOptions struct {
	partition string // AWS::Partition; "aws" when empty
}

// rendered is the template as CloudFormation would deploy it for one set
// of parameter values, parsed by goformation.
type rendered struct {
	*cfn.Template
	params map[string]any // the parameter values after validation
}

// refValue and getAttValue are the placeholders render substitutes for
// resource references, whose real values exist only after deployment.
func refValue(logicalID string) string          { return "{Ref:" + logicalID + "}" }
func getAttValue(logicalID, attr string) string { return "{GetAtt:" + logicalID + "." + attr + "}" }

// readRawTemplate returns the template as generic JSON with goformation's
// short-tag conversion applied (!Sub becomes {"Fn::Sub": ...}) and no
// intrinsic evaluated.
func readRawTemplate(tb testing.TB) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		tb.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		tb.Fatalf("goformation cannot read %s: %v", templatePath, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		tb.Fatal(err)
	}
	return raw
}

// mustRender renders the template for params and fails the test on error.
func mustRender(tb testing.TB, params map[string]string) *rendered {
	tb.Helper()
	r, err := render(readRawTemplate(tb), params, renderOptions{})
	if err != nil {
		tb.Fatalf("render(%v): %v", params, err)
	}
	return r
}

// render evaluates the template for the given parameter values: it checks
// them against each parameter's Type, AllowedPattern, AllowedValues and
// Min/MaxValue, checks the Rules, drops resources and outputs whose
// Condition is false, evaluates every intrinsic function, and parses the
// result with goformation.
func render(raw map[string]any, params map[string]string, opts renderOptions) (*rendered, error) {
	if opts.partition == "" {
		opts.partition = "aws"
	}
	e := &evaluator{raw: raw, opts: opts, conds: map[string]bool{}, inProgress: map[string]bool{}}
	var err error
	if e.params, err = resolveParameters(mapOf(raw["Parameters"]), params); err != nil {
		return nil, err
	}
	if err := e.checkRules(); err != nil {
		return nil, err
	}

	out := map[string]any{
		"AWSTemplateFormatVersion": raw["AWSTemplateFormatVersion"],
		"Description":              raw["Description"],
		"Parameters":               raw["Parameters"],
	}
	for _, section := range []string{"Resources", "Outputs"} {
		entries := map[string]any{}
		for name, v := range mapOf(raw[section]) {
			if c, ok := mapOf(v)["Condition"].(string); ok {
				on, err := e.condition(c)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", section, name, err)
				}
				if !on {
					continue
				}
			}
			ev, err := e.eval(v)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", section, name, err)
			}
			entries[name] = ev
		}
		out[section] = entries
	}
	if err := checkReferences(out); err != nil {
		return nil, err
	}

	js, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	tpl, err := goformation.ParseJSONWithOptions(js, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("goformation: %w", err)
	}
	return &rendered{Template: tpl, params: e.params}, nil
}

// resolveParameters applies defaults and validates given values.
func resolveParameters(decl map[string]any, given map[string]string) (map[string]any, error) {
	for name := range given {
		if _, ok := decl[name]; !ok {
			return nil, fmt.Errorf("parameter %s is not declared", name)
		}
	}
	values := map[string]any{}
	for name, d := range decl {
		p := mapOf(d)
		v, ok := given[name]
		if !ok {
			def, hasDefault := p["Default"]
			if !hasDefault {
				return nil, fmt.Errorf("parameter %s is required", name)
			}
			v = fmt.Sprint(def)
		}
		if allowed, ok := p["AllowedValues"].([]any); ok {
			found := false
			for _, a := range allowed {
				found = found || fmt.Sprint(a) == v
			}
			if !found {
				return nil, fmt.Errorf("parameter %s: %q is not in AllowedValues %v", name, v, allowed)
			}
		}
		matches := func(s string) error {
			pat, ok := p["AllowedPattern"].(string)
			if !ok {
				return nil
			}
			if !regexp.MustCompile(`^(?:` + pat + `)$`).MatchString(s) {
				return fmt.Errorf("parameter %s: %q does not match AllowedPattern %s", name, s, pat)
			}
			return nil
		}
		switch typ := p["Type"]; typ {
		case "String":
			if err := matches(v); err != nil {
				return nil, err
			}
			values[name] = v
		case "CommaDelimitedList":
			var list []any
			for _, s := range strings.Split(v, ",") {
				if err := matches(s); err != nil {
					return nil, err
				}
				list = append(list, s)
			}
			values[name] = list
		case "Number":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %q is not a number", name, v)
			}
			if lo, ok := p["MinValue"].(float64); ok && f < lo {
				return nil, fmt.Errorf("parameter %s: %v is below MinValue %v", name, f, lo)
			}
			if hi, ok := p["MaxValue"].(float64); ok && f > hi {
				return nil, fmt.Errorf("parameter %s: %v is above MaxValue %v", name, f, hi)
			}
			// CloudFormation hands a Number to resources as a string and
			// converts it for integer properties; goformation's generated
			// types want the JSON number.
			values[name] = f
		default:
			return nil, fmt.Errorf("parameter %s: type %v not supported by this test", name, typ)
		}
	}
	return values, nil
}

// checkReferences fails when a rendered value refers to a resource that
// was not rendered (for example a GetAtt of a conditional resource outside
// an Fn::If on its condition): CloudFormation rejects such templates.
func checkReferences(out map[string]any) error {
	resources := mapOf(out["Resources"])
	re := regexp.MustCompile(`\{(?:Ref|GetAtt):([A-Za-z0-9]+)[.}]`)
	var err error
	walkStrings(out, func(s string) {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			if _, ok := resources[m[1]]; !ok && err == nil {
				err = fmt.Errorf("reference to resource %s, which is not created with these parameters", m[1])
			}
		}
	})
	return err
}

// evaluator evaluates CloudFormation intrinsic functions.
type evaluator struct {
	raw        map[string]any
	opts       renderOptions
	params     map[string]any
	conds      map[string]bool
	inProgress map[string]bool
}

func (e *evaluator) checkRules() error {
	for name, r := range mapOf(e.raw["Rules"]) {
		rule := mapOf(r)
		if rc, ok := rule["RuleCondition"]; ok {
			on, err := e.evalBool(rc)
			if err != nil {
				return fmt.Errorf("rule %s: %w", name, err)
			}
			if !on {
				continue
			}
		}
		for _, a := range listOf(rule["Assertions"]) {
			ok, err := e.evalBool(mapOf(a)["Assert"])
			if err != nil {
				return fmt.Errorf("rule %s: %w", name, err)
			}
			if !ok {
				return fmt.Errorf("rule %s: %v", name, mapOf(a)["AssertDescription"])
			}
		}
	}
	return nil
}

func (e *evaluator) condition(name string) (bool, error) {
	if v, ok := e.conds[name]; ok {
		return v, nil
	}
	expr, ok := mapOf(e.raw["Conditions"])[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not declared", name)
	}
	if e.inProgress[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	e.inProgress[name] = true
	v, err := e.evalBool(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.conds[name] = v
	return v, nil
}

func (e *evaluator) evalBool(v any) (bool, error) {
	r, err := e.eval(v)
	if err != nil {
		return false, err
	}
	b, ok := r.(bool)
	if !ok {
		return false, fmt.Errorf("%v is not a condition", r)
	}
	return b, nil
}

func (e *evaluator) evalString(v any) (string, error) {
	r, err := e.eval(v)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("%#v is not a string", r)
	}
	return s, nil
}

func (e *evaluator) evalList(v any) ([]any, error) {
	r, err := e.eval(v)
	if err != nil {
		return nil, err
	}
	l, ok := r.([]any)
	if !ok {
		return nil, fmt.Errorf("%#v is not a list", r)
	}
	return l, nil
}

// eval evaluates v. Inside a list or map, elements that evaluate to
// AWS::NoValue are removed.
func (e *evaluator) eval(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return e.intrinsic(k, arg)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			r, err := e.eval(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, ok := r.(noValue); !ok {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := []any{}
		for _, x := range v {
			r, err := e.eval(x)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out = append(out, r)
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (e *evaluator) intrinsic(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	wantArgs := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d arguments, got %#v", fn, n, arg)
		}
		return nil
	}
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref of %#v", arg)
		}
		return e.ref(name)
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Condition of %#v", arg)
		}
		return e.condition(name)
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			parts = strings.SplitN(a, ".", 2)
		case []any:
			for _, p := range a {
				s, _ := p.(string)
				parts = append(parts, s)
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt of %#v", arg)
		}
		return e.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Join":
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join delimiter must be a literal string, got %#v", args[0])
		}
		list, err := e.evalList(args[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		parts := make([]string, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Join element %#v is not a string", x)
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	case "Fn::Split":
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split delimiter must be a literal string, got %#v", args[0])
		}
		s, err := e.evalString(args[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Split: %w", err)
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		idx, err := e.eval(args[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(fmt.Sprint(idx))
		if err != nil {
			return nil, fmt.Errorf("Fn::Select index %#v", idx)
		}
		list, err := e.evalList(args[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: %w", err)
		}
		if i < 0 || i >= len(list) {
			// CloudFormation: "Fn::Select cannot select nonexistent value at index i".
			return nil, fmt.Errorf("Fn::Select cannot select nonexistent value at index %d of %v", i, list)
		}
		return list[i], nil
	case "Fn::If":
		if err := wantArgs(3); err != nil {
			return nil, err
		}
		name, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::If condition %#v", args[0])
		}
		on, err := e.condition(name)
		if err != nil {
			return nil, err
		}
		// Both branches are evaluated, so that an expression that would
		// fail (an out-of-range Fn::Select) fails the test even where a
		// condition hides it for these parameter values.
		yes, err := e.eval(args[1])
		if err != nil {
			return nil, err
		}
		no, err := e.eval(args[2])
		if err != nil {
			return nil, err
		}
		if on {
			return yes, nil
		}
		return no, nil
	case "Fn::Contains", "Fn::EachMemberEquals":
		// Rule functions: [list_of_strings, string].
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		list, err := e.evalList(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		s, err := e.evalString(args[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		n := 0
		for _, x := range list {
			if x == s {
				n++
			}
		}
		if fn == "Fn::Contains" {
			return n > 0, nil
		}
		return n == len(list), nil
	case "Fn::Equals":
		if err := wantArgs(2); err != nil {
			return nil, err
		}
		a, err := e.eval(args[0])
		if err != nil {
			return nil, err
		}
		b, err := e.eval(args[1])
		if err != nil {
			return nil, err
		}
		return reflect.DeepEqual(a, b), nil
	case "Fn::Not":
		if err := wantArgs(1); err != nil {
			return nil, err
		}
		b, err := e.evalBool(args[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 || len(args) > 10 {
			return nil, fmt.Errorf("%s takes 2 to 10 conditions, got %d", fn, len(args))
		}
		result := fn == "Fn::And"
		for _, a := range args {
			b, err := e.evalBool(a)
			if err != nil {
				return nil, err
			}
			if fn == "Fn::And" {
				result = result && b
			} else {
				result = result || b
			}
		}
		return result, nil
	}
	return nil, fmt.Errorf("intrinsic %s is not supported by this test", fn)
}

func (e *evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::Partition":
		return e.opts.partition, nil
	case "AWS::URLSuffix":
		if e.opts.partition == "aws-cn" {
			return "amazonaws.com.cn", nil
		}
		return "amazonaws.com", nil
	case "AWS::AccountId":
		return testAccountID, nil
	case "AWS::Region":
		return "us-east-1", nil
	case "AWS::StackName":
		return "share-bucket", nil
	}
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	if _, ok := mapOf(e.raw["Resources"])[name]; ok {
		return refValue(name), nil
	}
	return nil, fmt.Errorf("Ref to unknown %s", name)
}

func (e *evaluator) getAtt(resource, attr string) (any, error) {
	if _, ok := mapOf(e.raw["Resources"])[resource]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt of unknown resource %s", resource)
	}
	return getAttValue(resource, attr), nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (e *evaluator) sub(arg any) (any, error) {
	var (
		tmpl string
		vars = map[string]string{}
	)
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub of %#v", arg)
		}
		s, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub template must be a literal string, got %#v", a[0])
		}
		tmpl = s
		for k, v := range mapOf(a[1]) {
			s, err := e.evalString(v)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			vars[k] = s
		}
	default:
		return nil, fmt.Errorf("Fn::Sub of %#v", arg)
	}
	var subErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var (
			v   any
			err error
		)
		if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = e.getAtt(res, attr)
		} else {
			v, err = e.ref(name)
		}
		if err != nil {
			subErr = errors.Join(subErr, err)
			return m
		}
		s, ok := v.(string)
		if !ok {
			subErr = errors.Join(subErr, fmt.Errorf("Fn::Sub: ${%s} is %#v, not a string", name, v))
			return m
		}
		return s
	})
	return out, subErr
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// walkStrings calls fn for every string in v.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case map[string]any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	case []any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	}
}

// A statement is one IAM policy statement, normalised: single strings
// become one-element lists. decodeStatements rejects any other element
// (NotAction, NotResource, NotPrincipal), so no test can overlook one.
type statement struct {
	Sid       string
	Effect    string
	Principal map[string][]string
	Action    []string
	Resource  []string
	Condition map[string]map[string][]string
}

// decodeStatements returns the statements of a policy document.
func decodeStatements(tb testing.TB, doc any) []statement {
	tb.Helper()
	js, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	var d struct {
		Version   string
		Statement json.RawMessage
	}
	strict(tb, js, &d)
	if d.Version != "2012-10-17" {
		tb.Errorf("policy Version = %q; want 2012-10-17", d.Version)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(d.Statement, &raws); err != nil {
		raws = []json.RawMessage{d.Statement}
	}
	var out []statement
	for _, r := range raws {
		var s struct {
			Sid       string
			Effect    string
			Principal any
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}
		strict(tb, r, &s)
		st := statement{Sid: s.Sid, Effect: s.Effect, Action: strs(tb, s.Action), Resource: strs(tb, s.Resource)}
		switch p := s.Principal.(type) {
		case nil:
		case map[string]any:
			st.Principal = map[string][]string{}
			for k, v := range p {
				st.Principal[k] = strs(tb, v)
			}
		default:
			tb.Errorf("statement %q: Principal %#v; want a map such as {AWS: ...}", s.Sid, p)
		}
		if s.Condition != nil {
			st.Condition = map[string]map[string][]string{}
			for op, kv := range s.Condition {
				st.Condition[op] = map[string][]string{}
				for k, v := range kv {
					st.Condition[op][k] = strs(tb, v)
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func strict(tb testing.TB, js []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("policy %s: %v", js, err)
	}
}

// strs turns a string or a list of strings into a list.
func strs(tb testing.TB, v any) []string {
	tb.Helper()
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				tb.Errorf("%#v is not a string", x)
			}
			out[i] = s
		}
		return out
	}
	tb.Errorf("%#v is neither a string nor a list of strings", v)
	return nil
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
