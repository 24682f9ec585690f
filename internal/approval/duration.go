package approval

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Durations are written the same way everywhere, in commands and in
// configuration: whole days, hours, minutes and seconds in that order,
// like 15m, 2h, 1h30m, 1d or 14m40s, and "0" for none.

// durationRE matches days, hours, minutes and seconds, each optional, in
// that order.
var durationRE = regexp.MustCompile(`^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// maxDurationDigits keeps each number far from overflow and from typos
// like 10000h: 9999 days fit in a time.Duration many times over.
const maxDurationDigits = 4

// ErrNotDuration means a text is not shaped like a duration at all.
var ErrNotDuration = fmt.Errorf("not a duration; write it like 15m, 2h, 1h30m or 1d")

// ParseDuration reads a duration the way people write it: 15m, 2h, 1h30m,
// 1d, 1d12h, 14m40s, or 0. Letters may be upper case; surrounding space is
// ignored. It returns an error wrapping ErrNotDuration for text that is not
// shaped like a duration (1.5h, 90min, -1h, 2) and another error for a
// number too long to be meant.
func ParseDuration(s string) (time.Duration, error) {
	word := strings.ToLower(strings.TrimSpace(s))
	if word == "0" {
		return 0, nil
	}
	m := durationRE.FindStringSubmatch(word)
	if m == nil || word == "" {
		return 0, ErrNotDuration
	}
	units := []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, part := range m[1:] {
		if part == "" {
			continue
		}
		if len(part) > maxDurationDigits {
			return 0, fmt.Errorf("%s is too long a duration", word)
		}
		n, _ := strconv.Atoi(part)
		d += time.Duration(n) * units[i]
	}
	return d, nil
}

// FormatDuration renders d the way users write it: 15m, 2h, 1h30m, 1d,
// 14m40s. Parts under a second are dropped; zero is "0m".
func FormatDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0m"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}
