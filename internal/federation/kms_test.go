package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/share-bucket/share-bucket/internal/approval"
	"github.com/share-bucket/share-bucket/internal/config"
)

// testKeyARNs are KMS_KEY_ARNS entries of each partition: keys by ARN (two
// in one region, to share a statement), and an alias.
var testKeyARNs = map[string][]string{
	"aws": {
		"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321",
		"arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
		"arn:aws:kms:us-east-1:123456789012:alias/collab-data",
	},
	"aws-cn": {
		"arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws-cn:kms:cn-north-1:123456789012:alias/collab-data",
	},
	"aws-us-gov": {
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/collab-data",
	},
}

func testKeys(tb testing.TB, partition string) []KMSKey {
	tb.Helper()
	var ks KMSKeys
	if err := ks.Decode(strings.Join(testKeyARNs[partition], ",")); err != nil {
		tb.Fatal(err)
	}
	return ks
}

func TestParseKMSKey(t *testing.T) {
	good := []struct {
		arn                               string
		partition, region, account, alias string
	}{
		{"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "aws", "us-east-1", "123456789012", ""},
		{"arn:aws:kms:ap-southeast-2:210987654321:key/mrk-1234abcd12ab34cd56ef1234567890ab", "aws", "ap-southeast-2", "210987654321", ""},
		{"arn:aws:kms:eu-west-1:123456789012:alias/collab-data", "aws", "eu-west-1", "123456789012", "alias/collab-data"},
		{"arn:aws:kms:eu-west-1:123456789012:alias/team/data_2026-q1", "aws", "eu-west-1", "123456789012", "alias/team/data_2026-q1"},
		{"arn:aws-cn:kms:cn-northwest-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "aws-cn", "cn-northwest-1", "123456789012", ""},
		{"arn:aws-us-gov:kms:us-gov-east-1:123456789012:alias/x", "aws-us-gov", "us-gov-east-1", "123456789012", "alias/x"},
	}
	for _, tt := range good {
		k, err := ParseKMSKey(tt.arn)
		want := KMSKey{ARN: tt.arn, Partition: tt.partition, Region: tt.region, Account: tt.account, Alias: tt.alias}
		if err != nil || k != want {
			t.Errorf("ParseKMSKey(%q) = %+v, %v; want %+v", tt.arn, k, err, want)
		}
	}
	bad := []struct{ arn, want string }{
		{"", "is not a KMS key ARN"},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", "is not a KMS key ARN"},
		{"alias/collab-data", "is not a KMS key ARN"},
		{"arn:aws:s3:::collab-bucket", "is not a KMS key ARN"},
		{"arn:aws:kms:us-east-1:123456789012", "is not a KMS key ARN"},
		{"arn:aws-iso:kms:us-iso-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "partition \"aws-iso\""},
		{"arn:aws:kms::123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "is not an AWS region"},
		{"arn:aws:kms:*:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "is not an AWS region"},
		{"arn:aws:kms:US-EAST-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "is not an AWS region"},
		{"arn:aws:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "belongs to the aws-cn partition, not aws"},
		{"arn:aws-us-gov:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "belongs to the aws partition, not aws-us-gov"},
		{"arn:aws:kms:us-east-1:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab", "not 12 digits"},
		{"arn:aws:kms:us-east-1:*:key/1234abcd-12ab-34cd-56ef-1234567890ab", "not 12 digits"},
		{"arn:aws:kms:us-east-1:123456789012:key/*", "key ID"},
		{"arn:aws:kms:us-east-1:123456789012:key/", "key ID"},
		{"arn:aws:kms:us-east-1:123456789012:key/1234ABCD-12AB-34CD-56EF-1234567890AB", "lower case"},
		{"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab/extra", "key ID"},
		{"arn:aws:kms:us-east-1:123456789012:alias/", "an alias name"},
		{"arn:aws:kms:us-east-1:123456789012:alias/*", "an alias name"},
		{"arn:aws:kms:us-east-1:123456789012:alias/a b", "an alias name"},
		{"arn:aws:kms:us-east-1:123456789012:alias/" + strings.Repeat("a", 251), "an alias name"},
		{"arn:aws:kms:us-east-1:123456789012:1234abcd-12ab-34cd-56ef-1234567890ab", "neither a key"},
	}
	for _, tt := range bad {
		if k, err := ParseKMSKey(tt.arn); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseKMSKey(%q) = %+v, %v; want an error saying %q", tt.arn, k, err, tt.want)
		}
	}
}

func TestKMSKeysDecode(t *testing.T) {
	a, b := testKeyARNs["aws"][0], testKeyARNs["aws"][3]
	var ks KMSKeys
	if err := ks.Decode(" " + a + ", ," + b + "," + a + ","); err != nil {
		t.Fatal(err)
	}
	if got, want := ks.String(), a+","+b; got != want {
		t.Errorf("decoded %q; want %q (trimmed, empty entries skipped, repeats kept once)", got, want)
	}
	if err := ks.Decode(""); err != nil || len(ks) != 0 {
		t.Errorf("Decode(\"\") = %v, %v; want no keys", ks, err)
	}
	err := ks.Decode(a + ",arn:aws:kms:us-east-1:123456789012:alias/collab data")
	var ve *config.ValueError
	if !errors.As(err, &ve) || !strings.Contains(ve.Msg, `"arn:aws:kms:us-east-1:123456789012:alias/collab data": an alias name`) {
		t.Errorf("Decode with a bad entry = %v; want a *config.ValueError naming the entry", err)
	}
}

// TestKMSStatements checks the meaning of the KMS statements: the actions
// of the access level, the keys given and no others, only through S3 in
// the key's region, and aliases matched by kms:ResourceAliases on the keys
// of their own region and account.
func TestKMSStatements(t *testing.T) {
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov"} {
		for _, kind := range []approval.Kind{approval.KindGet, approval.KindPut, approval.KindFolder} {
			access := kind.Access()
			scope := approval.Scope{Kind: kind, Bucket: "collab-bucket", Key: "myfolder/a.txt", Access: access}
			if kind == approval.KindFolder {
				access = approval.AccessRead
				scope = approval.Scope{Kind: kind, Bucket: "collab-bucket", Prefix: "myfolder/", Access: access}
			}
			t.Run(partition+"/"+string(kind), func(t *testing.T) {
				keys := testKeys(t, partition)
				p, err := SessionPolicy(partition, scope, keys...)
				if err != nil {
					t.Fatal(err)
				}
				var doc policyDoc
				if err := json.Unmarshal([]byte(p), &doc); err != nil {
					t.Fatal(err)
				}
				wantActions := []string{"kms:Decrypt"}
				if access == approval.AccessWrite {
					wantActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
				}
				suffix := ".amazonaws.com"
				if partition == "aws-cn" {
					suffix = ".amazonaws.com.cn"
				}
				covered := map[string]bool{}
				for _, st := range doc.Statement {
					if !strings.HasPrefix(st.Sid, "Kms") {
						for _, a := range st.Action {
							if strings.HasPrefix(a, "kms:") {
								t.Errorf("statement %s grants %s", st.Sid, a)
							}
						}
						continue
					}
					if !slices.Equal(st.Action, wantActions) || st.Effect != "Allow" {
						t.Errorf("statement %s: %s %v; want Allow %v", st.Sid, st.Effect, st.Action, wantActions)
					}
					via := st.Condition["StringEquals"]["kms:ViaService"]
					if len(via) != 1 || !strings.HasPrefix(via[0], "s3.") || !strings.HasSuffix(via[0], suffix) {
						t.Fatalf("statement %s: kms:ViaService = %v; want S3 of one region", st.Sid, via)
					}
					region := strings.TrimSuffix(strings.TrimPrefix(via[0], "s3."), suffix)
					aliases := st.Condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
					if len(st.Condition) != 1+min(1, len(aliases)) {
						t.Errorf("statement %s: conditions %v; want kms:ViaService, and kms:ResourceAliases for aliases", st.Sid, st.Condition)
					}
					for _, res := range st.Resource {
						switch {
						case len(aliases) > 0:
							want := "arn:" + partition + ":kms:" + region + ":123456789012:key/*"
							if res != want {
								t.Errorf("statement %s: resource %s; want %s for aliases", st.Sid, res, want)
							}
							for _, a := range aliases {
								covered["arn:"+partition+":kms:"+region+":123456789012:"+a] = true
							}
						case strings.Contains(res, ":alias/"):
							t.Errorf("statement %s: alias ARN %s in Resource grants nothing on the key", st.Sid, res)
						case !strings.HasPrefix(res, "arn:"+partition+":kms:"+region+":"):
							t.Errorf("statement %s: key %s is not in the region of its kms:ViaService %s", st.Sid, res, via[0])
						default:
							covered[res] = true
						}
					}
				}
				var want []string
				for _, k := range keys {
					want = append(want, k.ARN)
				}
				var got []string
				for arn := range covered {
					got = append(got, arn)
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("KMS statements cover %v; want exactly %v", got, want)
				}
			})
		}
	}
}

// TestKMSStatementsGrouping: keys of one region share a statement, and
// aliases of one region and account another; nothing else is merged.
func TestKMSStatementsGrouping(t *testing.T) {
	var ks KMSKeys
	if err := ks.Decode(strings.Join([]string{
		"arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-east-1:111111111111:alias/a",
		"arn:aws:kms:us-east-1:111111111111:alias/b",
		"arn:aws:kms:us-east-1:222222222222:alias/a",
	}, ",")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range kmsStatements("aws", approval.AccessRead, ks) {
		got = append(got, fmt.Sprintf("%s %v %v %v", st.Sid, st.Resource, st.Condition["StringEquals"]["kms:ViaService"], st.Condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"]))
	}
	want := []string{
		"Kms1 [arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab] [s3.us-east-1.amazonaws.com] []",
		"Kms2 [arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab] [s3.us-west-2.amazonaws.com] []",
		"Kms3 [arn:aws:kms:us-east-1:111111111111:key/*] [s3.us-east-1.amazonaws.com] [alias/a alias/b]",
		"Kms4 [arn:aws:kms:us-east-1:222222222222:key/*] [s3.us-east-1.amazonaws.com] [alias/a]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := kmsStatements("aws", approval.AccessRead, nil); len(st) != 0 {
		t.Errorf("statements without keys = %v; want none", st)
	}
}

// TestLargestPolicy: the largest grant's policy is the longest folder with
// write access; without KMS keys it fits in STS's limit in every
// partition, whatever the bucket; and LargestPolicy agrees with
// SessionPolicy on every longest scope.
func TestLargestPolicy(t *testing.T) {
	long := strings.Repeat("b", 63)
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov"} {
		for _, keys := range [][]KMSKey{nil, testKeys(t, partition)} {
			n, scope := LargestPolicy(partition, nil, keys)
			if scope.Kind != approval.KindFolder || scope.Bucket != long || len(scope.Prefix) != approval.MaxPrefixLen || scope.Access != approval.AccessWrite {
				t.Errorf("%s: largest scope is %+v; want write access to the longest folder in the longest bucket", partition, scope)
			}
			for _, s := range []approval.Scope{
				scope,
				{Kind: approval.KindPut, Bucket: long, Key: strings.Repeat("k", approval.MaxKeyLen), Access: approval.AccessWrite},
				{Kind: approval.KindGet, Bucket: long, Key: strings.Repeat("k", approval.MaxKeyLen), Access: approval.AccessRead},
			} {
				p, err := buildPolicy(partition, s, keys)
				if err != nil || len(p) > n || s == scope && len(p) != n {
					t.Errorf("%s, %d keys: %s policy is %d characters (%v); LargestPolicy said %d", partition, len(keys), s.Kind, len(p), err, n)
				}
				if len(keys) == 0 {
					if _, err := SessionPolicy(partition, s); err != nil {
						t.Errorf("%s: longest %s without KMS keys: %v", partition, s.Kind, err)
					}
				}
			}
			t.Logf("%s with %d KMS entries: largest session policy %d of %d characters", partition, len(keys), n, MaxPolicyLen)
		}
	}
	if n, _ := LargestPolicy("aws", []string{"abc", "collab-bucket"}, nil); n >= func() int { m, _ := LargestPolicy("aws", nil, nil); return m }() {
		t.Errorf("LargestPolicy with short buckets = %d; want less than with a 63-character bucket", n)
	}
}

// TestCheckPolicySize proves the largest case with KMS keys: keys are
// added until the longest grant's policy no longer fits, in each
// partition; up to there every longest grant can be issued, and past it
// the configuration is refused with the size and how many keys fit.
func TestCheckPolicySize(t *testing.T) {
	for _, tt := range []struct {
		partition, region string
		buckets           []string
		alias             bool
	}{
		{"aws", "us-east-1", []string{"collab-bucket"}, false},
		{"aws", "eu-west-1", []string{"collab-bucket", strings.Repeat("b", 63)}, true},
		{"aws-cn", "cn-north-1", []string{"collab-bucket"}, false},
		{"aws-us-gov", "us-gov-west-1", []string{strings.Repeat("g", 63)}, false},
		{"aws-us-gov", "us-gov-east-1", nil, true},
	} {
		name := fmt.Sprintf("%s/%d-buckets/alias=%v", tt.partition, len(tt.buckets), tt.alias)
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			cfg.RoleARN = "arn:" + tt.partition + ":iam::123456789012:role/collab"
			cfg.FederationURL, cfg.ConsoleURL, _ = Endpoints(tt.partition)
			var arns []string
			for i := range 20 {
				arn := fmt.Sprintf("arn:%s:kms:%s:123456789012:key/mrk-%032x", tt.partition, tt.region, i)
				if tt.alias {
					// Each alias in its own account: one statement each,
					// the most expensive way to list keys.
					arn = fmt.Sprintf("arn:%s:kms:%s:%012d:alias/collab-data-%d", tt.partition, tt.region, i, i)
				}
				arns = append(arns, arn)
			}
			fits := 0
			for n := 1; n <= len(arns); n++ {
				if err := cfg.KMSKeys.Decode(strings.Join(arns[:n], ",")); err != nil {
					t.Fatal(err)
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				err := cfg.CheckPolicySize(tt.buckets)
				if err == nil {
					fits = n
					// The largest case really is issuable.
					size, scope := LargestPolicy(tt.partition, tt.buckets, cfg.KMSKeys)
					if p, err := SessionPolicy(tt.partition, scope, cfg.KMSKeys...); err != nil || len(p) != size {
						t.Fatalf("%d keys fit, but the largest grant's policy is %d characters, %v", n, len(p), err)
					}
					continue
				}
				size, scope := LargestPolicy(tt.partition, tt.buckets, cfg.KMSKeys)
				want := fmt.Sprintf("KMS_KEY_ARNS: with these %d keys the largest session policy a grant can need (write access to a folder of 256 characters in bucket %s) would be %d characters, and STS allows 2048: list at most %d of them",
					n, scope.Bucket, size, fits)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("CheckPolicySize with %d keys = %v; want %q", n, err, want)
				}
				if _, err := SessionPolicy(tt.partition, scope, cfg.KMSKeys...); err == nil {
					t.Errorf("CheckPolicySize refused %d keys, but the largest grant's policy fits", n)
				}
				var ve *config.VarError
				if !errors.As(err, &ve) || !slices.Contains(ve.Also, "ALLOWED_BUCKETS") {
					t.Errorf("CheckPolicySize = %#v; want a problem that also names ALLOWED_BUCKETS", err)
				}
				break
			}
			if fits == 0 || fits == len(arns) {
				t.Errorf("%d KMS entries fit; want at least one and a limit below %d", fits, len(arns))
			}
			t.Logf("KMS entries that fit: %d", fits)
		})
	}
}

func TestConfigKMSKeys(t *testing.T) {
	tests := []struct {
		name, role, keys, want string
	}{
		{"None", "arn:aws:iam::123456789012:role/collab", "", ""},
		{"Keys", "arn:aws:iam::123456789012:role/collab", strings.Join(testKeyARNs["aws"], ","), ""},
		{"OtherAccount", "arn:aws:iam::123456789012:role/collab", "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab", ""},
		{"OtherPartition", "arn:aws:iam::123456789012:role/collab", testKeyARNs["aws-cn"][0],
			"KMS_KEY_ARNS: " + testKeyARNs["aws-cn"][0] + " is in the aws-cn partition but COLLABORATOR_ROLE_ARN is in aws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.RoleARN = tt.role
			if err := cfg.KMSKeys.Decode(tt.keys); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v; want %q", err, tt.want)
			}
			if tt.want != "" {
				var ve *config.VarError
				if !errors.As(err, &ve) || !slices.Contains(ve.Also, "COLLABORATOR_ROLE_ARN") {
					t.Errorf("Validate = %#v; want a problem that also names COLLABORATOR_ROLE_ARN", err)
				}
			}
		})
	}
}
