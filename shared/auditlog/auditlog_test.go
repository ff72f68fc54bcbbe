package auditlog_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/audit"
	"caas.dev/shared/auditlog"
	"caas.dev/shared/backendtest"
	"caas.dev/shared/edge"
	"caas.dev/shared/embedded"
	"caas.dev/shared/ids"
	"caas.dev/shared/kafka"
	"caas.dev/shared/mongo"
	"caas.dev/shared/mongo/mongotest"
	"caas.dev/shared/tenant"
)

var quiet = slog.New(slog.DiscardHandler)

// userRequest is an API Gateway event of a user's request to GET path?q=secret.
func userRequest(tenantID, userID, path string, n int) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: "GET /v1/users/{id}", RawPath: path, RawQueryString: "token=s3cret",
		Headers: map[string]string{"authorization": "Bearer secret-token", "user-agent": "test/1"},
	}
	ev.RequestContext.RequestID = fmt.Sprintf("req-%d", n)
	ev.RequestContext.HTTP.Method = http.MethodGet
	ev.RequestContext.HTTP.Path = path
	ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
	ev.RequestContext.HTTP.UserAgent = "test/1"
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		Lambda: map[string]any{edge.ContextTenantID: tenantID, edge.ContextUserID: userID,
			edge.ContextSessionID: "ses_1", edge.ContextRole: "user", edge.ContextActor: edge.ActorUser},
	}
	return ev
}

func ok(context.Context, *edge.Request) (*edge.Response, error) {
	return edge.JSON(http.StatusOK, map[string]string{"ok": "yes"})
}

// consume reads topic from its start until want messages arrived, then for settle longer, and
// returns every message read.
func consume(t *testing.T, brokers, topic string, want int, settle time.Duration) []kafkago.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: strings.Split(brokers, ","), Topic: topic,
		GroupID: "test-" + ids.Random{}.New("grp"), StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafkago.Message
	deadline := time.Now().Add(30 * time.Second)
	for {
		until := deadline
		if len(out) >= want {
			until = time.Now().Add(settle)
		}
		ctx, cancel := context.WithDeadline(context.Background(), until)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			if len(out) < want {
				t.Fatalf("read %d of %d messages from %s: %v", len(out), want, topic, err)
			}
			return out
		}
		out = append(out, m)
	}
}

func TestRecorderPublishesToKafkaOnce(t *testing.T) {
	brokers := backendtest.KafkaBrokers(t)
	topic := "caas.audit.test." + strings.ToLower(ids.Random{}.New("t"))
	// The recorder tries each write once, so its topic exists before traffic, as Migrate and
	// caas run make sure; a broker's first write to an unknown topic may fail while it is created.
	if err := kafka.EnsureTopics(t.Context(), brokers, 1, topic); err != nil {
		t.Fatal(err)
	}
	w, err := kafka.NewRecordWriter(brokers, topic, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h := edge.HTTPRecorded(quiet, &auditlog.Recorder{Kafka: w}, ok)
	tenantID, userID := ids.Random{}.New(ids.Tenant), ids.Random{}.New(ids.User)

	resp, err := h(context.Background(), userRequest(tenantID, userID, "/v1/users/"+userID, 1))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("response %d, %v", resp.StatusCode, err)
	}
	// Probes are not recorded.
	probe := events.APIGatewayV2HTTPRequest{RouteKey: "GET /health", RawPath: "/health"}
	probe.RequestContext.HTTP.Method = http.MethodGet
	if _, err := h(context.Background(), probe); err != nil {
		t.Fatal(err)
	}

	msgs := consume(t, brokers, topic, 1, 2*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the topic, want 1", len(msgs))
	}
	if string(msgs[0].Key) != tenantID {
		t.Errorf("key %q, want the tenant id", msgs[0].Key)
	}
	ev, err := audit.ParseEvent(msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if !ids.Valid(ids.AuditRecord, ev.ID) || ev.TenantID != tenantID || ev.Actor != (audit.EventActor{Type: audit.ActorUser, ID: userID}) ||
		ev.Action != "GET /v1/users/{id}" || ev.Resource != "/v1/users/"+userID || ev.Outcome != audit.OutcomeSuccess ||
		ev.Status != 200 || ev.IP != "203.0.113.7" || ev.UserAgent != "test/1" || ev.RequestID != "req-1" || ev.Time.IsZero() {
		t.Errorf("event %+v", ev)
	}
	for _, secret := range []string{"s3cret", "secret-token", "token="} {
		if strings.Contains(string(msgs[0].Value), secret) {
			t.Errorf("the event holds %q: %s", secret, msgs[0].Value)
		}
	}
}

// trail is an audit service on backendtest Mongo with one existing tenant.
type trail struct {
	db       *mongo.Client
	svc      *audit.Service
	tenantID string
}

func newTrail(t *testing.T) trail {
	t.Helper()
	ctx := context.Background()
	db := mongotest.Open(t)
	svc, err := audit.New(audit.Config{Store: db.Audit(), Secrets: mongotest.Keys(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	tr := trail{db: db, svc: svc, tenantID: ids.Random{}.New(ids.Tenant)}
	if err := db.Tenants().CreateTenant(ctx, tenant.Tenant{ID: tr.tenantID, Name: "audit " + tr.tenantID,
		APIKeyHash: "h" + tr.tenantID, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestKafkaStoppedDuringTrafficEveryRequestOnce drives requests through the edge, stops Kafka
// halfway, drains the outbox and ingests what the topic got: every request is in the chain
// exactly once and the chain verifies.
func TestKafkaStoppedDuringTrafficEveryRequestOnce(t *testing.T) {
	const n = 16
	ctx := context.Background()
	topic := "caas.audit"
	kb, err := embedded.Start(ctx, embedded.Options{Kafka: true, Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kb.Close() })
	tr := newTrail(t)
	w, err := kafka.NewRecordWriter(kb.KafkaBrokers, topic, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	outbox := tr.db.AuditOutbox()
	h := edge.HTTPRecorded(quiet, &auditlog.Recorder{Kafka: w, Outbox: outbox, Pseudonyms: tr.svc, Timeout: 300 * time.Millisecond}, ok)
	userID := ids.Random{}.New(ids.User)
	pseudonym, err := tr.svc.Pseudonym(ctx, tr.tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	request := func(i int) {
		resp, err := h(ctx, userRequest(tr.tenantID, userID, "/v1/users/"+userID, i))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d, %v", i, resp.StatusCode, err)
		}
	}

	for i := range n / 2 {
		request(i)
	}
	// The consumer reads what Kafka took before it stops.
	msgs := consume(t, kb.KafkaBrokers, topic, n/2, time.Second)
	if err := kb.Close(); err != nil {
		t.Fatal(err)
	}
	for i := n / 2; i < n; i++ {
		request(i)
	}
	waiting, err := outbox.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waiting < n/2 {
		t.Fatalf("%d records in the outbox after Kafka stopped, want at least %d", waiting, n/2)
	}
	// In transit, on the topic as in the outbox, users are named by pseudonym only.
	entries, err := outbox.Oldest(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	transit := make([][]byte, 0, n)
	for _, m := range msgs {
		transit = append(transit, m.Value)
	}
	for _, e := range entries {
		transit = append(transit, e.Event)
	}
	for _, v := range transit {
		if strings.Contains(string(v), userID) || !strings.Contains(string(v), pseudonym) {
			t.Fatalf("a record in transit names the user otherwise than by pseudonym: %s", v)
		}
	}

	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	dr, err := auditlog.Drain(dctx, outbox, tr.svc, tr.db.Tenants())
	if err != nil {
		t.Fatal(err)
	}
	if dr.Deleted != int(waiting) {
		t.Errorf("drain %+v; want every one of %d entries deleted", dr, waiting)
	}
	if left, _ := outbox.Count(ctx); left != 0 {
		t.Errorf("%d entries left in the outbox", left)
	}
	// The topic's batch, delivered twice as a failed trigger would.
	kev := events.KafkaEvent{EventSource: "SelfManagedKafka", Records: map[string][]events.KafkaRecord{}}
	for _, m := range msgs {
		kev.Records[topic] = append(kev.Records[topic], events.KafkaRecord{Topic: topic, Value: encode(m.Value)})
	}
	evs, malformed := auditlog.KafkaEvents(kev)
	if malformed != 0 || len(evs) != len(msgs) {
		t.Fatalf("%d events, %d malformed, from %d messages", len(evs), malformed, len(msgs))
	}
	for range 2 {
		if _, err := tr.svc.Ingest(ctx, tr.db.Tenants(), evs); err != nil {
			t.Fatal(err)
		}
	}

	recs, err := tr.db.Audit().Records(ctx, tr.tenantID, 1, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.RequestID]++
		if r.Actor.ID != pseudonym || r.Resource != "/v1/users/"+pseudonym {
			t.Errorf("record %s: actor %q resource %q, want the user's pseudonym in both", r.ID, r.Actor.ID, r.Resource)
		}
	}
	if len(recs) != n {
		t.Errorf("%d records in the chain, want %d", len(recs), n)
	}
	for i := range n {
		if c := seen[fmt.Sprintf("req-%d", i)]; c != 1 {
			t.Errorf("request req-%d is in the chain %d times", i, c)
		}
	}
	v, err := tr.svc.Verify(ctx, tr.tenantID, 1, 0)
	if err != nil || !v.Valid || v.HeadSeq != n {
		t.Fatalf("verify %+v, %v", v, err)
	}
}

func TestRecorderReportsLossWhenBothFail(t *testing.T) {
	w, err := kafka.NewRecordWriter("127.0.0.1:1", "caas.audit", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := &auditlog.Recorder{Kafka: w, Timeout: 200 * time.Millisecond}
	err = rec.Record(context.Background(), edge.AccessRecord{ID: ids.Random{}.New(ids.AuditRecord), TenantID: ids.Random{}.New(ids.Tenant),
		ActorType: edge.ActorAnonymous, ActorID: edge.ActorAnonymous, Action: "POST /v1/auth/login", Status: 401, Time: time.Now()})
	if err == nil {
		t.Fatal("a record neither Kafka nor an outbox took was reported as handed over")
	}
}

// TestRecorderOutboxCases records through the outbox alone: an unauthenticated call naming its
// tenant is recorded as anonymous, a refused one as a failure, and calls without a tenant or
// to a probe not at all.
func TestRecorderOutboxCases(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	outbox := tr.db.AuditOutbox()
	failing := func(context.Context, *edge.Request) (*edge.Response, error) { return nil, edge.Missing("email") }
	h := edge.HTTPRecorded(quiet, &auditlog.Recorder{Outbox: outbox}, failing)
	login := func(tenantHeader string) events.APIGatewayV2HTTPRequest {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/auth/login", RawPath: "/v1/auth/login",
			Headers: map[string]string{"x-tenant-id": tenantHeader}, Body: `{"password":"hunter2"}`}
		ev.RequestContext.HTTP.Method = http.MethodPost
		ev.RequestContext.RequestID = "req-" + tenantHeader
		return ev
	}
	register := login("")
	register.RouteKey, register.RawPath = "POST /v1/auth/register", "/v1/auth/register"
	register.Headers = map[string]string{"x-api-key": "caas_sk_" + tr.tenantID + "_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
	if got, ok := tenant.ParseAPIKey(register.Headers["x-api-key"]); !ok || got != tr.tenantID {
		t.Fatalf("the sample API key is not one package tenant reads: %q, %v", got, ok)
	}
	for _, ev := range []events.APIGatewayV2HTTPRequest{login(tr.tenantID), login("not-a-tenant"), login(""), register} {
		resp, err := h(ctx, ev)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("response %d, %v; the edge answers as before", resp.StatusCode, err)
		}
	}
	entries, err := outbox.Oldest(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d outbox entries, want the two calls that named a well-formed tenant", len(entries))
	}
	// Record ids order by millisecond only: find each entry by its action.
	var ev, reg audit.Event
	var loginEntry mongo.OutboxEntry
	for _, e := range entries {
		got, err := audit.ParseEvent(e.Event)
		if err != nil {
			t.Fatal(err)
		}
		if got.Action == "POST /v1/auth/register" {
			reg = got
			if strings.Contains(string(e.Event), "caas_sk_") {
				t.Errorf("the record holds the API key: %s", e.Event)
			}
		} else {
			ev, loginEntry = got, e
		}
	}
	if reg.TenantID != tr.tenantID || reg.Actor.Type != audit.ActorAnonymous {
		t.Errorf("record of the registration: %+v", reg)
	}
	entries[0] = loginEntry
	if entries[0].ID != ev.ID || ev.TenantID != tr.tenantID || ev.Actor != (audit.EventActor{Type: audit.ActorAnonymous, ID: "anonymous"}) ||
		ev.Outcome != audit.OutcomeFailure || ev.Status != http.StatusBadRequest {
		t.Errorf("entry %s: %+v", entries[0].ID, ev)
	}
	if strings.Contains(string(entries[0].Event), "hunter2") {
		t.Error("the record holds the request body")
	}
}

func encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func BenchmarkRecordToKafka(b *testing.B) {
	brokers := backendtest.KafkaBrokers(b)
	if err := kafka.EnsureTopics(context.Background(), brokers, 1, "caas.audit.bench"); err != nil {
		b.Fatal(err)
	}
	w, err := kafka.NewRecordWriter(brokers, "caas.audit.bench", 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rec := &auditlog.Recorder{Kafka: w, Timeout: 5 * time.Second}
	r := edge.AccessRecord{TenantID: ids.Random{}.New(ids.Tenant), ActorType: edge.ActorAPIKey, ActorID: edge.ActorAPIKey,
		Action: "GET /v1/conversations", Resource: "/v1/conversations", Status: 200, IP: "203.0.113.7",
		UserAgent: "bench/1", RequestID: "req", Time: time.Now()}
	b.ResetTimer()
	for range b.N {
		r.ID = ids.Random{}.New(ids.AuditRecord)
		if err := rec.Record(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
