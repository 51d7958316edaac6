package dataloader_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coursehub/coursehub/internal/dataloader"
)

var (
	errMissing = errors.New("missing")
	errBoom    = errors.New("boom")
)

func missing(k int) error { return fmt.Errorf("key %d: %w", k, errMissing) }

// recorder is a FetchFunc that records every batch it is given and returns
// "v<key>" for every key except those in absent.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	absent  map[int]bool
	err     error
}

func (r *recorder) fetch(_ context.Context, keys []int) (map[int]string, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(keys))
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	out := map[int]string{}
	for _, k := range keys {
		if !r.absent[k] {
			out[k] = fmt.Sprintf("v%d", k)
		}
	}
	return out, nil
}

func (r *recorder) calls() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

type loadResult struct {
	key int
	val string
	err error
}

// loadAll calls Load for every key at once, each from its own goroutine, and
// returns the results in key order.
func loadAll(tb testing.TB, ctx context.Context, l *dataloader.Loader[int, string], keys []int) []loadResult {
	tb.Helper()
	out := make([]loadResult, len(keys))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			<-start
			v, err := l.Load(ctx, k)
			out[i] = loadResult{k, v, err}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// wait is long enough that goroutines started together land in one batch
// even under the race detector.
const wait = 100 * time.Millisecond

func TestBatching(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	l := dataloader.New(r.fetch, wait, 100, missing)
	keys := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, res := range loadAll(t, context.Background(), l, keys) {
		if res.err != nil || res.val != fmt.Sprintf("v%d", res.key) {
			t.Errorf("Load(%d) = %q, %v", res.key, res.val, res.err)
		}
	}
	calls := r.calls()
	if len(calls) != 1 {
		t.Fatalf("fetch called %d times (%v), want 1", len(calls), calls)
	}
	got := slices.Sorted(slices.Values(calls[0]))
	if !slices.Equal(got, keys) {
		t.Errorf("batch keys = %v, want %v", got, keys)
	}
}

func TestCaching(t *testing.T) {
	t.Parallel()

	t.Run("OKSequential", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		l := dataloader.New(r.fetch, time.Millisecond, 100, missing)
		for range 3 {
			v, err := l.Load(context.Background(), 7)
			if err != nil || v != "v7" {
				t.Fatalf("Load(7) = %q, %v", v, err)
			}
		}
		if calls := r.calls(); len(calls) != 1 {
			t.Errorf("fetch calls = %v, want one", calls)
		}
	})

	t.Run("OKConcurrentSameKey", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		l := dataloader.New(r.fetch, wait, 100, missing)
		for _, res := range loadAll(t, context.Background(), l, []int{7, 7, 7, 8, 8}) {
			if res.err != nil || res.val != fmt.Sprintf("v%d", res.key) {
				t.Errorf("Load(%d) = %q, %v", res.key, res.val, res.err)
			}
		}
		calls := r.calls()
		if len(calls) != 1 {
			t.Fatalf("fetch calls = %v, want one", calls)
		}
		if got := slices.Sorted(slices.Values(calls[0])); !slices.Equal(got, []int{7, 8}) {
			t.Errorf("batch keys = %v, want each key once: [7 8]", got)
		}
	})

	t.Run("OKFailureCached", func(t *testing.T) {
		t.Parallel()
		r := &recorder{absent: map[int]bool{3: true}}
		l := dataloader.New(r.fetch, time.Millisecond, 100, missing)
		for range 2 {
			if _, err := l.Load(context.Background(), 3); !errors.Is(err, errMissing) {
				t.Fatalf("Load(3) error = %v, want %v", err, errMissing)
			}
		}
		if calls := r.calls(); len(calls) != 1 {
			t.Errorf("fetch calls = %v, want one", calls)
		}
	})
}

func TestMissingKeys(t *testing.T) {
	t.Parallel()
	r := &recorder{absent: map[int]bool{2: true, 4: true}}
	l := dataloader.New(r.fetch, wait, 100, missing)
	for _, res := range loadAll(t, context.Background(), l, []int{1, 2, 3, 4}) {
		if r.absent[res.key] {
			if !errors.Is(res.err, errMissing) || res.err.Error() != missing(res.key).Error() {
				t.Errorf("Load(%d) error = %v, want %v", res.key, res.err, missing(res.key))
			}
			if res.val != "" {
				t.Errorf("Load(%d) value = %q with an error", res.key, res.val)
			}
			continue
		}
		if res.err != nil || res.val != fmt.Sprintf("v%d", res.key) {
			t.Errorf("Load(%d) = %q, %v", res.key, res.val, res.err)
		}
	}
}

func TestFetchError(t *testing.T) {
	t.Parallel()
	r := &recorder{err: errBoom}
	l := dataloader.New(r.fetch, wait, 100, missing)
	for _, res := range loadAll(t, context.Background(), l, []int{1, 2, 3, 4, 5}) {
		if !errors.Is(res.err, errBoom) || res.val != "" {
			t.Errorf("Load(%d) = %q, %v; want %v", res.key, res.val, res.err, errBoom)
		}
	}
	if calls := r.calls(); len(calls) != 1 {
		t.Errorf("fetch calls = %v, want one", calls)
	}
}

func TestMaxBatch(t *testing.T) {
	t.Parallel()
	const maxBatch = 3

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		l := dataloader.New(r.fetch, wait, maxBatch, missing)
		keys := []int{1, 2, 3, 4, 5, 6, 7}
		for _, res := range loadAll(t, context.Background(), l, keys) {
			if res.err != nil || res.val != fmt.Sprintf("v%d", res.key) {
				t.Errorf("Load(%d) = %q, %v", res.key, res.val, res.err)
			}
		}
		calls := r.calls()
		var all []int
		for _, b := range calls {
			if len(b) > maxBatch {
				t.Errorf("batch %v has more than %d keys", b, maxBatch)
			}
			all = append(all, b...)
		}
		if len(calls) < 3 {
			t.Errorf("%d batches (%v), want at least 3", len(calls), calls)
		}
		if got := slices.Sorted(slices.Values(all)); !slices.Equal(got, keys) {
			t.Errorf("fetched keys = %v, want each of %v once", got, keys)
		}
	})

	// A full batch goes at once, without waiting for the timer.
	t.Run("OKFullBatchNoWait", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		l := dataloader.New(r.fetch, time.Hour, maxBatch, missing)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, res := range loadAll(t, ctx, l, []int{1, 2, 3}) {
			if res.err != nil {
				t.Errorf("Load(%d): %v", res.key, res.err)
			}
		}
		if calls := r.calls(); len(calls) != 1 {
			t.Errorf("fetch calls = %v, want one", calls)
		}
	})

	// Many rounds with many goroutines: a batch must never exceed maxBatch.
	t.Run("OKStress", func(t *testing.T) {
		t.Parallel()
		for round := range 200 {
			r := &recorder{}
			l := dataloader.New(r.fetch, time.Millisecond, maxBatch, missing)
			keys := make([]int, 32)
			for i := range keys {
				keys[i] = i
			}
			loadAll(t, context.Background(), l, keys)
			for _, b := range r.calls() {
				if len(b) > maxBatch {
					t.Fatalf("round %d: batch %v has %d keys, more than maxBatch %d", round, b, len(b), maxBatch)
				}
			}
		}
	})
}

func TestContextCancel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		// cancel ends the context once fetch has started.
		cancel bool
		want   error
	}{
		{"ErrCanceled", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, true, context.Canceled},
		{"ErrDeadlineExceeded", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			release := make(chan struct{})
			defer close(release)
			fetch := func(context.Context, []int) (map[int]string, error) {
				close(started)
				<-release // a fetch that ignores its context
				return map[int]string{1: "v1"}, nil
			}
			l := dataloader.New(fetch, time.Millisecond, 100, missing)
			ctx, cancel := tt.ctx()
			defer cancel()
			done := make(chan loadResult, 1)
			go func() {
				v, err := l.Load(ctx, 1)
				done <- loadResult{1, v, err}
			}()
			<-started
			if tt.cancel {
				cancel()
			}
			select {
			case res := <-done:
				if !errors.Is(res.err, tt.want) || res.val != "" {
					t.Errorf("Load = %q, %v; want %v", res.val, res.err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load did not return after its context ended")
			}
		})
	}

	t.Run("ErrAlreadyCanceled", func(t *testing.T) {
		t.Parallel()
		r := &recorder{}
		l := dataloader.New(r.fetch, time.Hour, 100, missing)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan loadResult, 1)
		go func() {
			v, err := l.Load(ctx, 1)
			done <- loadResult{1, v, err}
		}()
		select {
		case res := <-done:
			if !errors.Is(res.err, context.Canceled) || res.val != "" {
				t.Errorf("Load = %q, %v; want %v", res.val, res.err, context.Canceled)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Load with a cancelled context did not return")
		}
	})
}
