package cloudformation_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/federation"
)

// TestSessionPoliciesWithinRole checks the stack against the bot: every
// permission a session policy of internal/federation grants (a folder
// read or write, a get or put of one object, with the stack's KMS keys) is
// also granted by the collaborator role's permissions policy and by its
// boundary, with the conditions the request will carry. A session's rights
// are the intersection of the three, so nothing a grant needs, KMS
// included, is missing from the stack.
func TestSessionPoliciesWithinRole(t *testing.T) {
	for _, tc := range []struct {
		partition string
		keys      []string
	}{
		{"aws", awsKeys},
		{"aws-us-gov", govKeys},
		{"aws-cn", cnKeys},
	} {
		t.Run(tc.partition, func(t *testing.T) {
			renderPartition := tc.partition
			if renderPartition == "aws" {
				renderPartition = ""
			}
			r, err := render(readRawTemplate(t), validParams("KmsKeyArns="+strings.Join(tc.keys, ",")), renderOptions{partition: renderPartition})
			if err != nil {
				t.Fatal(err)
			}
			perm, _ := managedPolicyStatements(t, r, permissionsPolicy)
			boundary, _ := managedPolicyStatements(t, r, boundaryPolicy)
			var keys []federation.KMSKey
			for _, arn := range tc.keys {
				k, err := federation.ParseKMSKey(arn)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			for _, scope := range []approval.Scope{
				{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "shared/", Access: approval.AccessRead},
				{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "shared/reports/", Access: approval.AccessWrite},
				{Kind: approval.KindGet, Bucket: "collab-bucket", Key: "shared/report.pdf", Access: approval.AccessRead},
				{Kind: approval.KindPut, Bucket: "collab-bucket", Key: "shared/in/drop.zip", Access: approval.AccessWrite},
			} {
				p, err := federation.SessionPolicy(tc.partition, scope, keys...)
				if err != nil {
					t.Fatal(err)
				}
				var doc struct{ Statement []statement }
				if err := json.Unmarshal([]byte(p), &doc); err != nil {
					t.Fatal(err)
				}
				kms := 0
				for _, s := range doc.Statement {
					for _, action := range s.Action {
						for _, res := range s.Resource {
							ctx := sessionRequest(s, scope, res)
							if ok, err := conditionMatches(s.Condition, ctx); err != nil || !ok {
								t.Fatalf("%s: the request made for %s on %s does not meet the session's own condition %v (err %v)", scope, action, res, s.Condition, err)
							}
							probe := strings.TrimSuffix(res, "*") + strings.Repeat("x", strings.Count(res, "*"))
							if strings.HasPrefix(action, "kms:") {
								kms++
							}
							for name, stmts := range map[string][]statement{permissionsPolicy: perm, boundaryPolicy: boundary} {
								if !allowedBy(t, stmts, action, probe, ctx) {
									t.Errorf("%s %s: the session may %s on %s, but %s does not allow it", scope.Kind, scope, action, probe, name)
								}
							}
						}
					}
				}
				if kms == 0 {
					t.Errorf("%s: the session policy grants nothing on the KMS keys", scope)
				}
			}
		})
	}
}

// sessionRequest is the request context of a session using statement s
// of scope's policy on res: its request-id tag, the folder it lists, and
// S3 as the caller of KMS in the key's region.
func sessionRequest(s statement, scope approval.Scope, res string) requestContext {
	ctx := requestContext{"aws:PrincipalTag/request-id": {"ABCDEFGHIJ"}, "aws:PrincipalTag/approver": {"U0999ZZZZ"}}
	if scope.Prefix != "" {
		ctx["s3:prefix"] = []string{scope.Prefix}
	}
	if via := s.Condition["StringEquals"]["kms:ViaService"]; len(via) > 0 {
		ctx["kms:ViaService"] = via
	}
	return ctx
}

// allowedBy reports whether an Allow statement of stmts grants action on
// res for a request with ctx.
func allowedBy(t *testing.T, stmts []statement, action, res string, ctx requestContext) bool {
	t.Helper()
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		actionOK, resOK := false, false
		for _, a := range s.Action {
			actionOK = actionOK || stringLike(strings.ToLower(a), strings.ToLower(action))
		}
		for _, r := range s.Resource {
			resOK = resOK || stringLike(r, res)
		}
		if !actionOK || !resOK {
			continue
		}
		ok, err := conditionMatches(s.Condition, ctx)
		if err != nil {
			t.Fatalf("statement %s: %v", s.Sid, err)
		}
		if ok {
			return true
		}
	}
	return false
}
