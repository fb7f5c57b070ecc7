// Package job runs the scheduled jobs of a configuration (`job NAME { … }`): each tick
// of each job is claimed in the store (store.JobStore) before it runs, so a tick runs
// once however many Junction processes share the database, and a tick whose process
// died is taken over by a process running the job once its lease lapses (each process
// looks through the job's latest runs every third of the lease). At start, the ticks
// missed while no process ran are caught up (catch_up latest, all or none). A job calls
// an integration's operation through the gateway, with all its policies, or publishes an
// event as POST /events does. The Scheduler is a lifecycle component of the runtime; a
// reload stops one and starts the next, and the store's claim keeps a tick from running
// twice across the swap.
package job
