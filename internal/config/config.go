// Package config reads share-bucket's environment variables. Its Load
// processes each variable on its own with envconfig, so one run reports
// every missing or malformed variable, each with its hint, instead of
// stopping at the first; its value types (Duration, Count, Flag) decode
// themselves with errors that say what they want.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// Load fills spec, a pointer to a struct with envconfig tags (anonymous
// embedded structs are walked), from the environment. It returns every
// problem found, one *VarError per variable, joined; the value of a
// variable that cannot be read is never repeated, since it may be a
// secret, unless its decoder vouches for its words with a *ValueError.
func Load(spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: Load needs a pointer to a struct")
	}
	var errs []error
	load(v.Elem(), &errs)
	return errors.Join(errs...)
}

func load(v reflect.Value, errs *[]error) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			load(v.Field(i), errs)
			continue
		}
		key := f.Tag.Get("envconfig")
		if key == "" || !f.IsExported() {
			continue
		}
		// A struct of this one field: envconfig then applies its own
		// rules (defaults, required, decoders) to this variable alone.
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.Process("", one.Interface()); err != nil {
			*errs = append(*errs, variableError(key, f.Tag.Get("desc"), err))
			continue
		}
		v.Field(i).Set(one.Elem().Field(0))
	}
}

// variableError words what envconfig found wrong with variable key.
func variableError(key, desc string, err error) error {
	if pe, ok := errors.AsType[*envconfig.ParseError](err); ok {
		// A *ValueError explains itself; for anything else only the type
		// is named, since the error may quote the value.
		if ve, ok := errors.AsType[*ValueError](pe.Err); ok {
			return &VarError{Var: key, Msg: ve.Msg}
		}
		return &VarError{Var: key, Msg: "cannot be read as " + pe.TypeName}
	}
	if desc != "" {
		return &VarError{Var: key, Msg: "required: " + desc}
	}
	return &VarError{Var: key, Msg: "required"}
}

// ValueError is what a decoder returns to have its words shown to the
// operator as they are; they must not quote a secret.
type ValueError struct{ Msg string }

func (e *ValueError) Error() string { return e.Msg }

// BadValue returns a *ValueError.
func BadValue(format string, args ...any) error {
	return &ValueError{Msg: fmt.Sprintf(format, args...)}
}

// VarError is a problem with an environment variable, or with several
// that only make sense together.
type VarError struct {
	Var  string   // the variable to fix
	Also []string // other variables the problem depends on
	Msg  string
}

func (e *VarError) Error() string { return e.Var + ": " + e.Msg }

// Problem returns a *VarError about variable v.
func Problem(v, format string, args ...any) error {
	return &VarError{Var: v, Msg: fmt.Sprintf(format, args...)}
}

// Failed returns the variables that the *VarErrors in err (joined or
// single) are about.
func Failed(err error) map[string]bool {
	failed := map[string]bool{}
	for _, e := range flatten(err) {
		if ve, ok := errors.AsType[*VarError](e); ok {
			failed[ve.Var] = true
		}
	}
	return failed
}

// Without drops from err the problems that involve a variable of failed:
// once a variable cannot be read, checks that use its value only add
// noise.
func Without(err error, failed map[string]bool) error {
	var keep []error
	for _, e := range flatten(err) {
		if ve, ok := errors.AsType[*VarError](e); ok {
			if failed[ve.Var] || slices.ContainsFunc(ve.Also, func(v string) bool { return failed[v] }) {
				continue
			}
		}
		keep = append(keep, e)
	}
	return errors.Join(keep...)
}

// flatten lists the errors joined in err.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Duration is a duration written the users' way (15m, 2h, 1h30m, 1d, 20s,
// or 0; see approval.ParseDuration).
type Duration time.Duration

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(s string) error {
	v, err := approval.ParseDuration(s)
	if err != nil {
		return BadValue("%s is not a duration; write it like 15m, 2h, 1h30m or 1d", quote(s))
	}
	*d = Duration(v)
	return nil
}

// String renders d the users' way.
func (d Duration) String() string { return approval.FormatDuration(time.Duration(d)) }

// Count is a whole number of things, 0 or more.
type Count int

// Decode implements envconfig.Decoder.
func (c *Count) Decode(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return BadValue("%s is not a whole number (like 2)", quote(s))
	}
	*c = Count(n)
	return nil
}

// Flag is true or false (also yes/no, on/off, 1/0).
type Flag bool

// Decode implements envconfig.Decoder.
func (f *Flag) Decode(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		*f = true
	case "false", "no", "off", "0":
		*f = false
	default:
		return BadValue("%s is not true or false", quote(s))
	}
	return nil
}

// quote shows a short non-secret value in an error.
func quote(s string) string {
	const n = 40
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}
