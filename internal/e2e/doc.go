// Package e2e tests creditmeter end to end through its command line only: it builds the
// binary (or takes CREDITMETER_BIN), generates data with `creditmeter generate`, runs
// `creditmeter run` as a child process and reads the files it publishes. It imports none of
// the project's packages, so the pipeline's core can be rewritten underneath it.
//
// Two promises of BILLING.md section 5 are checked:
//
//   - Crash safety (kill_test.go): a run killed with SIGKILL at any point leaves the
//     warehouse and the output consistent, and the next run completes the work with the same
//     results as an uninterrupted run, invoice numbers gap-free.
//   - Batches do not matter (batches_test.go): the objects arriving over several runs in
//     time order give the same ledger, register, invoices and usage reports as one run over
//     all of them; a run with nothing new rewrites nothing.
//
// Knobs (environment): CREDITMETER_BIN, CREDITMETER_FAULT_EVENTS, CREDITMETER_FAULT_TRIALS,
// CREDITMETER_FAULT_TENANTS, CREDITMETER_FAULT_SEED, CREDITMETER_BATCH_EVENTS,
// CREDITMETER_BATCH_SEEDS, CREDITMETER_BATCH_SEED. Each test logs its seeds and paths.
package e2e
