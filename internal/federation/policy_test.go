package federation

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSessionPolicyGolden(t *testing.T) {
	type golden struct {
		name      string
		partition string
		scope     approval.Scope
		keys      []KMSKey
	}
	tests := []golden{
		{"read", "aws", approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead}, nil},
		{"write", "aws", approval.Scope{Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite}, nil},
		{"bucket", "aws", approval.Scope{Bucket: "collab-bucket", Prefix: "", Access: approval.AccessWrite}, nil},
		{"aws-cn", "aws-cn", approval.Scope{Bucket: "collab-bucket", Prefix: "team/data/", Access: approval.AccessRead}, nil},
		{"aws-us-gov", "aws-us-gov", approval.Scope{Bucket: "collab-bucket", Prefix: "team/data/", Access: approval.AccessWrite}, nil},
		{"read-kms", "aws", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessRead}, testKeys(t, "aws")},
		{"write-kms", "aws", approval.Scope{Kind: approval.KindFolder, Bucket: "collab-bucket", Prefix: "myfolder/", Access: approval.AccessWrite}, testKeys(t, "aws")},
	}
	// One object, get and put, with and without KMS keys, in each
	// partition: object-get-aws.json, object-put-kms-aws-cn.json, ….
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov"} {
		for _, kind := range []approval.Kind{approval.KindGet, approval.KindPut} {
			scope := approval.Scope{Kind: kind, Bucket: "collab-bucket", Key: "myfolder/q3-report_(final).pdf", Access: kind.Access()}
			tests = append(tests,
				golden{"object-" + string(kind) + "-" + partition, partition, scope, nil},
				golden{"object-" + string(kind) + "-kms-" + partition, partition, scope, testKeys(t, partition)})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SessionPolicy(tt.partition, tt.scope, tt.keys...)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("policy is not valid JSON: %s", got)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(got)); err != nil || compact.String() != got {
				t.Errorf("policy is not minified: %s", got)
			}
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != strings.TrimSpace(string(want)) {
				t.Errorf("SessionPolicy = %s\nwant (%s) %s", got, path, want)
			}
		})
	}
}

// TestSessionPolicyShape checks the meaning of the policy, not its bytes.
func TestSessionPolicyShape(t *testing.T) {
	p, err := SessionPolicy("aws-us-gov", approval.Scope{Bucket: "b-1", Prefix: "a/b/", Access: approval.AccessRead})
	if err != nil {
		t.Fatal(err)
	}
	var doc policyDoc
	if err := json.Unmarshal([]byte(p), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("Version = %q", doc.Version)
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: Effect = %q; want Allow", st.Sid, st.Effect)
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") || !strings.HasPrefix(a, "s3:") {
				t.Errorf("statement %s: action %q is a wildcard or not S3", st.Sid, a)
			}
		}
		for _, r := range st.Resource {
			switch {
			case r == "*":
				if len(st.Action) != 1 || st.Action[0] != "s3:ListAllMyBuckets" {
					t.Errorf("statement %s: Resource * with %v; only s3:ListAllMyBuckets may have it", st.Sid, st.Action)
				}
			case r == "arn:aws-us-gov:s3:::b-1", r == "arn:aws-us-gov:s3:::b-1/a/b/*":
			default:
				t.Errorf("statement %s: unexpected resource %q", st.Sid, r)
			}
		}
		if st.Sid == "ListFolder" {
			got := st.Condition["StringLike"]["s3:prefix"]
			if len(got) != 2 || got[0] != "a/b/" || got[1] != "a/b/*" {
				t.Errorf("ListBucket s3:prefix = %v; want [a/b/ a/b/*]", got)
			}
		}
	}
}

func TestSessionPolicyErrors(t *testing.T) {
	tests := []struct {
		name      string
		partition string
		scope     approval.Scope
		wantErr   string
	}{
		{"UnknownPartition", "aws-iso", approval.Scope{Bucket: "b-1", Access: approval.AccessRead}, "partition"},
		{"EmptyPartition", "", approval.Scope{Bucket: "b-1", Access: approval.AccessRead}, "partition"},
		{"BadBucket", "aws", approval.Scope{Bucket: "B*", Access: approval.AccessRead}, "bucket"},
		{"Wildcard", "aws", approval.Scope{Bucket: "b-1", Prefix: "a*/", Access: approval.AccessRead}, "wildcard"},
		{"PolicyVariable", "aws", approval.Scope{Bucket: "b-1", Prefix: "${aws:username}/", Access: approval.AccessRead}, "$"},
		{"NoSlash", "aws", approval.Scope{Bucket: "b-1", Prefix: "a", Access: approval.AccessRead}, "ends with /"},
		{"DotDot", "aws", approval.Scope{Bucket: "b-1", Prefix: "a/../", Access: approval.AccessRead}, ".."},
		{"Access", "aws", approval.Scope{Bucket: "b-1", Prefix: "a/", Access: "admin"}, "access"},
		{"PrefixTooLong", "aws", approval.Scope{Bucket: "b-1", Prefix: strings.Repeat("abcdefghij/", 24), Access: approval.AccessWrite}, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := SessionPolicy(tt.partition, tt.scope)
			if err == nil {
				t.Fatalf("SessionPolicy = %s; want an error", p)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SessionPolicy error = %v; want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestSessionPolicyLongest checks that the longest scope the domain allows
// still fits in STS's limit, and that the limit is enforced.
func TestSessionPolicyLongest(t *testing.T) {
	prefix := strings.Repeat("x", approval.MaxPrefixLen-1) + "/"
	p, err := SessionPolicy("aws-us-gov", approval.Scope{Bucket: strings.Repeat("b", 63), Prefix: prefix, Access: approval.AccessWrite})
	if err != nil {
		t.Fatalf("longest scope: %v", err)
	}
	if len(p) > MaxPolicyLen {
		t.Fatalf("policy is %d characters; limit %d", len(p), MaxPolicyLen)
	}
	t.Logf("longest policy: %d of %d characters", len(p), MaxPolicyLen)

	if err := checkPolicyLen(strings.Repeat("x", MaxPolicyLen)); err != nil {
		t.Errorf("checkPolicyLen(%d characters) = %v; want nil", MaxPolicyLen, err)
	}
	if err := checkPolicyLen(strings.Repeat("x", MaxPolicyLen+1)); err == nil {
		t.Errorf("checkPolicyLen(%d characters) = nil; want an error", MaxPolicyLen+1)
	}
}

func TestDenyAllPolicy(t *testing.T) {
	var doc policyDoc
	if err := json.Unmarshal([]byte(denyAllPolicy), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 1 || doc.Statement[0].Effect != "Deny" {
		t.Fatalf("denyAllPolicy = %s; want one Deny statement", denyAllPolicy)
	}
}
