// Package storetest owns the behaviour every tableformat.Store must have: one
// conformance suite (RunConformance) that the in-memory, local-directory and
// S3 stores all pass, and two wrappers that make storage failures and races
// reproducible in other packages' tests: FaultStore fails the Nth call of a
// method, BarrierStore holds put-if-absent calls so that two committers
// collide on purpose.
//
// Being under tableformat/, it imports no package of the project but
// tableformat (internal/archtest checks it), so every store's tests may use
// it. The contract it checks: the Store documentation in tableformat.
package storetest
