// Package kafkatrigger delivers the records of a Kafka topic to a Lambda function, as the event
// source mapping of a SelfManagedKafka or MSK event does: a consumer group reads the topic,
// records are gathered into batches of up to BatchSize or for up to the batching window, and
// each batch is one invocation with an events.KafkaEvent. A batch the function fails (error,
// timeout or crash) is invoked again, the same records, after an exponential backoff, until it
// succeeds; the group's offsets move past a batch only then. Nothing is lost, and a record may
// be delivered more than once, so functions must be idempotent.
package kafkatrigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"caas.dev/shared/runtime/template"
)

// Defaults of Options.
const (
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = 30 * time.Second
	DefaultJoinTimeout = time.Minute
)

// InvokeFunc invokes function with payload and waits for the outcome. A function error, a
// timeout and a crash are errors.
type InvokeFunc func(ctx context.Context, function string, payload []byte) error

// Delivery is the settled outcome of one attempt at a batch: after the commit of a delivered
// batch, or once a failed one is known to be left uncommitted.
type Delivery struct {
	Function, Event string
	Records         int
	Attempt         int   // 1 for the first invocation of the batch
	Err             error // the invocation's error; nil when the function succeeded
}

// Options configures Start.
type Options struct {
	// Brokers is the cluster consumed: the runtime's KAFKA_BROKERS, never the template's.
	Brokers []string
	Invoke  InvokeFunc
	Logger  *slog.Logger
	// RetryMin and RetryMax bound the exponential backoff between attempts at a failed batch.
	RetryMin, RetryMax time.Duration
	// JoinTimeout bounds Start's wait for the consumer group's first generation.
	JoinTimeout time.Duration
	// OnDelivery, when set, sees every attempt once it is settled. Tests use it.
	OnDelivery func(Delivery)
}

// Trigger is one running Kafka event source.
type Trigger struct {
	fn     string
	ev     template.KafkaEvent
	opts   Options
	log    *slog.Logger
	client *kafka.Client
	cg     *kafka.ConsumerGroup

	// stopCtx ends at Stop: fetching and backoff waits end; an invocation under way goes on.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	// invokeCtx ends when Stop gives up waiting; it abandons a wait for a free instance.
	invokeCtx    context.Context
	cancelInvoke context.CancelFunc
	done         chan struct{}
}

// Start joins the consumer group of ev and returns once this member holds its partitions and
// knows where each one starts, so a record produced after Start returns is delivered even with
// StartingPosition LATEST. Delivery goes on in the background until Stop.
func Start(ctx context.Context, function string, ev template.KafkaEvent, opts Options) (_ *Trigger, err error) {
	if len(opts.Brokers) == 0 || opts.Invoke == nil {
		return nil, errors.New("kafka trigger: brokers and an invoke function are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(DefaultRetryMax, opts.RetryMin)
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = DefaultJoinTimeout
	}
	t := &Trigger{
		fn: function, ev: ev, opts: opts,
		log:    opts.Logger.With("function", function, "event", ev.Name, "topic", ev.Topic, "group", ev.ConsumerGroupID),
		client: &kafka.Client{Addr: kafka.TCP(opts.Brokers...), Timeout: 10 * time.Second},
		done:   make(chan struct{}),
	}
	t.stopCtx, t.stopCancel = context.WithCancel(context.Background())
	t.invokeCtx, t.cancelInvoke = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			t.stopCancel()
			t.cancelInvoke()
		}
	}()

	joinCtx, cancel := context.WithTimeout(ctx, opts.JoinTimeout)
	defer cancel()
	if err := t.ensureTopic(joinCtx); err != nil {
		return nil, err
	}
	start := kafka.FirstOffset
	if ev.StartingPosition != template.TrimHorizon {
		start = kafka.LastOffset // resolved by positions, never by a reader
	}
	debug := kafka.LoggerFunc(func(msg string, args ...any) { t.log.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) })
	t.cg, err = kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: ev.ConsumerGroupID, Brokers: opts.Brokers, Topics: []string{ev.Topic},
		StartOffset: start, WatchPartitionChanges: true, JoinGroupBackoff: 500 * time.Millisecond,
		Timeout: 10 * time.Second, ErrorLogger: debug,
	})
	if err != nil {
		return nil, fmt.Errorf("kafka trigger %s.%s: consumer group: %w", function, ev.Name, err)
	}
	gen, positions, err := t.join(joinCtx)
	if err != nil {
		_ = t.cg.Close()
		return nil, fmt.Errorf("kafka trigger %s.%s: join consumer group %s: %w", function, ev.Name, ev.ConsumerGroupID, err)
	}
	t.log.Info("kafka trigger joined", "partitions", len(positions), "starting_position", ev.StartingPosition,
		"batch_size", ev.BatchSize, "batching_window", ev.BatchingWindow.String())
	go t.run(gen, positions)
	return t, nil
}

// Stop stops fetching and leaves the group. An invocation under way may finish until ctx ends,
// and its batch is committed if the function succeeded; a batch not delivered is not committed,
// so the next run delivers it again. Stop may be called more than once.
func (t *Trigger) Stop(ctx context.Context) {
	t.stopCancel()
	select {
	case <-t.done:
	case <-ctx.Done():
		t.log.Warn("kafka trigger still invoking at shutdown; its batch stays uncommitted unless it succeeds")
		t.cancelInvoke()
	}
}

// Done is closed once the trigger has stopped and left the consumer group.
func (t *Trigger) Done() <-chan struct{} { return t.done }

// join waits for a generation of the group and resolves where each of its partitions starts.
// Errors while the group forms (a coordinator not yet elected, say) are retried until ctx ends.
func (t *Trigger) join(ctx context.Context) (*kafka.Generation, map[int]int64, error) {
	for {
		gen, err := t.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil, nil, err
			}
			t.log.Debug("consumer group not joined yet", "error", err)
			continue
		}
		positions, err := t.positions(ctx, gen)
		if err == nil {
			return gen, positions, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		// The generation is useless without its positions: give it up and join again.
		t.log.Warn("kafka trigger: read starting offsets failed; joining again", "error", err)
		gen.Start(func(context.Context) {})
	}
}

// run consumes each generation in turn until Stop, then leaves the group.
func (t *Trigger) run(gen *kafka.Generation, positions map[int]int64) {
	defer close(t.done)
	defer func() {
		if err := t.cg.Close(); err != nil {
			t.log.Warn("kafka trigger: leave consumer group", "error", err)
		}
		t.log.Info("kafka trigger stopped")
	}()
	for {
		t.consume(gen, positions)
		if t.stopCtx.Err() != nil {
			return
		}
		var err error
		if gen, positions, err = t.join(t.stopCtx); err != nil {
			if t.stopCtx.Err() == nil {
				t.log.Error("kafka trigger: consumer group lost", "error", err)
			}
			return
		}
		t.log.Info("kafka trigger rejoined", "generation", gen.ID, "partitions", len(positions))
	}
}

// ensureTopic creates the topic when the cluster does not have it, with the broker's default
// partition count, as a broker with topic auto-creation would.
func (t *Trigger) ensureTopic(ctx context.Context) error {
	md, err := t.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{t.ev.Topic}})
	if err != nil {
		return fmt.Errorf("kafka trigger: read metadata of %s: %w", t.ev.Topic, err)
	}
	for _, tp := range md.Topics {
		if tp.Name == t.ev.Topic && tp.Error == nil && len(tp.Partitions) > 0 {
			return nil
		}
	}
	res, err := t.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: t.ev.Topic, NumPartitions: -1, ReplicationFactor: -1}},
	})
	if err == nil {
		err = res.Errors[t.ev.Topic]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("kafka trigger: create topic %s: %w", t.ev.Topic, err)
	}
	t.log.Info("kafka trigger created its topic")
	return nil
}

// positions returns where each partition of gen starts: the committed offset, else the
// starting position. LATEST and AT_TIMESTAMP are resolved to offsets now and committed, so the
// records produced from this moment on are delivered, in this run and the next. TRIM_HORIZON
// is left to the reader: the earliest offset cannot move past a record not yet read.
func (t *Trigger) positions(ctx context.Context, gen *kafka.Generation) (map[int]int64, error) {
	positions := map[int]int64{}
	var unresolved []kafka.OffsetRequest
	for _, a := range gen.Assignments[t.ev.Topic] {
		positions[a.ID] = a.Offset
		if a.Offset >= 0 || t.ev.StartingPosition == template.TrimHorizon {
			continue
		}
		if t.ev.StartingPosition == template.AtTimestamp {
			unresolved = append(unresolved, kafka.TimeOffsetOf(a.ID, t.ev.StartingTimestamp))
		} else {
			unresolved = append(unresolved, kafka.LastOffsetOf(a.ID))
		}
	}
	if len(unresolved) == 0 {
		return positions, nil
	}
	resolved, err := t.listOffsets(ctx, unresolved)
	if err != nil {
		return nil, err
	}
	var latest []kafka.OffsetRequest // partitions with no record at or after the timestamp
	for p, off := range resolved {
		if off < 0 {
			latest = append(latest, kafka.LastOffsetOf(p))
			continue
		}
		positions[p] = off
	}
	if len(latest) > 0 {
		ends, err := t.listOffsets(ctx, latest)
		if err != nil {
			return nil, err
		}
		for p, off := range ends {
			positions[p] = off
		}
	}
	commit := map[int]int64{}
	for _, r := range unresolved {
		commit[r.Partition] = positions[r.Partition]
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{t.ev.Topic: commit}); err != nil {
		return nil, fmt.Errorf("commit starting offsets: %w", err)
	}
	return positions, nil
}

// listOffsets asks for one kind of offset (all requests alike) and returns it per partition,
// -1 where the broker has none.
func (t *Trigger) listOffsets(ctx context.Context, reqs []kafka.OffsetRequest) (map[int]int64, error) {
	res, err := t.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{t.ev.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", t.ev.Topic, err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[t.ev.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s partition %d: %w", t.ev.Topic, po.Partition, po.Error)
		}
		// The client files an answer by the timestamp it carries, and brokers answer
		// "earliest", "latest" and "none after that time" alike with -1: take whichever it filled.
		off := int64(-1)
		for o := range po.Offsets {
			off = o
		}
		if off < 0 {
			off = max(po.LastOffset, po.FirstOffset)
		}
		out[po.Partition] = off
	}
	return out, nil
}
