// Package approval is the domain core of share-bucket: access requests, the
// state machine that turns them into time-limited grants, the events that
// record every change, and the interfaces through which the outside world
// (a store, an issuer of AWS links, a notifier) is reached.
//
// It imports no Slack, AWS, SQL or logging package; adapters depend on it,
// never the other way round (see deps_test.go).
package approval
