// Package cache stores upstream responses so that repeated calls are answered without
// the upstream, and keeps each entry for a while after it expires so that `fallback:
// cache` has a stale copy to serve when the upstream fails. Memory is a per-process LRU;
// Redis shares entries between nodes; Group collapses concurrent misses for one key into
// one upstream call.
//
// Semantics:
//
//   - Keys are computed by the caller; the cache never looks inside them.
//   - Set(key, e, ttl, keepStale): Get returns the entry as Fresh for ttl, then as Stale
//     for keepStale, then Miss. Fresh and stale are decided on the injected clock; in Redis
//     the fresh-until and stale-until instants are written into the value, and the key's
//     PX (ttl+keepStale) removes it. A ttl+keepStale of zero or less stores nothing and
//     deletes the key.
//   - Entries are copied on the way in and out: a caller that changes the Header or Body
//     it passed to Set or got from Get does not change the cache.
//   - Entry.StoredAt is kept as given; a zero StoredAt is set to the clock's time by Set.
//   - Memory is bounded by a number of entries and by the total size of the bodies; the
//     least recently used entries go first. An entry whose body alone exceeds the byte
//     bound is refused with ErrTooLarge.
//   - Group.Do runs fn once for all concurrent callers of a key. fn runs on a context
//     that keeps the first caller's values but is not cancelled by any caller, bounded by
//     the Group's Timeout, so one caller giving up never fails the call for the others; a
//     caller whose own context ends stops waiting and gets ctx.Err().
package cache
