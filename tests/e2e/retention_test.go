package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestRetention sets a 30-day message policy on a tenant of its own through the API, ages some
// of its messages in the database (a test cannot wait 30 days), puts a legal hold on one
// conversation, and invokes the scheduled Retention function as EventBridge would (through
// `caas invoke` on the same state directory as the running platform). The old messages are gone
// from the API, the young and the held ones remain, and the run left an audit record with its
// counts.
func TestRetention(t *testing.T) {
	c := api()
	ten, err := createTenant(c, "retention-"+suffix)
	if err != nil {
		t.Fatal(err)
	}
	key := hdr{"X-Api-Key": ten.apiKey}
	ann, err := registerAndLogin(c, ten, "ann")
	if err != nil {
		t.Fatal(err)
	}
	ben, err := registerAndLogin(c, ten, "ben")
	if err != nil {
		t.Fatal(err)
	}
	kept := createConversation(t, c, ann, "group", "kept short", ben.id)
	held := createConversation(t, c, ann, "group", "on hold", ben.id)
	send := func(conv, id string) string {
		t.Helper()
		r := c.do(t, "POST", "/v1/conversations/"+conv+"/messages", bearer(ann.token),
			map[string]string{"client_msg_id": id, "body": "retention " + id})
		mustStatus(t, r, http.StatusCreated)
		return r.str("id")
	}
	old1, old2, young, heldOld := send(kept, "r1"), send(kept, "r2"), send(kept, "r3"), send(held, "r4")

	// Age three messages by 40 days, directly in the platform's database.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mc, err := driver.Connect(ctx, options.Client().ApplyURI(backendsOf(t, the).MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	for _, id := range []string{old1, old2, heldOld} {
		res, err := mc.Database("caas_platform").Collection("messages").UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "created_at", Value: time.Now().UTC().Add(-40 * 24 * time.Hour)}}}})
		if err != nil || res.MatchedCount != 1 {
			t.Fatalf("age message %s: %v, %+v", id, err, res)
		}
	}

	// The hold comes first: a scheduled run may fire at any time once the policy is set.
	r := c.do(t, "POST", "/v1/retention/holds", key, map[string]any{"conversation_id": held, "reason": "e2e legal hold"})
	mustStatus(t, r, http.StatusCreated)
	r = c.do(t, "PUT", "/v1/retention/policy", bearer(ann.token), map[string]any{"messages_days": 30})
	wantProblem(t, r, http.StatusForbidden, "admin_required")
	r = c.do(t, "PUT", "/v1/retention/policy", key, map[string]any{"messages_days": 30, "audit_records_days": 30})
	wantProblem(t, r, http.StatusBadRequest, "retention_below_floor")
	r = c.do(t, "PUT", "/v1/retention/policy", key, map[string]any{"messages_days": 30})
	if wantStatus(t, r, http.StatusOK) && r.num("messages_days") != 30 {
		t.Fatalf("put policy: %s", r)
	}

	out := invokeRetention(t)
	var run struct {
		Tenants []struct {
			TenantID string         `json:"tenant_id"`
			Deleted  map[string]int `json:"deleted"`
			Finished bool           `json:"finished"`
			Error    string         `json:"error"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal(out, &run); err != nil {
		t.Fatalf("Retention answered %q: %v", out, err)
	}
	found := false
	for _, tr := range run.Tenants {
		if tr.TenantID == ten.id {
			found = true
			// 2, unless the platform's own schedule fired in between and deleted them first:
			// the audit records below count every run.
			if (tr.Deleted["messages"] != 2 && tr.Deleted["messages"] != 0) || !tr.Finished || tr.Error != "" {
				t.Errorf("the run for the tenant: %+v, want 2 messages deleted", tr)
			}
		}
	}
	if !found {
		t.Fatalf("the run did not visit the tenant: %s", out)
	}

	list := func(conv string) []string {
		t.Helper()
		r := c.do(t, "GET", "/v1/conversations/"+conv+"/messages", bearer(ben.token), nil)
		mustStatus(t, r, http.StatusOK)
		var got []string
		for _, it := range r.items() {
			got = append(got, it["id"].(string))
		}
		return got
	}
	if got := list(kept); len(got) != 1 || got[0] != young {
		t.Errorf("messages after retention: %v, want only the young %s", got, young)
	}
	if got := list(held); len(got) != 1 || got[0] != heldOld {
		t.Errorf("messages of the held conversation: %v, want %s kept", got, heldOld)
	}

	r = c.do(t, "GET", "/v1/audit/events?action="+url.QueryEscape("RUN retention"), key, nil)
	if !wantStatus(t, r, http.StatusOK) {
		return
	}
	items := r.items()
	deleted := 0
	for _, it := range items {
		actor, _ := it["actor"].(map[string]any)
		details, _ := it["details"].(map[string]any)
		n, err := strconv.Atoi(fmt.Sprint(details["messages"]))
		if actor["type"] != "system" || actor["id"] != "retention" || err != nil || details["finished"] != "true" {
			t.Errorf("retention audit record: %v", it)
		}
		deleted += n
	}
	if len(items) == 0 || deleted != 2 {
		t.Errorf("retention audit records count %d deleted messages, want 2: %s", deleted, r)
	}
}

// invokeRetention runs the Retention function once with the sample scheduled event, through
// `caas invoke` on the running platform's state directory, and returns its answer.
func invokeRetention(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(the.binDir, "caas"), "invoke",
		"--template", filepath.Join(the.root, "template.yaml"),
		"--state-dir", the.stateDir,
		"--no-build",
		"--bin-dir", filepath.Join(the.binDir, "functions"),
		"Retention", "-e", filepath.Join(the.root, "events", "retention.json"))
	cmd.Dir = the.root
	cmd.Env = the.runtimeEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("caas invoke Retention: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}
