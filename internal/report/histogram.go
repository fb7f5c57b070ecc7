package report

import (
	"math"
	"time"
)

// The latency histogram has fixed, log-spaced buckets, the same in every process and
// every release that shares a database: bucket i holds durations in (B(i-1), B(i)] with
// B(i) = 100µs · 2^(i/4), so neighbouring bounds are 19 % apart. Bucket 0 takes
// everything up to 100µs and the last bucket everything above ~88 s. Changing these
// constants changes the meaning of stored rows: do not.
const (
	bucketBase         = 100 * time.Microsecond
	bucketsPerDoubling = 4
	// Buckets is how many buckets a histogram has.
	Buckets = 80
)

// upperBounds[i] is the largest duration bucket i holds, computed once.
var upperBounds = func() (b [Buckets]time.Duration) {
	for i := range b {
		b[i] = time.Duration(float64(bucketBase) * math.Exp2(float64(i)/bucketsPerDoubling))
	}
	return b
}()

// BucketOf is the bucket a duration falls in: a binary search of the bounds, on every
// call's path, so no logarithm.
func BucketOf(d time.Duration) int {
	lo, hi := 0, Buckets-1 // the last bucket takes whatever is above its lower bound
	for lo < hi {
		mid := (lo + hi) / 2
		if d <= upperBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// UpperBound is the largest duration bucket i holds (the last bucket holds more).
func UpperBound(i int) time.Duration { return upperBounds[i] }

// Quantile is the q-quantile (0 < q ≤ 1) of the durations counted in counts, by the
// nearest-rank method, as the upper edge of the bucket the ranked duration falls in: an
// upper estimate at most 19 % above the true value (for the last bucket, a lower one).
// It is 0 when counts holds nothing.
func Quantile(counts []int64, q float64) time.Duration { return quantile(counts, sum(counts), q) }

// sum is the number of durations counted in counts.
func sum(counts []int64) (total int64) {
	for _, n := range counts {
		total += n
	}
	return total
}

// quantile is Quantile of counts that hold total durations: a report takes two
// quantiles of each of tens of thousands of histograms, and sums each once.
func quantile(counts []int64, total int64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := max(1, int64(math.Ceil(q*float64(total))))
	var seen int64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			return UpperBound(i)
		}
	}
	return UpperBound(len(counts) - 1)
}

// addCounts adds src into dst, growing dst as needed, and returns it.
func addCounts(dst, src []int64) []int64 {
	if len(dst) < len(src) { // one allocation, not one per bucket
		dst = append(dst, make([]int64, len(src)-len(dst))...)
	}
	for i, n := range src {
		dst[i] += n
	}
	return dst
}
