// Package sharedbreaker makes the circuit breakers of several processes that call the
// same upstreams act as one: a circuit opened (or closed, or reset) in one process is
// in that state in every process sharing the Redis within a second.
//
// Each process keeps its own breaker.Breaker for the hot path (Allow and done never
// touch Redis). What crosses processes is the transition:
//
//   - A process's own transition to open (with how long it stays open) or to closed is
//     written to the key PREFIX+NAME by a Lua script that gives it a version (strictly
//     increasing, at least the Redis server's clock in µs, so that a key that expired
//     and came back still only moves forward) and publishes it on the channel
//     PREFIX+"changes". Half-open is not shared: every process reaches it on its own
//     when the open time it was told about has passed.
//   - Every process applies (breaker.Apply) a published transition whose version is
//     newer than the last it saw for that name; Apply reports it as remote, and remote
//     transitions are never announced, so nothing echoes. Older versions are ignored.
//   - On every (re)subscription and every 500 ms each process also reads all its keys in
//     one script call (with the Redis server's time, so the open time left is computed
//     on one clock), which makes a process that missed messages converge within the
//     second the issue asks for even if pub/sub loses them.
//   - While a process's own announcement is being written, it applies nothing for that
//     name: an older state read in between must not undo its own transition; the next
//     read catches up.
//   - Announcements are written by one goroutine in order, never on a caller's goroutine.
//     If Redis does not answer, the breakers stay local (calls never fail because of
//     Redis), which is logged once, and once more when Redis answers again.
package sharedbreaker
