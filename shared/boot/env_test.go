package boot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns an Env reading vars and logging to w.
func env(vars map[string]string, w io.Writer) *Env {
	return NewEnv(slog.New(slog.NewJSONHandler(w, nil)), func(k string) string { return vars[k] })
}

// tokenVars are valid token variables.
var tokenVars = map[string]string{"CAAS_JWT_ISSUER": "https://caas.test", "CAAS_JWT_AUDIENCE": "caas"}

// with returns a copy of base with kv (key, value, key, value...) set.
func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestEnvValidation(t *testing.T) {
	ctx := context.Background()
	mongoErr := func(e *Env) error { _, err := e.Mongo(ctx); return err }
	redisErr := func(e *Env) error { _, err := e.Redis(); return err }
	pubErr := func(e *Env) error { _, err := e.Publisher(); return err }
	brokersErr := func(e *Env) error { _, err := e.KafkaBrokers(); return err }
	topicsErr := func(e *Env) error { _, err := e.Topics(); return err }
	tokensErr := func(e *Env) error { _, err := e.Tokens(); return err }
	chatErr := func(e *Env) error { _, err := e.ChatDeps(ctx); return err }
	messagesErr := func(e *Env) error { _, err := e.MessageDeps(ctx); return err }
	usersErr := func(e *Env) error { _, err := e.UserService(ctx); return err }
	loginErr := func(e *Env) error { _, err := e.LoginService(ctx, false); return err }
	tenantsErr := func(e *Env) error { _, err := e.TenantService(ctx); return err }

	tests := []struct {
		name    string
		vars    map[string]string
		call    func(*Env) error
		wantErr string // empty: no error
	}{
		{"mongo missing", nil, mongoErr, "MONGO_URI is required"},
		{"mongo bad scheme", map[string]string{"MONGO_URI": "http://db"}, mongoErr, "open mongo:"},
		{"mongo ok", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1"}, mongoErr, ""},
		{"redis missing", nil, redisErr, "REDIS_URL is required"},
		{"redis bad scheme", map[string]string{"REDIS_URL": "http://cache"}, redisErr, "open redis:"},
		{"redis ok", map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}, redisErr, ""},
		{"brokers missing", nil, brokersErr, "KAFKA_BROKERS is required"},
		{"publisher without brokers", map[string]string{"CAAS_MESSAGES_TOPIC": "m"}, pubErr, "KAFKA_BROKERS is required"},
		{"publisher without topic", map[string]string{"KAFKA_BROKERS": "k:9092"}, pubErr, "CAAS_MESSAGES_TOPIC is required"},
		{"publisher blank brokers", map[string]string{"KAFKA_BROKERS": " , ", "CAAS_MESSAGES_TOPIC": "m"}, pubErr, "no brokers"},
		{"publisher ok", map[string]string{"KAFKA_BROKERS": "k:9092", "CAAS_MESSAGES_TOPIC": "m"}, pubErr, ""},
		{"topics missing", nil, topicsErr, "CAAS_MESSAGES_TOPIC is required"},
		{"topics blank", map[string]string{"CAAS_MESSAGES_TOPIC": " , "}, topicsErr, "CAAS_MESSAGES_TOPIC is required"},
		{"tokens without issuer", with(tokenVars, "CAAS_JWT_ISSUER", ""), tokensErr, "token config: CAAS_JWT_ISSUER is empty"},
		{"tokens without audience", with(tokenVars, "CAAS_JWT_AUDIENCE", ""), tokensErr, "token config: CAAS_JWT_AUDIENCE is empty"},
		{"tokens ttl not a duration", with(tokenVars, "CAAS_ACCESS_TOKEN_TTL", "15"), tokensErr, "CAAS_ACCESS_TOKEN_TTL"},
		{"tokens ttl too short", with(tokenVars, "CAAS_ACCESS_TOKEN_TTL", "30s"), tokensErr, "CAAS_ACCESS_TOKEN_TTL"},
		{"tokens ttl too long", with(tokenVars, "CAAS_ACCESS_TOKEN_TTL", "25h"), tokensErr, "CAAS_ACCESS_TOKEN_TTL"},
		{"tokens ok", with(tokenVars, "CAAS_ACCESS_TOKEN_TTL", "1h"), tokensErr, ""},
		{"login bad delay after", with(tokenVars, "CAAS_LOGIN_DELAY_AFTER", "x"), loginErr, "CAAS_LOGIN_DELAY_AFTER"},
		{"login bad delay max", with(tokenVars, "CAAS_LOGIN_DELAY_MAX", "1"), loginErr, "CAAS_LOGIN_DELAY_MAX"},
		{"login bad lockout after", with(tokenVars, "CAAS_LOGIN_LOCKOUT_AFTER", "0"), loginErr, "CAAS_LOGIN_LOCKOUT_AFTER"},
		{"login bad lockout for", with(tokenVars, "CAAS_LOGIN_LOCKOUT_FOR", "-5m"), loginErr, "CAAS_LOGIN_LOCKOUT_FOR"},
		{"chat without mongo", map[string]string{"KAFKA_BROKERS": "k", "CAAS_MESSAGES_TOPIC": "m"}, chatErr, "MONGO_URI is required"},
		{"chat without topic", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1", "KAFKA_BROKERS": "k"}, chatErr, "CAAS_MESSAGES_TOPIC is required"},
		{"chat needs no master key", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1", "KAFKA_BROKERS": "k", "CAAS_MESSAGES_TOPIC": "m"},
			chatErr, ""},
		{"messages without master key", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1", "KAFKA_BROKERS": "k", "CAAS_MESSAGES_TOPIC": "m"},
			messagesErr, "CAAS_KMS_KEY_ID or CAAS_MASTER_KEY_FILE is required"},
		{"users without mongo", nil, usersErr, "MONGO_URI is required"},
		{"tenants without mongo", nil, tenantsErr, "MONGO_URI is required"},
		{"users ok", map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1"}, usersErr, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(env(tt.vars, io.Discard))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %q, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTopicsAndTokenValues(t *testing.T) {
	e := env(with(tokenVars, "CAAS_MESSAGES_TOPIC", " a, ,b ", "CAAS_ACCESS_TOKEN_TTL", "2h"), io.Discard)
	topics, err := e.Topics()
	if err != nil || !slices.Equal(topics, []string{"a", "b"}) {
		t.Fatalf("Topics() = %q, %v; want [a b]", topics, err)
	}
	tc, err := e.Tokens()
	if err != nil || tc.Issuer != "https://caas.test" || tc.Audience != "caas" || tc.TTL != 2*time.Hour {
		t.Fatalf("Tokens() = %+v, %v", tc, err)
	}
}

func TestMongoOpensOneClient(t *testing.T) {
	ctx := context.Background()
	e := env(map[string]string{"MONGO_URI": "mongodb://127.0.0.1:1"}, io.Discard)
	a, err := e.Mongo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := e.Mongo(ctx)
	if err != nil || a != b {
		t.Fatalf("second Mongo() = %p, %v; want the first client %p", b, err, a)
	}
}

func TestInitFailureHidesSecrets(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		open    func(*Env) error
		secrets []string
	}{
		{
			name:    "redis URL that does not parse",
			vars:    map[string]string{"REDIS_URL": "redis://user:s3cret-pw@cache:port/0"},
			open:    func(e *Env) error { _, err := e.Redis(); return err },
			secrets: []string{"s3cret-pw", "redis://user:s3cret-pw@cache:port/0"},
		},
		{
			name:    "redis URL quoted with escapes",
			vars:    map[string]string{"REDIS_URL": "redis://user:pa\"ss@cache:port/0"},
			open:    func(e *Env) error { _, err := e.Redis(); return err },
			secrets: []string{"pa\"ss", `pa\"ss`},
		},
		{
			name:    "mongo URI without credentials in its error",
			vars:    map[string]string{"MONGO_URI": "mongodb://admin:s3cret@db:27017/?connectTimeoutMS=x"},
			open:    func(e *Env) error { _, err := e.Mongo(context.Background()); return err },
			secrets: []string{"s3cret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := env(tt.vars, &buf)
			err := tt.open(e)
			if err == nil {
				t.Fatal("open succeeded, want an error")
			}
			e.reportInitFailure(fmt.Errorf("wrapped: %w", err))

			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatalf("log line is not JSON: %v", err)
			}
			if rec["level"] != "ERROR" || rec["msg"] != "init failed" || rec["error"] == "" {
				t.Fatalf("log line %s, want an ERROR init failed with the error", lines[0])
			}
			for _, s := range tt.secrets {
				if msg, _ := rec["error"].(string); strings.Contains(msg, s) || strings.Contains(lines[0], s) {
					t.Errorf("log line %s shows %q", lines[0], s)
				}
			}
		})
	}
}

func TestStartExitsOnInitFailure(t *testing.T) {
	defer func(f func(int)) { exit = f }(exit)
	code := -1
	exit = func(c int) { code = c }

	Start("Test", func(context.Context, *Env) (any, error) { return nil, errors.New("setup failed") })
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}
