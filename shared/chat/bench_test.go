package chat_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/idempotency"
)

// BenchmarkSendMessage measures SendMessage end to end against the backends (embedded FerretDB
// and kfake unless MONGO_URI and KAFKA_BROKERS are set): membership check, idempotency key,
// seq claim, store, publish with acks from all replicas, mark published. Each parallel worker
// sends to its own group conversation, as independent users would.
func BenchmarkSendMessage(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	svc := f.service(newPublisher(b, backendtest.KafkaBrokers(b)), clock.System{})
	var worker, seq atomic.Int64

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		conv, _, err := svc.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{
			Type: chat.TypeGroup, Title: fmt.Sprintf("bench %d", w), Members: []string{f.bob},
		}, idempotency.Request{})
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			n := seq.Add(1)
			m, _, err := svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{
				ClientMsgID: fmt.Sprintf("b-%d", n), Body: "a message of ordinary length, about sixty bytes.",
			})
			if err != nil {
				b.Error(err)
				return
			}
			if !m.Published {
				b.Error("message not published")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}
