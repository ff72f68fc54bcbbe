package kafkatrigger

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// maxPayload is Lambda's limit on a synchronous invocation's payload: a batch stops growing
// before its event would pass it.
const maxPayload = 6 << 20

// consume delivers the partitions of gen until the generation ends or Stop is called.
func (t *Trigger) consume(gen *kafka.Generation, positions map[int]int64) {
	finished := make(chan struct{})
	// Started through the generation, so a rebalance waits for the batch under way.
	gen.Start(func(genCtx context.Context) {
		defer close(finished)
		ctx, cancel := context.WithCancel(t.stopCtx)
		defer cancel()
		stop := context.AfterFunc(genCtx, cancel)
		defer stop()
		t.consumePartitions(ctx, cancel, gen, positions)
	})
	<-finished
}

// consumePartitions runs a reader per partition into one stream and delivers it in batches.
func (t *Trigger) consumePartitions(ctx context.Context, cancel context.CancelFunc, gen *kafka.Generation, positions map[int]int64) {
	msgs := make(chan kafka.Message)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before wg.Wait: the readers stop first
	for p, offset := range positions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: t.opts.Brokers, Topic: t.ev.Topic, Partition: p,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond,
		})
		if err := r.SetOffset(offset); err != nil {
			_ = r.Close()
			t.log.Error("kafka trigger: set reader offset", "partition", p, "error", err)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						// A partition that cannot be read would stall silently: end the
						// generation, and the next one starts over from the committed offsets.
						t.log.Warn("kafka trigger: read failed; rejoining", "partition", p, "error", err)
						cancel()
					}
					return
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	var carry *kafka.Message
	for {
		var batch []kafka.Message
		batch, carry = t.collect(ctx, msgs, carry)
		if batch == nil || !t.deliver(ctx, gen, batch) {
			return
		}
	}
}

// collect gathers a batch: it waits for a first record, then takes records until the batch
// holds BatchSize of them, its event would pass maxPayload, or the batching window has passed
// since the first record. A record that would pass maxPayload is handed back for the next batch.
// It returns nil when ctx ends first.
func (t *Trigger) collect(ctx context.Context, msgs <-chan kafka.Message, carry *kafka.Message) ([]kafka.Message, *kafka.Message) {
	var first kafka.Message
	if carry != nil {
		first = *carry
	} else {
		select {
		case first = <-msgs:
		case <-ctx.Done():
			return nil, nil
		}
	}
	batch := []kafka.Message{first}
	size := recordSize(first)
	window := time.NewTimer(t.ev.BatchingWindow)
	defer window.Stop()
	for len(batch) < t.ev.BatchSize {
		var m kafka.Message
		if t.ev.BatchingWindow == 0 {
			// No window: take only what has already arrived.
			select {
			case m = <-msgs:
			default:
				return batch, nil
			}
		} else {
			select {
			case m = <-msgs:
			case <-window.C:
				return batch, nil
			case <-ctx.Done():
				return nil, nil
			}
		}
		if size += recordSize(m); size > maxPayload {
			return batch, &m
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// deliver invokes the function with batch until it succeeds, then commits the batch. It
// reports false when the generation or the trigger ended first: the batch stays uncommitted
// and is delivered again from the committed offsets.
func (t *Trigger) deliver(ctx context.Context, gen *kafka.Generation, batch []kafka.Message) bool {
	payload, err := t.event(batch)
	if err != nil {
		t.log.Error("kafka trigger: encode batch", "error", err) // cannot happen: plain data
		return false
	}
	next := map[int]int64{}
	for _, m := range batch {
		next[m.Partition] = max(next[m.Partition], m.Offset+1)
	}
	for attempt := 1; ; attempt++ {
		err := t.opts.Invoke(t.invokeCtx, t.fn, payload)
		if err == nil {
			if cerr := gen.CommitOffsets(map[string]map[int]int64{t.ev.Topic: next}); cerr != nil {
				t.log.Warn("kafka trigger: batch delivered but its offsets not committed; it will be delivered again",
					"records", len(batch), "offsets", describe(batch), "error", cerr)
				t.notify(len(batch), attempt, nil)
				return false
			}
			t.notify(len(batch), attempt, nil)
			return true
		}
		delay := t.backoff(attempt)
		// Offsets and counts only: record keys and values are user data.
		t.log.Warn("kafka trigger: function failed; the same batch is retried",
			"records", len(batch), "offsets", describe(batch), "attempt", attempt,
			"retry_in", delay.String(), "error", err)
		t.notify(len(batch), attempt, err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
	}
}

func (t *Trigger) notify(records, attempt int, err error) {
	if t.opts.OnDelivery != nil {
		t.opts.OnDelivery(Delivery{Function: t.fn, Event: t.ev.Name, Records: records, Attempt: attempt, Err: err})
	}
}

// backoff returns the wait after the attempt-th failure: RetryMin doubled each time, capped.
func (t *Trigger) backoff(attempt int) time.Duration {
	d := t.opts.RetryMin
	for i := 1; i < attempt && d < t.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, t.opts.RetryMax)
}

// describe names a batch's offset range per partition, for logs: "0:5-9 2:3-3".
func describe(batch []kafka.Message) string {
	type span struct{ lo, hi int64 }
	spans := map[int]*span{}
	var order []int
	for _, m := range batch {
		s, ok := spans[m.Partition]
		if !ok {
			spans[m.Partition] = &span{m.Offset, m.Offset}
			order = append(order, m.Partition)
			continue
		}
		s.lo, s.hi = min(s.lo, m.Offset), max(s.hi, m.Offset)
	}
	parts := make([]string, len(order))
	for i, p := range order {
		parts[i] = fmt.Sprintf("%d:%d-%d", p, spans[p].lo, spans[p].hi)
	}
	return strings.Join(parts, " ")
}
