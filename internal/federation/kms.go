package federation

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/share-bucket/share-bucket/internal/config"
)

// A KMSKey is one entry of KMS_KEY_ARNS: an AWS KMS key that encrypts
// objects of the shared buckets (SSE-KMS), named by its key ARN or by an
// alias ARN. A grant may use it only through S3.
type KMSKey struct {
	ARN       string // as configured
	Partition string // aws, aws-cn or aws-us-gov
	Region    string
	Account   string
	// Alias is "alias/NAME" for an alias ARN, "" for a key ARN.
	Alias string
}

// A KMS key ID is a UUID, or mrk- and 32 hex digits for a multi-Region
// key; an alias name is alias/ and up to 250 more of letters, digits and
// / _ - (the KMS API's AliasName pattern, 256 characters in all).
var (
	kmsKeyID     = regexp.MustCompile(`^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	kmsAliasName = regexp.MustCompile(`^alias/[A-Za-z0-9/_-]{1,250}$`)
	awsRegion    = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$`)
	awsAccount   = regexp.MustCompile(`^[0-9]{12}$`)
)

// ParseKMSKey reads a KMS key ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID) or alias ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME). The region must be shaped
// like an AWS region and belong to the partition (cn- regions to aws-cn,
// us-gov- regions to aws-us-gov). Errors say what is wrong in words that
// may be shown to an operator.
func ParseKMSKey(s string) (KMSKey, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return KMSKey{}, fmt.Errorf("%q is not a KMS key ARN; write arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (or …:alias/NAME)", s)
	}
	k := KMSKey{ARN: s, Partition: parts[1], Region: parts[3], Account: parts[4]}
	if _, _, ok := Endpoints(k.Partition); !ok {
		return KMSKey{}, fmt.Errorf("%q: partition %q is not aws, aws-cn or aws-us-gov", s, k.Partition)
	}
	if !awsRegion.MatchString(k.Region) {
		return KMSKey{}, fmt.Errorf("%q: %q is not an AWS region (like us-east-1)", s, k.Region)
	}
	if p := regionPartition(k.Region); p != k.Partition {
		return KMSKey{}, fmt.Errorf("%q: region %s belongs to the %s partition, not %s", s, k.Region, p, k.Partition)
	}
	if !awsAccount.MatchString(k.Account) {
		return KMSKey{}, fmt.Errorf("%q: the account %q is not 12 digits", s, k.Account)
	}
	switch res := parts[5]; {
	case strings.HasPrefix(res, "key/"):
		if !kmsKeyID.MatchString(strings.TrimPrefix(res, "key/")) {
			return KMSKey{}, fmt.Errorf("%q: after key/ comes the key ID, a UUID like 1234abcd-12ab-34cd-56ef-1234567890ab (or mrk-… for a multi-Region key), in lower case", s)
		}
	case strings.HasPrefix(res, "alias/"):
		if !kmsAliasName.MatchString(res) {
			return KMSKey{}, fmt.Errorf("%q: an alias name has letters, digits, / _ and - after alias/, at most 256 characters in all", s)
		}
		k.Alias = res
	default:
		return KMSKey{}, fmt.Errorf("%q names neither a key (key/KEY-ID) nor an alias (alias/NAME)", s)
	}
	return k, nil
}

// KMSKeys is KMS_KEY_ARNS: comma-separated key or alias ARNs.
type KMSKeys []KMSKey

// Decode implements envconfig.Decoder. Empty entries are skipped and
// repeated ones kept once.
func (ks *KMSKeys) Decode(s string) error {
	*ks = nil
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := ParseKMSKey(part)
		if err != nil {
			return config.BadValue("%s", err)
		}
		if !slices.ContainsFunc(*ks, func(o KMSKey) bool { return o.ARN == k.ARN }) {
			*ks = append(*ks, k)
		}
	}
	return nil
}

// String renders the keys as they are written in configuration.
func (ks KMSKeys) String() string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.ARN
	}
	return strings.Join(s, ",")
}

// s3ViaService is the kms:ViaService value of S3 in region: S3's endpoint
// host, s3.REGION.amazonaws.com, or s3.REGION.amazonaws.com.cn in China.
func s3ViaService(region string) string {
	if regionPartition(region) == "aws-cn" {
		return "s3." + region + ".amazonaws.com.cn"
	}
	return "s3." + region + ".amazonaws.com"
}
