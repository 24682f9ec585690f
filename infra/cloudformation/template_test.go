// Package cloudformation_test checks infra/cloudformation/share-bucket.yaml:
// it parses the template with goformation, renders it for concrete
// parameter values the way CloudFormation would, and asserts on the IAM
// policies that result.
package cloudformation_test

import (
	"encoding/json"
	"errors"
	"fmt"
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
// objects; bucketActions those it may perform on the buckets.
var (
	objectActions = []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}
	stsActions    = []string{"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}
)

func TestGoformationOpen(t *testing.T) {
	tpl, err := goformation.Open(templatePath)
	if err != nil {
		t.Fatalf("goformation.Open(%s): %v", templatePath, err)
	}
	want := map[string]string{
		"CollaboratorRole":   "AWS::IAM::Role",
		"BotRole":            "AWS::IAM::Role",
		"BotRolePolicy":      "AWS::IAM::RolePolicy",
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
			if tc.wantErr && !strings.Contains(err.Error(), "MaxSessionDurations") {
				t.Errorf("error %q does not name the unknown property", err)
			}
		})
	}
}

// TestNoWildcardActions looks at every Action in the template source, in
// every branch of every condition.
func TestNoWildcardActions(t *testing.T) {
	raw := readRawTemplate(t)
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "NotAction" || k == "NotResource" || k == "NotPrincipal" {
					t.Errorf("%s is used; write the allowed set explicitly", k)
				}
				if k == "Action" {
					walkStrings(x, func(s string) {
						n++
						if strings.ContainsAny(s, "*?") {
							t.Errorf("Action %q has a wildcard", s)
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
	walk(raw["Resources"])
	if n < 10 {
		t.Fatalf("found %d actions in the template; the walk is broken", n)
	}
}

func TestCollaboratorPolicy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		params    map[string]string
		partition string
		buckets   []string
		prefix    string
	}{
		{"OneBucket", validParams(), "", []string{"collab-bucket"}, "shared/"},
		{"TwoBuckets", validParams("BucketNames=collab-bucket,audit-exports"), "", []string{"collab-bucket", "audit-exports"}, "shared/"},
		{"FiveBucketsNestedPrefix", validParams("BucketNames=b-one,b-two,b.three,b-four,b-five", "Prefix=teams/finance q1/"), "", []string{"b-one", "b-two", "b.three", "b-four", "b-five"}, "teams/finance q1/"},
		{"WholeBuckets", validParams("BucketNames=collab-bucket,audit-exports,third-bucket", "Prefix="), "", []string{"collab-bucket", "audit-exports", "third-bucket"}, ""},
		{"GovCloud", validParams(), "aws-us-gov", []string{"collab-bucket"}, "shared/"},
		{"China", validParams("BucketNames=a-bucket,b-bucket"), "aws-cn", []string{"a-bucket", "b-bucket"}, "shared/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(readRawTemplate(t), tc.params, renderOptions{partition: tc.partition})
			if err != nil {
				t.Fatal(err)
			}
			partition := tc.partition
			if partition == "" {
				partition = "aws"
			}
			var bucketARNs, objectARNs []string
			for _, b := range tc.buckets {
				bucketARNs = append(bucketARNs, fmt.Sprintf("arn:%s:s3:::%s", partition, b))
				objectARNs = append(objectARNs, fmt.Sprintf("arn:%s:s3:::%s/%s*", partition, b, tc.prefix))
			}

			role, err := r.GetIAMRoleWithName("CollaboratorRole")
			if err != nil {
				t.Fatal(err)
			}
			if len(role.Policies) != 1 {
				t.Fatalf("CollaboratorRole has %d inline policies; want 1", len(role.Policies))
			}
			if len(role.ManagedPolicyArns) != 0 || role.PermissionsBoundary != nil {
				t.Errorf("CollaboratorRole has managed policies %v / boundary %v; want the inline policy only", role.ManagedPolicyArns, role.PermissionsBoundary)
			}
			stmts := decodeStatements(t, role.Policies[0].PolicyDocument)
			if len(stmts) != 4 {
				t.Errorf("got %d statements; want 4 (list, location, list buckets, objects)", len(stmts))
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
					if fmt.Sprint(s.Condition) != fmt.Sprint(want) {
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
				default:
					t.Errorf("statement %q has unexpected actions %q", s.Sid, s.Action)
				}
				for _, res := range s.Resource {
					if res == "*" && !slices.Equal(s.Action, []string{"s3:ListAllMyBuckets"}) {
						t.Errorf("statement %q: %q on resource \"*\"", s.Sid, s.Action)
					}
					if res != "*" && !strings.HasPrefix(res, "arn:"+partition+":s3:::") {
						t.Errorf("resource %q is not in partition %s", res, partition)
					}
				}
			}
			for _, a := range append(objectActions, "s3:ListBucket", "s3:GetBucketLocation", "s3:ListAllMyBuckets") {
				if !seen[a] {
					t.Errorf("action %s is not granted", a)
				}
			}
			if _, err := r.GetIAMRolePolicyWithName("TooManyBucketNames"); err == nil {
				t.Errorf("deployment guard TooManyBucketNames is present for %d buckets", len(tc.buckets))
			}
		})
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
			var actions []string
			assumeConditioned := false
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
				if slices.Contains(s.Action, "sts:AssumeRole") {
					if !slices.Contains(s.Action, "sts:SetSourceIdentity") {
						t.Errorf("sts:AssumeRole and sts:SetSourceIdentity are in different statements; the SourceIdentity condition must cover both")
					}
					want := fmt.Sprint(map[string]map[string][]string{"StringLike": {"sts:SourceIdentity": {r.params["SourceIdentityPattern"].(string)}}})
					if got := fmt.Sprint(s.Condition); got != want {
						t.Errorf("sts:AssumeRole condition = %s; want %s", got, want)
					} else {
						assumeConditioned = true
					}
				}
			}
			if got := sorted(actions); !slices.Equal(got, stsActions) {
				t.Errorf("trust policy actions %q; want exactly %q", got, stsActions)
			}
			if !assumeConditioned {
				t.Error("sts:AssumeRole does not require a SourceIdentity")
			}
		})
	}
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

func TestBotRole(t *testing.T) {
	t.Run("Created", func(t *testing.T) {
		r := mustRender(t, validParams("BotPrincipalArn=", "CreateBotRole=true"))
		role, err := r.GetIAMRoleWithName("BotRole")
		if err != nil {
			t.Fatal(err)
		}
		if len(role.Policies) != 0 || len(role.ManagedPolicyArns) != 0 {
			t.Errorf("BotRole has inline %d / managed %v policies; want its permissions in BotRolePolicy only", len(role.Policies), role.ManagedPolicyArns)
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

		pol, err := r.GetIAMRolePolicyWithName("BotRolePolicy")
		if err != nil {
			t.Fatal(err)
		}
		if pol.RoleName != refValue("BotRole") {
			t.Errorf("BotRolePolicy is attached to %q; want BotRole", pol.RoleName)
		}
		stmts := decodeStatements(t, pol.PolicyDocument)
		if len(stmts) != 1 {
			t.Fatalf("BotRolePolicy has %d statements; want 1", len(stmts))
		}
		s := stmts[0]
		if s.Effect != "Allow" || !slices.Equal(sorted(s.Action), stsActions) || s.Condition != nil {
			t.Errorf("BotRolePolicy grants %s %q (%v); want Allow %q", s.Effect, s.Action, s.Condition, stsActions)
		}
		if want := []string{getAttValue("CollaboratorRole", "Arn")}; !slices.Equal(s.Resource, want) {
			t.Errorf("BotRolePolicy resources %q; want %q", s.Resource, want)
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
		for name := range r.Resources {
			if name != "CollaboratorRole" {
				t.Errorf("resource %s is created with CreateBotRole=false", name)
			}
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
	o, ok := r.Outputs["CollaboratorRoleArn"]
	if !ok {
		t.Fatal("no CollaboratorRoleArn output")
	}
	if want := getAttValue("CollaboratorRole", "Arn"); o.Value != want {
		t.Errorf("CollaboratorRoleArn = %v; want %s", o.Value, want)
	}
	if o.Description == nil || !strings.Contains(*o.Description, "COLLABORATOR_ROLE_ARN") {
		t.Errorf("CollaboratorRoleArn description does not name COLLABORATOR_ROLE_ARN")
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
		})
	}
	if !modes["true"] {
		t.Error("no header command uses CreateBotRole=true")
	}

	// The describe-stacks query names an output that exists.
	data, _ := os.ReadFile(templatePath)
	m := regexp.MustCompile(`OutputKey=='(\w+)'`).FindSubmatch(data)
	if m == nil {
		t.Fatal("header has no describe-stacks query for the role ARN")
	}
	if _, ok := mapOf(raw["Outputs"])[string(m[1])]; !ok || string(m[1]) != "CollaboratorRoleArn" {
		t.Errorf("header queries output %s; want CollaboratorRoleArn", m[1])
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
