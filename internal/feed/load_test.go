package feed_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/coursehub/coursehub/internal/feed"
	"github.com/coursehub/coursehub/internal/mongodb/mongotest"
)

// BenchmarkFeedLoad is the feed alone, without servers or sockets: three
// feeds on one FerretDB listener, 100 events a second published through
// the three in turn for 10 s; the delay from publish to delivery on every
// feed.
//
//	go test ./internal/feed -run '^$' -bench BenchmarkFeedLoad -benchtime 1x
func BenchmarkFeedLoad(b *testing.B) {
	srv := mongotest.StartServer(b)
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		b.Fatal(err)
	}
	db := client.Database("load")
	ins := []*instance{newInstance(b, db, feed.Config{}, true), newInstance(b, db, feed.Config{}, true), newInstance(b, db, feed.Config{}, true)}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	tick := time.NewTicker(10 * time.Millisecond)
	start := time.Now()
	n := 0
	for ; time.Since(start) < 10*time.Second; n++ {
		<-tick.C
		title := fmt.Sprintf("L%d", n)
		mu.Lock()
		sent[title] = time.Now()
		mu.Unlock()
		publish(ins[n%len(ins)], title)
	}
	tick.Stop()
	time.Sleep(3 * time.Second)
	var delays []time.Duration
	for _, in := range ins {
		in.mu.Lock()
		for i, title := range in.courses {
			delays = append(delays, in.at[i].Sub(sent[title]))
		}
		in.mu.Unlock()
	}
	slices.Sort(delays)
	if len(delays) == 0 {
		b.Fatal("nothing delivered")
	}
	p := func(q float64) time.Duration { return delays[min(len(delays)-1, int(q*float64(len(delays))))] }
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(3*n-len(delays)), "lost")
	b.Logf("%d events, %d deliveries of %d: p50 %v p99 %v max %v", n, len(delays), 3*n, p(0.5), p(0.99), p(1))
}
