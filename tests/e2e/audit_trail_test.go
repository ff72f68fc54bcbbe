package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestRequestsRecordedInAuditTrail checks that the function edge records every request in the
// tenant's audit trail (through Kafka and AuditAppend's trigger): a few calls, then the admin
// query shows each with its route, outcome and status, a user as a pseudonym (never the user
// id, in the actor or the path), an unauthenticated call as anonymous, and no health check.
func TestRequestsRecordedInAuditTrail(t *testing.T) {
	c := api()
	ten, err := createTenant(c, "trail-"+suffix)
	if err != nil {
		t.Fatal(err)
	}
	key := hdr{"X-Api-Key": ten.apiKey}
	rex, err := registerAndLogin(c, ten, "rex")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, c.do(t, "GET", "/v1/users/me", bearer(rex.token), nil), http.StatusOK)
	mustStatus(t, c.do(t, "GET", "/v1/users/"+rex.id+"?token=not-recorded", bearer(rex.token), nil), http.StatusOK)
	c.do(t, "GET", "/health", hdr{"X-Tenant-ID": ten.id}, nil)
	bad := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": ten.id}, map[string]string{"email": rex.email, "password": "wrong password"})
	if bad.status < 400 {
		t.Fatalf("login with a wrong password: %s", bad)
	}

	type want struct {
		action, actorType, outcome string
		status                     int
	}
	wants := []want{
		// Registration checks the API key itself, behind no authorizer: the edge records the
		// tenant the key names, the caller as anonymous.
		{"POST /v1/auth/register", "anonymous", "success", http.StatusCreated},
		{"POST /v1/auth/login", "anonymous", "success", http.StatusOK},
		{"POST /v1/auth/login", "anonymous", "failure", bad.status},
		{"GET /v1/users/me", "user", "success", http.StatusOK},
		{"GET /v1/users/{id}", "user", "success", http.StatusOK},
	}
	// The polls are recorded too, so each asks for the records of one action.
	actions := []string{"POST /v1/auth/register", "POST /v1/auth/login", "GET /v1/users/me", "GET /v1/users/{id}", "GET /health"}
	var items []map[string]any
	var raw string
	deadline := time.Now().Add(90 * time.Second)
	for {
		items, raw = nil, ""
		for _, a := range actions {
			r := c.do(t, "GET", "/v1/audit/events?limit=50&action="+url.QueryEscape(a), key, nil)
			if !wantStatus(t, r, http.StatusOK) {
				return
			}
			items, raw = append(items, r.items()...), raw+r.String()
		}
		missing := 0
		for _, w := range wants {
			if find(items, w.action, w.actorType, w.outcome, w.status) == nil {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s, %d of the requests are not in the trail: %s", missing, raw)
		}
		time.Sleep(250 * time.Millisecond)
	}

	if strings.Contains(raw, rex.id) {
		t.Errorf("the trail shows the user id: %s", raw)
	}
	if strings.Contains(raw, "not-recorded") || strings.Contains(raw, rex.token) {
		t.Errorf("the trail shows a query string or a token: %s", raw)
	}
	me := find(items, "GET /v1/users/me", "user", "success", http.StatusOK)
	actor := me["actor"].(map[string]any)
	if !strings.HasPrefix(actor["id"].(string), "psn_") {
		t.Errorf("a user actor is not a pseudonym: %v", actor)
	}
	if me["ip"] == "" || me["request_id"] == "" || me["resource"] != "/v1/users/me" {
		t.Errorf("record of GET /v1/users/me: %v", me)
	}
	byID := find(items, "GET /v1/users/{id}", "user", "success", http.StatusOK)
	if byID["resource"] != "/v1/users/"+actor["id"].(string) {
		t.Errorf("the path's user id is not the user's pseudonym: resource %v, actor %v", byID["resource"], actor["id"])
	}
	for _, it := range items {
		if a, _ := it["action"].(string); strings.Contains(a, "/health") || strings.Contains(a, "/ready") {
			b, _ := json.Marshal(it)
			t.Errorf("a health check is recorded: %s", b)
		}
	}
	r := c.do(t, "POST", "/v1/audit/verify", key, map[string]any{})
	if wantStatus(t, r, http.StatusOK) && r.obj()["valid"] != true {
		t.Errorf("verify: %s", r)
	}

	// In transit too, on the audit topic, the user is named by pseudonym only.
	meRec := find(items, "GET /v1/users/me", "user", "success", http.StatusOK)
	meActor, _ := meRec["actor"].(map[string]any)
	pseudonym, _ := meActor["id"].(string)
	values, rerr := readTopic(kafkaBrokers(t), auditTopic)
	if rerr != nil {
		t.Fatal(rerr)
	}
	named := 0
	for _, v := range values {
		if bytes.Contains(v, []byte(rex.id)) {
			t.Fatalf("a record on %s names the user id: %s", auditTopic, v)
		}
		if bytes.Contains(v, []byte(pseudonym)) {
			named++
		}
	}
	if pseudonym == "" || named == 0 {
		t.Errorf("no record on %s names the user's pseudonym %q (%d records read)", auditTopic, pseudonym, len(values))
	}
}

// auditTopic is CAAS_AUDIT_TOPIC in template.yaml.
const auditTopic = "caas.audit"

// readTopic returns the value of every record on topic, read from the start of each partition
// until none arrives for two seconds.
func readTopic(brokers []string, topic string) ([][]byte, error) {
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("dial kafka %s: %w", brokers[0], err)
	}
	partitions, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("read partitions of %s: %w", topic, err)
	}
	var out [][]byte
	for _, p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 200 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return nil, fmt.Errorf("seek %s/%d: %w", topic, p.ID, err)
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			out = append(out, m.Value)
		}
		r.Close()
	}
	return out, nil
}

// find returns the first record with the action, actor type, outcome and status, or nil.
func find(items []map[string]any, action, actorType, outcome string, status int) map[string]any {
	for _, it := range items {
		a, _ := it["actor"].(map[string]any)
		if it["action"] == action && a["type"] == actorType && it["outcome"] == outcome && it["status"] == float64(status) {
			return it
		}
	}
	return nil
}
