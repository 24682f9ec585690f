package sqlstore

// UpdateAttempts is how many times Update tries before ErrConflict.
const UpdateAttempts = updateAttempts
