// Package settings holds what the options structs of every package share:
// the Problem a Validate method reports about one field, and how a setting's
// value is written in messages and config files (Bytes, Duration, Shorten).
//
// A Validate reports every problem at once, each a *Problem naming its field
// in lower_snake case (the name a configuration gives it), joined into one
// error. A caller with names of its own for the fields (the binlake
// command's YAML keys) lists them with ProblemsIn and words each with Text;
// everybody else reads Error.
//
// It must never import a package of the project (tableformat included):
// every package may use it. Where the keys its fields map to are
// documented: docs/configuration.md.
package settings
