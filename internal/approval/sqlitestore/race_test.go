//go:build race

package sqlitestore_test

// raceEnabled is true when the race detector is on; it slows the pure-Go
// SQLite about twentyfold.
const raceEnabled = true
