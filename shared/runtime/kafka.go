package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"caas.dev/shared/runtime/kafkatrigger"
	"caas.dev/shared/runtime/template"
)

// KafkaTriggersEnv names the variable that turns the SelfManagedKafka and MSK event sources off
// when set to "off": no consumer group is joined and no record is delivered.
const KafkaTriggersEnv = "CAAS_KAFKA_TRIGGERS"

// onKafkaDelivery, when set, sees every settled attempt of every Kafka trigger. Tests use it.
var onKafkaDelivery func(kafkatrigger.Delivery)

// kafkaTriggers are the running Kafka event sources of a template.
type kafkaTriggers struct {
	list []*kafkatrigger.Trigger
}

// startKafkaTriggers joins the consumer group of every enabled Kafka event of tmpl on brokers,
// all at once, and returns when each has joined: a record produced after that is delivered,
// whatever the starting position. On error the triggers already started are stopped.
func startKafkaTriggers(ctx context.Context, tmpl *template.Template, brokers string, inv invoker,
	getenv func(string) string, logger *slog.Logger) (*kafkaTriggers, error) {
	type source struct {
		fn string
		ev template.KafkaEvent
	}
	var sources []source
	for _, fn := range tmpl.FunctionNames() {
		for _, ev := range tmpl.Functions[fn].KafkaEvents {
			if !ev.Enabled {
				logger.Info("kafka trigger disabled in the template", "function", fn, "event", ev.Name, "topic", ev.Topic)
				continue
			}
			sources = append(sources, source{fn, ev})
		}
	}
	k := &kafkaTriggers{}
	if len(sources) == 0 {
		return k, nil
	}
	if getenv(KafkaTriggersEnv) == "off" {
		logger.Info("kafka triggers not started: "+KafkaTriggersEnv+"=off", "triggers", len(sources))
		return k, nil
	}
	if brokers == "" {
		return nil, errors.New("the template has Kafka events but no Kafka is configured (set KAFKA_BROKERS, or " + KafkaTriggersEnv + "=off)")
	}
	opts := kafkatrigger.Options{
		Brokers: strings.Split(brokers, ","), Logger: logger, OnDelivery: onKafkaDelivery,
		Invoke: func(ctx context.Context, fn string, payload []byte) error {
			_, err := inv.Invoke(ctx, fn, payload)
			return err
		},
	}

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := kafkatrigger.Start(ctx, s.fn, s.ev, opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("function %s: event %s: %w", s.fn, s.ev.Name, err))
				return
			}
			k.list = append(k.list, tr)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		k.stop(context.Background())
		return nil, err
	}
	return k, nil
}

// stop stops every trigger at once and waits for them, or for ctx: an invocation under way
// may finish until then. It may be called more than once.
func (k *kafkaTriggers) stop(ctx context.Context) {
	var wg sync.WaitGroup
	for _, tr := range k.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.Stop(ctx)
		}()
	}
	wg.Wait()
}
