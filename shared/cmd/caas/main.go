// Command caas runs the caas platform locally from its SAM template.
//
//	caas run     serve every function and the HTTP API, with embedded backends where needed
//	caas invoke  invoke one function once with an event, like `sam local invoke`
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"caas.dev/shared/embedded"
	"caas.dev/shared/runtime"
)

const usage = `caas runs the caas platform locally from template.yaml.

Usage:
  caas run    [flags]                      serve the HTTP API on CAAS_HTTP_ADDR (127.0.0.1:3000)
  caas invoke [flags] LogicalId -e FILE    invoke one function once; -e - reads the event from stdin;
                                           ${NAME} in the event is replaced by the variable NAME;
                                           with a caas run up, it uses that run's backends
  caas help                                show this text

Flags (both commands):
  --template FILE    the SAM template (template.yaml)
  --state-dir DIR    builds, backend data, admin key (.caas, or CAAS_STATE_DIR)
  --env-vars FILE    variable overrides as for sam local: {"Parameters": {...}, "FunctionName": {...}}
  --no-build         use the binaries in --bin-dir instead of building the functions
  --bin-dir DIR      where --no-build finds the binaries (bin/functions, as make build writes)

Backends: MONGO_URI, REDIS_URL and KAFKA_BROKERS point the functions at real services; each one
unset gets an embedded server (FerretDB on SQLite, miniredis, kfake) with data under the state
directory. The admin key is CAAS_ADMIN_KEY, else the one stored in the state directory, else a new
one, shown once.

WebSocket API: caas run serves the template's AWS::ApiGatewayV2 WebSocket API on CAAS_WS_ADDR
(127.0.0.1:3001) at ws://ADDR/STAGE, with its management API (POST, GET, DELETE
/@connections/ID; SigV4 signatures are accepted unchecked). Environment values naming the API's
AWS endpoint are pointed at it. API Gateway's limits hold: 32 KB frames, 128 KB messages, 10
minutes idle (CAAS_WS_IDLE) and 2 hours per connection (CAAS_WS_MAX_AGE), as Go durations.

Schedules: caas run fires the Schedule and ScheduleV2 events of the template as EventBridge does
(rate and cron expressions; cron in UTC or the ScheduleExpressionTimezone). CAAS_SCHEDULES=off
turns the firing off; the expressions are still checked.

Kafka triggers: caas run consumes the SelfManagedKafka and MSK events of the template from
KAFKA_BROKERS (the template's KafkaBootstrapServers and Stream are not dialled), one consumer
group each (ConsumerGroupId, else an id derived from function and event), and invokes the function
with events.KafkaEvent batches (BatchSize, MaximumBatchingWindowInSeconds). A failed batch is
invoked again, the same records, after a backoff doubling from 1 s to 30 s; offsets are committed
only after success, so records may be delivered twice, never lost. Every group has joined, and a
LATEST position is fixed and committed, before the ready line: what is produced after it is
delivered. CAAS_KAFKA_TRIGGERS=off starts no consumer.
`

// messagesTopic and auditTopic are seeded in the embedded Kafka so consumers can join before
// the first message or request record.
const (
	messagesTopic = "caas.messages"
	auditTopic    = "caas.audit"
	// exportsTopic carries GDPR export jobs to GdprExportWorker.
	exportsTopic = "caas.gdpr.exports"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "caas:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch args[0] {
	case "run":
		cfg, _, err := parseFlags("run", args[1:])
		if err != nil {
			return err
		}
		return runtime.Run(ctx, cfg)
	case "invoke":
		return invoke(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func invoke(ctx context.Context, args []string) error {
	cfg, fs, err := parseFlags("invoke", args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("invoke: want exactly one LogicalId")
	}
	eventFile := fs.Lookup("event").Value.String()
	var event []byte
	switch eventFile {
	case "":
		event = []byte("{}")
	case "-":
		event, err = io.ReadAll(os.Stdin)
	default:
		event, err = os.ReadFile(eventFile)
	}
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if event, err = expandEvent(event, eventLookup(cfg.StateDir)); err != nil {
		return err
	}
	// Stdout carries the function's response alone, so it can be piped to a JSON tool.
	cfg.Stdout = os.Stderr
	out, err := runtime.Invoke(ctx, cfg, fs.Arg(0), event)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", out)
	return err
}

func parseFlags(name string, args []string) (runtime.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	stateDir := os.Getenv("CAAS_STATE_DIR")
	if stateDir == "" {
		stateDir = ".caas"
	}
	var cfg runtime.Config
	fs.StringVar(&cfg.Template, "template", "template.yaml", "the SAM template")
	fs.StringVar(&cfg.StateDir, "state-dir", stateDir, "state directory")
	fs.StringVar(&cfg.EnvVarsFile, "env-vars", "", "variable overrides (sam local format)")
	fs.BoolVar(&cfg.NoBuild, "no-build", false, "use prebuilt binaries from --bin-dir")
	fs.StringVar(&cfg.BinDir, "bin-dir", "bin/functions", "prebuilt function binaries")
	if name == "invoke" {
		ev := fs.String("event", "", "event file, - for stdin")
		fs.StringVar(ev, "e", "", "shorthand for --event")
	}
	// Flags may follow the LogicalId, as in `caas invoke Register -e events/register.json`.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return cfg, nil, err
	}

	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg.StartBackends = startEmbedded
	return cfg, fs, nil
}

func startEmbedded(ctx context.Context, dir string, need runtime.BackendNeeds, _ *slog.Logger) (runtime.Backends, io.Closer, error) {
	b, err := embedded.Start(ctx, embedded.Options{
		Dir: dir, Mongo: need.Mongo, Redis: need.Redis, Kafka: need.Kafka,
		S3: need.S3, S3Bucket: need.S3Bucket,
		Topics: []string{messagesTopic, auditTopic, exportsTopic},
		// Only errors: the servers' warnings are protocol chatter that may quote documents.
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return runtime.Backends{}, nil, err
	}
	got := runtime.Backends{MongoURI: b.MongoURI, RedisURL: b.RedisURL, KafkaBrokers: b.KafkaBrokers}
	if b.S3Endpoint != "" {
		got.S3Endpoint, got.S3Region = b.S3Endpoint, embedded.S3Region
		got.S3AccessKeyID, got.S3SecretAccessKey = embedded.S3AccessKeyID, embedded.S3SecretAccessKey
		got.S3Bucket = need.S3Bucket
	}
	return got, b, nil
}
