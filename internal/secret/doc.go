// Package secret holds String, a string that never prints itself: fmt (every
// verb), slog and encoding/json show "REDACTED" (or "" when empty). Use it for
// every password, key and token, so a config or options struct can be
// printed, logged or serialized whole without a leak.
//
// It imports no other package of the project, so that any package may hold a
// secret. Which secrets there are and where they come from:
// docs/configuration.md and docs/operations.md.
package secret
