package cloudformation_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A requestContext is the request context of one IAM authorization: each
// condition key present in the request and its values.
type requestContext map[string][]string

// lookup returns the values of key. Condition key names are
// case-insensitive; their values are not.
func (c requestContext) lookup(key string) ([]string, bool) {
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// conditionMatches evaluates a statement's Condition block against ctx the
// way IAM does, for the operators this template uses: every operator must
// match, within an operator every key, and a key matches when any value in
// the request matches any value in the policy (IAM User Guide, "Condition
// element", "Condition operators", "Multivalued context keys"). A key
// missing from the request fails StringEquals and StringLike and passes
// ForAllValues; Null "true" means the key is missing. Any other operator is
// an error, so a test cannot pass by ignoring a condition.
func conditionMatches(cond map[string]map[string][]string, ctx requestContext) (bool, error) {
	for op, keys := range cond {
		for key, want := range keys {
			got, present := ctx.lookup(key)
			var ok bool
			switch op {
			case "StringEquals", "StringLike":
				ok = present && slices.ContainsFunc(got, func(g string) bool {
					return slices.ContainsFunc(want, func(w string) bool {
						if op == "StringEquals" {
							return g == w
						}
						return stringLike(w, g)
					})
				})
			case "ForAllValues:StringEquals":
				ok = !slices.ContainsFunc(got, func(g string) bool { return !slices.Contains(want, g) })
			case "Null":
				if len(want) != 1 || (want[0] != "true" && want[0] != "false") {
					return false, fmt.Errorf("Null %s: %q; want \"true\" or \"false\"", key, want)
				}
				ok = present == (want[0] == "false")
			default:
				return false, fmt.Errorf("condition operator %s is not supported by this test", op)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

// stringLike reports whether value matches pattern, where "*" matches any
// run of characters, "?" any one character, and the match is case
// sensitive and covers the whole value.
func stringLike(pattern, value string) bool {
	var re strings.Builder
	re.WriteString(`^`)
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString(`$`)
	return regexp.MustCompile(re.String()).MatchString(value)
}

func TestConditionMatches(t *testing.T) {
	type cond = map[string]map[string][]string
	for _, tc := range []struct {
		name    string
		cond    cond
		ctx     requestContext
		want    bool
		wantErr bool
	}{
		{"NoCondition", nil, requestContext{}, true, false},
		{"EqualsMissingKey", cond{"StringEquals": {"k": {"v"}}}, requestContext{}, false, false},
		{"EqualsAnyValue", cond{"StringEquals": {"k": {"a", "v"}}}, requestContext{"k": {"v"}}, true, false},
		{"EqualsCaseSensitive", cond{"StringEquals": {"k": {"V"}}}, requestContext{"k": {"v"}}, false, false},
		{"KeyNameCaseInsensitive", cond{"StringEquals": {"aws:RequestTag/Request-ID": {"v"}}}, requestContext{"aws:requesttag/request-id": {"v"}}, true, false},
		{"LikeStar", cond{"StringLike": {"k": {"slack-*"}}}, requestContext{"k": {"slack-U1"}}, true, false},
		{"LikeStarEmpty", cond{"StringLike": {"k": {"slack-*"}}}, requestContext{"k": {"slack-"}}, true, false},
		{"LikeWholeValue", cond{"StringLike": {"k": {"s3.*.amazonaws.com"}}}, requestContext{"k": {"s3.cn-north-1.amazonaws.com.cn"}}, false, false},
		{"LikeQuestionNeedsOne", cond{"StringLike": {"k": {"?*"}}}, requestContext{"k": {""}}, false, false},
		{"LikeQuestionOne", cond{"StringLike": {"k": {"?*"}}}, requestContext{"k": {"x"}}, true, false},
		{"LikeDotIsLiteral", cond{"StringLike": {"k": {"a.b"}}}, requestContext{"k": {"axb"}}, false, false},
		{"ForAllMissingKey", cond{"ForAllValues:StringEquals": {"k": {"a"}}}, requestContext{}, true, false},
		{"ForAllSubset", cond{"ForAllValues:StringEquals": {"k": {"a", "b"}}}, requestContext{"k": {"b"}}, true, false},
		{"ForAllExtra", cond{"ForAllValues:StringEquals": {"k": {"a", "b"}}}, requestContext{"k": {"b", "c"}}, false, false},
		{"NullTrueMissing", cond{"Null": {"k": {"true"}}}, requestContext{}, true, false},
		{"NullTruePresent", cond{"Null": {"k": {"true"}}}, requestContext{"k": {"v"}}, false, false},
		{"NullFalsePresent", cond{"Null": {"k": {"false"}}}, requestContext{"k": {"v"}}, true, false},
		{"AllOperatorsMustMatch", cond{"StringEquals": {"a": {"1"}}, "Null": {"b": {"false"}}}, requestContext{"a": {"1"}}, false, false},
		{"AllKeysMustMatch", cond{"StringEquals": {"a": {"1"}, "b": {"2"}}}, requestContext{"a": {"1"}, "b": {"3"}}, false, false},
		{"UnknownOperator", cond{"StringNotEquals": {"k": {"v"}}}, requestContext{}, false, true},
		{"BadNull", cond{"Null": {"k": {"yes"}}}, requestContext{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := conditionMatches(tc.cond, tc.ctx)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v; want error: %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("conditionMatches(%v, %v) = %v; want %v", tc.cond, tc.ctx, got, tc.want)
			}
		})
	}
}
