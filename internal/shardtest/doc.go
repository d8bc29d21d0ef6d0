// Package shardtest holds the end-to-end tests of sharded rounds (README, "Past one
// machine"): partition, every shard as its own process of the built binary, and close,
// against the S3 test server (versitygw), compared byte for byte with a single machine's
// run. It has no code of its own: its tests are a package apart so that go test runs them
// beside the other packages' tests rather than after cmd/creditmeter's.
package shardtest
