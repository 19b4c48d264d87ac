package auth

import (
	"math"
	"sync"
	"time"
)

// RateLimiter is a token bucket per caller token: webhook callers get
// Rate requests a second with bursts up to Burst.
type RateLimiter struct {
	mu      sync.Mutex
	buckets map[int64]*bucket
	rate    float64
	burst   float64
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a limiter; perSecond <= 0 disables it.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	return &RateLimiter{buckets: map[int64]*bucket{}, rate: perSecond, burst: float64(max(burst, 1)), now: time.Now}
}

// SetRate changes the limits at run time (the setting).
func (l *RateLimiter) SetRate(perSecond float64, burst int) {
	l.mu.Lock()
	l.rate, l.burst = perSecond, float64(max(burst, 1))
	l.mu.Unlock()
}

// Allow takes one request from key's bucket. When the bucket is empty it
// returns false and how many seconds until a request would pass.
func (l *RateLimiter) Allow(key int64) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 10000 {
			clear(l.buckets) // bounded memory; a reset only grants fresh bursts
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, int(math.Ceil((1 - b.tokens) / l.rate))
}
