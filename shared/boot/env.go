package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"caas.dev/shared/identity"
	"caas.dev/shared/kafka"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
	"caas.dev/shared/redis"
)

// Env is a function's environment during its cold start: its logger, the variables every
// function reads and the clients opened from them. Each method reads and validates the
// variables it needs and names a missing one in its error. Mongo opens one client per Env;
// Redis and Publisher open a new client on each call, so setup calls them once.
type Env struct {
	// Log is the function's logger; handlers that log outside the HTTP edge keep it.
	Log *slog.Logger

	getenv func(string) string
	db     *mongo.Client
	keys   *keys.Service
	// secrets are the strings the init failure log must not show: URIs and their credentials.
	secrets []string
}

// NewEnv returns an Env that logs to log and reads variables through getenv (os.Getenv in a
// function, a map in tests).
func NewEnv(log *slog.Logger, getenv func(string) string) *Env {
	return &Env{Log: log, getenv: getenv}
}

// Getenv returns the variable name, empty when unset, for a value only one function reads; the
// function validates it.
func (e *Env) Getenv(name string) string { return e.getenv(name) }

// require returns the variable name, or an error naming it when it is unset or empty.
func (e *Env) require(name string) (string, error) {
	v := e.getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is required", name)
	}
	return v, nil
}

// Mongo returns the MongoDB client of MONGO_URI, opened on the first call.
func (e *Env) Mongo(ctx context.Context) (*mongo.Client, error) {
	if e.db != nil {
		return e.db, nil
	}
	uri, err := e.require("MONGO_URI")
	if err != nil {
		return nil, err
	}
	e.addSecretURI(uri)
	db, err := mongo.Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	e.db = db
	return db, nil
}

// Redis opens the Redis client of REDIS_URL.
func (e *Env) Redis() (*redis.Client, error) {
	url, err := e.require("REDIS_URL")
	if err != nil {
		return nil, err
	}
	e.addSecretURI(url)
	return redis.Open(url)
}

// KafkaBrokers returns KAFKA_BROKERS, the comma-separated Kafka bootstrap brokers.
func (e *Env) KafkaBrokers() (string, error) { return e.require("KAFKA_BROKERS") }

// Publisher opens the Kafka publisher of message events: to the topic CAAS_MESSAGES_TOPIC on
// the brokers KAFKA_BROKERS.
func (e *Env) Publisher() (*kafka.Publisher, error) {
	brokers, err := e.KafkaBrokers()
	if err != nil {
		return nil, err
	}
	topic, err := e.require("CAAS_MESSAGES_TOPIC")
	if err != nil {
		return nil, err
	}
	return kafka.NewPublisher(brokers, topic)
}

// Topics returns the topics CAAS_MESSAGES_TOPIC names, comma-separated, blanks dropped.
func (e *Env) Topics() ([]string, error) {
	var topics []string
	for _, t := range strings.Split(e.getenv("CAAS_MESSAGES_TOPIC"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil, errors.New("CAAS_MESSAGES_TOPIC is required")
	}
	return topics, nil
}

// Tokens returns the access token configuration: CAAS_JWT_ISSUER, CAAS_JWT_AUDIENCE and
// CAAS_ACCESS_TOKEN_TTL, validated by identity.TokenConfigFromEnv.
func (e *Env) Tokens() (identity.TokenConfig, error) {
	tc, err := identity.TokenConfigFromEnv(e.getenv)
	if err != nil {
		return tc, fmt.Errorf("token config: %w", err)
	}
	return tc, nil
}

// addSecretURI keeps uri and its user info (user:password) out of the init failure log. A
// driver's parse error can quote the URI, so the quoted forms are kept out too.
func (e *Env) addSecretURI(uri string) {
	parts := []string{uri}
	rest := uri
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+len("://"):]
	}
	if i := strings.LastIndex(rest, "@"); i > 0 {
		parts = append(parts, rest[:i])
	}
	for _, p := range parts {
		e.secrets = append(e.secrets, p, strings.Trim(strconv.Quote(p), `"`))
	}
}

// redact returns s with every secret replaced.
func (e *Env) redact(s string) string {
	for _, secret := range e.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	return s
}

// reportInitFailure logs err once, its secrets redacted.
func (e *Env) reportInitFailure(err error) {
	e.Log.Error("init failed", "error", e.redact(err.Error()))
}
