package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/share-bucket/share-bucket/internal/config"
)

type inner struct {
	Token string `envconfig:"CT_TOKEN" required:"true" desc:"the secret token (xoxb-…)"`
}

type spec struct {
	inner
	Wait   config.Duration `envconfig:"CT_WAIT" default:"1d" desc:"how long"`
	Count  config.Count    `envconfig:"CT_COUNT" default:"1"`
	On     config.Flag     `envconfig:"CT_ON" default:"true"`
	Plain  int             `envconfig:"CT_PLAIN" default:"3"`
	Name   string          `envconfig:"CT_NAME"`
	Absent string          `envconfig:"CT_ABSENT" required:"true"`
	notEnv string
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Setenv("CT_WAIT", "soon")
	t.Setenv("CT_COUNT", "two")
	t.Setenv("CT_ON", "maybe")
	t.Setenv("CT_PLAIN", "SECRET-ish")
	t.Setenv("CT_NAME", "kept")
	var s spec
	err := config.Load(&s)
	if err == nil {
		t.Fatal("Load succeeded; want errors")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"CT_TOKEN: required: the secret token (xoxb-…)",
		`CT_WAIT: "soon" is not a duration; write it like 15m, 2h, 1h30m or 1d`,
		`CT_COUNT: "two" is not a whole number (like 2)`,
		`CT_ON: "maybe" is not true or false`,
		"CT_PLAIN: cannot be read as int",
		"CT_ABSENT: required",
	}
	if len(got) != len(want) {
		t.Fatalf("errors = %q; want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d = %q; want %q", i, got[i], want[i])
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error quotes a value it cannot vouch for: %q", err)
	}
	if s.Name != "kept" {
		t.Errorf("Name = %q; a readable variable must still be loaded when others fail", s.Name)
	}
}

func TestLoadDefaultsAndValues(t *testing.T) {
	t.Setenv("CT_TOKEN", "xoxb-1")
	t.Setenv("CT_ABSENT", "here")
	t.Setenv("CT_COUNT", " 4 ")
	t.Setenv("CT_ON", "no")
	var s spec
	if err := config.Load(&s); err != nil {
		t.Fatal(err)
	}
	if s.Token != "xoxb-1" || time.Duration(s.Wait) != 24*time.Hour || s.Count != 4 || s.On || s.Plain != 3 {
		t.Errorf("spec = %+v", s)
	}
	if got := s.Wait.String(); got != "1d" {
		t.Errorf("Wait.String() = %q; want 1d", got)
	}
}

func TestLoadNeedsStructPointer(t *testing.T) {
	if err := config.Load(spec{}); err == nil {
		t.Error("Load(struct value) succeeded")
	}
}

func TestWithout(t *testing.T) {
	loadErr := errors.Join(config.Problem("A", "unreadable"))
	check := errors.Join(
		config.Problem("A", "out of range"),
		&config.VarError{Var: "B", Also: []string{"A"}, Msg: "must be below A"},
		config.Problem("C", "bad"),
		errors.New("not about a variable"),
	)
	got := config.Without(check, config.Failed(loadErr))
	if want := "C: bad\nnot about a variable"; got == nil || got.Error() != want {
		t.Errorf("Without = %v; want %q", got, want)
	}
	if config.Without(nil, nil) != nil {
		t.Error("Without(nil) != nil")
	}
}
