package e2e

import (
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchParallelism multiplies GOMAXPROCS into the number of concurrent clients: requests spend
// most of their time waiting on the runtime and the backends, not on the client's CPU.
const benchParallelism = 4

// BenchmarkSendMessage measures SendMessage requests per second through the runtime: HTTP API,
// authorizer, function instances and the backends, as a client sees it. Each concurrent client
// sends to its own conversation, the common case; contention on one conversation's sequence is
// covered by TestConcurrentSendersAndPaging. Cold start and the runtime's own overhead are
// measured by the runtime's benchmarks.
func BenchmarkSendMessage(b *testing.B) {
	w := getWorld(b)
	c := api()
	clients := benchParallelism * runtime.GOMAXPROCS(0)
	convs := make(chan string, clients)
	for i := range clients {
		convID := createConversation(b, c, w.alice, "group", fmt.Sprintf("Bench %s %d", suffix, i), w.bob.id)
		// Warm the instances so the timed requests are not cold starts.
		mustSend(b, c, w.alice, convID, "bench-warm-"+randomHex(4), "warm up")
		convs <- convID
	}

	run := randomHex(4)
	var n, failed atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		convID := <-convs
		defer func() { convs <- convID }()
		for pb.Next() {
			i := n.Add(1)
			r, err := c.send("POST", "/v1/conversations/"+convID+"/messages", bearer(w.alice.token),
				map[string]string{"client_msg_id": fmt.Sprintf("bench-%s-%d", run, i), "body": "benchmark message"})
			if err != nil || r.status != http.StatusCreated {
				if failed.Add(1) == 1 {
					b.Errorf("send: %v %v", err, r)
				}
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n.Load())/elapsed.Seconds(), "msgs/s")
}
