// Package testenv tells tests about the binary they run in.
package testenv
