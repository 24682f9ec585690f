package approval

import (
	"errors"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"15m": 15 * time.Minute, "2h": 2 * time.Hour, "1h30m": 90 * time.Minute, "1d": 24 * time.Hour,
		"90m": 90 * time.Minute, " 1D ": 24 * time.Hour, "1d12h": 36 * time.Hour, "14m40s": 14*time.Minute + 40*time.Second,
		"20s": 20 * time.Second, "0": 0, "0m": 0, "1h30m0s": 90 * time.Minute, "9999d": 9999 * 24 * time.Hour,
	}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2", "1.5h", "-1h", "1h-5m", "2 hours", "1m1h", "90min", "1h30", "soon", "500ms"} {
		if got, err := ParseDuration(in); !errors.Is(err, ErrNotDuration) {
			t.Errorf("ParseDuration(%q) = %v, %v; want ErrNotDuration", in, got, err)
		}
	}
	if got, err := ParseDuration("12345h"); err == nil || errors.Is(err, ErrNotDuration) {
		t.Errorf("ParseDuration(12345h) = %v, %v; want a too-long error", got, err)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		15 * time.Minute: "15m", 2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 24 * time.Hour: "1d",
		26*time.Hour + 5*time.Minute: "1d2h5m", 0: "0m", 13 * time.Hour: "13h",
		14*time.Minute + 40*time.Second: "14m40s", 20*time.Second + 300*time.Millisecond: "20s",
	}
	for d, want := range tests {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", d, got, want)
		}
		if d > 0 {
			if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d.Truncate(time.Second) {
				t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
			}
		}
	}
}
