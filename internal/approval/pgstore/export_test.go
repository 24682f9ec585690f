package pgstore

// Dialect is the store's dialect.
var Dialect = dialect

// NotifyChannel is the notification channel of the store in a schema.
var NotifyChannel = notifyChannel
