package pgstore

// Dialect is the store's dialect.
var Dialect = dialect
