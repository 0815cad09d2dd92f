package tableformat

// Helpers of this package's tests that its external tests (package
// tableformat_test: those that write lakes with tableformat/laketest, which
// imports this package) use too.
var (
	ImagesJSON    = imagesJSON
	ReplayFromOne = replayFromOne
)
