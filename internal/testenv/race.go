//go:build race

package testenv

// Race is true when the binary was built with the race detector, which
// makes tests scale down (pure-Go SQLite is about 20× slower under it) or
// build what they run with it too.
const Race = true
