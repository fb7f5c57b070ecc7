// Package workflow runs declared workflows (`workflow NAME { … }`, PRODUCT D7) durably.
//
// A run is a row in the store and each step's outcome is stored before the next step
// starts, so a process killed mid-run leaves the run to be resumed, by itself after a
// restart or by any process sharing the database, at its first unfinished step: a
// completed step never runs again. The step that was in flight may run twice, so calls
// carry an idempotency key made of the run and step IDs, the same on every attempt.
//
// # Leases
//
// The process executing a run holds its lease (store.WorkflowRun.Owner, LeaseUntil),
// renewed every third of its length while the run is live in the process. Every write
// at a step boundary checks the lease: a process whose lease lapsed (it stalled, the
// database was unreachable) stops that run, since another may have claimed it. A run
// started here is created with this process's lease and runs at once; a run whose
// lease lapsed, a waiting run that is due and a run created while this process was full
// are claimed by the poll loop (PostgreSQL: FOR UPDATE SKIP LOCKED).
//
// # Writes
//
// Step outcomes go through one group-commit writer: the runs in flight queue their
// writes, the writer stores what is queued in one transaction and answers each once it
// is committed. A run still waits for its own write, so "stored before the next step"
// holds, but a thousand runs cost tens of transactions, not thousands.
//
// # Waiting
//
// Sleeping, waiting for an event and waiting for a child run release the lease: the run
// is stored as waiting with the time to look again (NextAt). An event published in this
// process and a child run's end wake the waiting runs at once; otherwise they are looked
// at again when due, so a run waiting in another process is woken too.
//
// # Templates
//
// Step inputs, output mappings and event matches are templates over the run's context:
// input (the run's input; workflow.input too), steps.<id> (a finished step's result
// fields, its output mapping's fields and .output for the whole result) and, in an
// output mapping, output. See config.Workflow for how both dialects are written.
package workflow
