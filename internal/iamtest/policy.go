package iamtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// checkPolicy checks an identity policy document the way PutRolePolicy
// does, in part, and returns "" or a MalformedPolicyDocument message.
//
// It checks what AWS documents: the characters a document may hold (IAM
// User Guide, "IAM name requirements": tab, line feed, carriage return and
// U+0020 to U+00FF), JSON syntax, Version 2012-10-17 or 2008-10-17, a
// Statement of one or more statements each with Effect Allow or Deny,
// exactly one of Action and NotAction, exactly one of Resource and
// NotResource, no Principal (identity policies have none), alphanumeric
// Sids, and condition blocks of known operators. It is stricter than AWS
// in one way: Date operators' values must be ISO 8601 dates (or epoch
// seconds), so a mis-rendered cut-off fails here rather than silently
// matching nothing.
func checkPolicy(doc string) string {
	for _, r := range doc {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xff) {
			return fmt.Sprintf("The policy contains the character %U, which IAM does not allow in policies.", r)
		}
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil || dec.More() {
		return "Syntax errors in policy."
	}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return "Syntax errors in policy."
		}
	}
	if v, ok := top["Version"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || (s != "2012-10-17" && s != "2008-10-17") {
			return "The policy must contain a valid version string"
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return "Syntax errors in policy."
	}
	var stmts []map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var one map[string]json.RawMessage
		if json.Unmarshal(raw, &one) != nil {
			return "Syntax errors in policy."
		}
		stmts = append(stmts, one)
	} else if json.Unmarshal(raw, &stmts) != nil || len(stmts) == 0 {
		return "Syntax errors in policy."
	}
	for _, st := range stmts {
		if msg := checkStatement(st); msg != "" {
			return msg
		}
	}
	return ""
}

var sidPattern = regexp.MustCompile(`^[0-9A-Za-z]*$`)

func checkStatement(st map[string]json.RawMessage) string {
	for k := range st {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "Principal", "NotPrincipal":
			return "Policy document should not specify a principal."
		default:
			return "Syntax errors in policy."
		}
	}
	if raw, ok := st["Sid"]; ok {
		var sid string
		if json.Unmarshal(raw, &sid) != nil || !sidPattern.MatchString(sid) {
			return "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
		}
	}
	var effect string
	if json.Unmarshal(st["Effect"], &effect) != nil || (effect != "Allow" && effect != "Deny") {
		return "Syntax errors in policy."
	}
	if msg := oneOf(st, "Action", "NotAction"); msg != "" {
		return msg
	}
	if msg := oneOf(st, "Resource", "NotResource"); msg != "" {
		return msg
	}
	if raw, ok := st["Condition"]; ok {
		return checkCondition(raw)
	}
	return ""
}

// oneOf checks that exactly one of a and b is present, as a string or a
// non-empty list of strings.
func oneOf(st map[string]json.RawMessage, a, b string) string {
	ra, okA := st[a]
	rb, okB := st[b]
	if okA == okB {
		return fmt.Sprintf("Policy statement must contain exactly one of %s and %s.", a, b)
	}
	raw := ra
	if okB {
		raw = rb
	}
	if _, ok := stringList(raw); !ok {
		return "Syntax errors in policy."
	}
	return ""
}

// stringList decodes a string or a non-empty list of strings.
func stringList(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many, true
	}
	return nil, false
}

// conditionOperators are the base names of IAM's condition operators (IAM
// User Guide, "IAM JSON policy elements: Condition operators"). Each may
// end in IfExists (except Null) and start with ForAllValues: or
// ForAnyValue:.
var conditionOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true,
	"StringNotEqualsIgnoreCase": true, "StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true,
	"NumericLessThanEquals": true, "NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true,
	"DateLessThanEquals": true, "DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "BinaryEquals": true, "IpAddress": true, "NotIpAddress": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
	"Null": true,
}

func checkCondition(raw json.RawMessage) string {
	var block map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &block) != nil {
		return "Syntax errors in policy."
	}
	for op, keys := range block {
		base := op
		for _, p := range []string{"ForAllValues:", "ForAnyValue:"} {
			base = strings.TrimPrefix(base, p)
		}
		if base != "Null" {
			base = strings.TrimSuffix(base, "IfExists")
		}
		if !conditionOperators[base] {
			return fmt.Sprintf("Invalid Condition type : %s.", op)
		}
		for key, v := range keys {
			vals, ok := conditionValues(v)
			if !ok || key == "" {
				return "Syntax errors in policy."
			}
			if strings.HasPrefix(base, "Date") {
				for _, d := range vals {
					if !isDate(d) {
						return fmt.Sprintf("The condition %s on %s has a value %q that is not a date.", op, key, d)
					}
				}
			}
		}
	}
	return ""
}

// conditionValues decodes a condition value: a string, number or boolean,
// or a non-empty list of them, as strings.
func conditionValues(raw json.RawMessage) ([]string, bool) {
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		many = []json.RawMessage{raw}
	} else if len(many) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(many))
	for _, m := range many {
		var s string
		if json.Unmarshal(m, &s) == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if json.Unmarshal(m, &n) == nil {
			out = append(out, n.String())
			continue
		}
		var b bool
		if json.Unmarshal(m, &b) == nil {
			out = append(out, strconv.FormatBool(b))
			continue
		}
		return nil, false
	}
	return out, true
}

// isDate accepts the date forms IAM's Date operators take: ISO 8601 date
// and time (as RFC 3339), an ISO 8601 date alone, or epoch seconds.
func isDate(s string) bool {
	if _, err := time.Parse(time.RFC3339, s); err == nil {
		return true
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return true
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
