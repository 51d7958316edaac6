// Package dataloader batches and caches lookups by key for the span of one
// request, so that resolving a field on every item of a list makes one query
// instead of one per item.
package dataloader

import (
	"context"
	"sync"
	"time"
)

// FetchFunc loads the values for keys; keys it does not return are missing.
type FetchFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// Loader collects the keys asked for within a short window and fetches them
// in one call. It caches results (including failures) for its lifetime, which
// is one request: create one per request.
type Loader[K comparable, V any] struct {
	fetch    FetchFunc[K, V]
	wait     time.Duration
	maxBatch int
	// missing builds the error for a key the fetch did not return.
	missing func(K) error

	mu      sync.Mutex
	cache   map[K]*result[V]
	pending *batch[K, V]
}

type result[V any] struct {
	done chan struct{}
	val  V
	err  error
}

type batch[K comparable, V any] struct {
	keys    []K
	results []*result[V]
	timer   *time.Timer
}

// New returns a loader. wait is how long the first key of a batch waits for
// company (gqlgen resolves list items concurrently, so siblings arrive within
// microseconds); maxBatch caps a batch.
func New[K comparable, V any](fetch FetchFunc[K, V], wait time.Duration, maxBatch int, missing func(K) error) *Loader[K, V] {
	return &Loader[K, V]{fetch: fetch, wait: wait, maxBatch: maxBatch, missing: missing, cache: map[K]*result[V]{}}
}

// Load returns the value for key, fetching it with its batch.
func (l *Loader[K, V]) Load(ctx context.Context, key K) (V, error) {
	l.mu.Lock()
	r, ok := l.cache[key]
	var full *batch[K, V]
	if !ok {
		r = &result[V]{done: make(chan struct{})}
		l.cache[key] = r
		if l.pending == nil {
			b := &batch[K, V]{}
			b.timer = time.AfterFunc(l.wait, func() {
				l.mu.Lock()
				if l.pending != b { // already taken by a full-batch dispatch
					l.mu.Unlock()
					return
				}
				l.pending = nil
				l.mu.Unlock()
				l.dispatch(ctx, b)
			})
			l.pending = b
		}
		b := l.pending
		b.keys = append(b.keys, key)
		b.results = append(b.results, r)
		if len(b.keys) >= l.maxBatch {
			// Take the full batch out under the lock, so that no key joins it
			// and exactly one caller (this one, not the timer) dispatches it.
			l.pending = nil
			b.timer.Stop()
			full = b
		}
	}
	l.mu.Unlock()
	if full != nil {
		l.dispatch(ctx, full)
	}
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// dispatch fetches one batch, already detached from l.pending, and releases
// its waiters.
func (l *Loader[K, V]) dispatch(ctx context.Context, b *batch[K, V]) {
	vals, err := l.fetch(ctx, b.keys)
	for i, k := range b.keys {
		r := b.results[i]
		switch v, ok := vals[k]; {
		case err != nil:
			r.err = err
		case ok:
			r.val = v
		default:
			r.err = l.missing(k)
		}
		close(r.done)
	}
}
