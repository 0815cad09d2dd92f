// Package storetest owns the behaviour every tableformat.Store must have: one
// conformance suite (RunConformance) that the in-memory, local-directory and
// S3 stores all pass, and wrappers for other packages' tests: FaultStore fails
// the Nth call of a method and BarrierStore holds put-if-absent calls so that
// two committers collide on purpose (storage failures and races made
// reproducible); CountingStore records every call and the bytes read, so a
// test can say which objects an operation touched.
//
// Being under tableformat/, it imports no package of the project but
// tableformat (internal/archtest checks it), so every store's tests may use
// it. The contract it checks: the Store documentation in tableformat.
package storetest
