//go:build !race

package testenv

// Race is true when the binary was built with the race detector.
const Race = false
