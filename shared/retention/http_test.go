package retention_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
)

// call runs h as the edge would for caller (none when its tenant is empty).
func call(t *testing.T, h edge.HandlerFunc, caller edge.Identity, method, path string, params map[string]string, body string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{RawPath: path, PathParameters: params, Body: body}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.RequestID = "req-1"
	ctx := t.Context()
	if caller.TenantID != "" {
		ctx = edge.WithCaller(ctx, caller)
	}
	resp, err := h(ctx, &edge.Request{APIGatewayV2HTTPRequest: ev})
	if err != nil {
		resp = edge.ProblemFor(err, "req-1")
	}
	var out map[string]any
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, resp.Body, err)
		}
	}
	return resp.StatusCode, out
}

// callQuery runs h with query parameters q and no body.
func callQuery(t *testing.T, h edge.HandlerFunc, caller edge.Identity, method, path string, q map[string]string) (int, map[string]any) {
	t.Helper()
	wrapped := func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		req.QueryStringParameters = q
		return h(ctx, req)
	}
	return call(t, wrapped, caller, method, path, nil, "")
}

// TestHandlers drives the retention routes: only tenant admins (an admin user or the API key)
// may read or change the policy and holds; the audit floor, bad periods and bad holds are
// refused with their codes; a conversation of another tenant is not found.
func TestHandlers(t *testing.T) {
	w := newWorld(t, 10)
	h := retention.NewHandlers(w.svc)
	ten, other := ids.Random{}.New(ids.Tenant), ids.Random{}.New(ids.Tenant)
	w.seedConversation(t, ten, ten+"-c1")
	w.seedConversation(t, other, other+"-c1")
	admin := edge.Identity{TenantID: ten, UserID: "usr_admin", Role: identity.RoleAdmin, Actor: edge.ActorUser}
	key := edge.Identity{TenantID: ten, Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	user := edge.Identity{TenantID: ten, UserID: "usr_plain", Role: identity.RoleUser, Actor: edge.ActorUser}

	expect := func(status int, out map[string]any, wantStatus int, wantCode string) {
		t.Helper()
		if status != wantStatus || (wantCode != "" && out["code"] != wantCode) {
			t.Errorf("got %d %v, want %d %s", status, out, wantStatus, wantCode)
		}
	}

	st, out := call(t, h.GetPolicy, edge.Identity{}, "GET", "/v1/retention/policy", nil, "")
	expect(st, out, http.StatusUnauthorized, "")
	st, out = call(t, h.GetPolicy, user, "GET", "/v1/retention/policy", nil, "")
	expect(st, out, http.StatusForbidden, "admin_required")
	st, out = call(t, h.PutPolicy, user, "PUT", "/v1/retention/policy", nil, `{"messages_days":1}`)
	expect(st, out, http.StatusForbidden, "admin_required")
	st, out = call(t, h.Holds, user, "GET", "/v1/retention/holds", nil, "")
	expect(st, out, http.StatusForbidden, "admin_required")

	st, out = call(t, h.GetPolicy, key, "GET", "/v1/retention/policy", nil, "")
	if st != http.StatusOK || out["messages_days"] != nil || out["audit_records_floor_days"] != float64(retention.AuditFloorDays) {
		t.Fatalf("policy of a tenant without one: %d %v", st, out)
	}
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"audit_records_days":364}`)
	expect(st, out, http.StatusBadRequest, "retention_below_floor")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"messages_days":-1}`)
	expect(st, out, http.StatusBadRequest, "invalid_retention_period")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"sessions_days":36501}`)
	expect(st, out, http.StatusBadRequest, "invalid_retention_period")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"messages_days":"30"}`)
	expect(st, out, http.StatusBadRequest, "wrong_type")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"audit_records_days":0}`)
	expect(st, out, http.StatusBadRequest, "zero_retention_period")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"messages_days":1.5}`)
	expect(st, out, http.StatusBadRequest, "wrong_type")
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"messages_days":"forever","media_days":null}`)
	if st != http.StatusOK || out["messages_days"] != nil || out["media_days"] != nil {
		t.Fatalf("put a policy that keeps forever: %d %v", st, out)
	}
	st, out = call(t, h.PutPolicy, admin, "PUT", "/v1/retention/policy", nil, `{"messages_days":30,"audit_records_days":365,"exports_days":7}`)
	if st != http.StatusOK || out["messages_days"] != 30.0 || out["exports_days"] != 7.0 || out["sessions_days"] != nil || out["updated_by"] != "usr_admin" {
		t.Fatalf("put policy: %d %v", st, out)
	}
	st, out = call(t, h.GetPolicy, key, "GET", "/v1/retention/policy", nil, "")
	if st != http.StatusOK || out["messages_days"] != 30.0 || out["audit_records_days"] != 365.0 {
		t.Fatalf("get policy: %d %v", st, out)
	}
	if p, err := w.svc.Describe(t.Context(), ten); err != nil || p.MessagesDays != 30 || p.ExportsDays != 7 {
		t.Errorf("describe: %+v, %v", p, err)
	}
	if p, err := w.svc.Describe(t.Context(), other); err != nil || p != (retention.Periods{}) {
		t.Errorf("describe another tenant: %+v, %v", p, err)
	}

	conv := map[string]string{"id": ten + "-c1"}
	st, out = call(t, h.SetConversation, user, "PUT", "/v1/conversations/x/retention", conv, `{"messages_days":5}`)
	expect(st, out, http.StatusForbidden, "admin_required")
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", map[string]string{"id": other + "-c1"}, `{"messages_days":5}`)
	expect(st, out, http.StatusNotFound, "conversation_not_found")
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", conv, `{"messages_days":-5}`)
	expect(st, out, http.StatusBadRequest, "invalid_retention_period")
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", conv, `{"messages_days":0}`)
	expect(st, out, http.StatusBadRequest, "zero_retention_period")
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", conv, `{"media_days":"never"}`)
	expect(st, out, http.StatusBadRequest, "wrong_type")
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", conv, `{"messages_days":"forever","media_days":9}`)
	if st != http.StatusOK || out["messages_days"] != "forever" || out["media_days"] != 9.0 {
		t.Fatalf("set a forever override: %d %v", st, out)
	}
	st, out = call(t, h.SetConversation, admin, "PUT", "/v1/conversations/x/retention", conv, `{"messages_days":5}`)
	if st != http.StatusOK || out["messages_days"] != 5.0 || out["media_days"] != nil {
		t.Fatalf("set override: %d %v", st, out)
	}
	st, _ = call(t, h.SetConversation, key, "DELETE", "/v1/conversations/x/retention", conv, "")
	if st != http.StatusNoContent {
		t.Errorf("delete override: %d", st)
	}
	st, out = call(t, h.SetConversation, key, "DELETE", "/v1/conversations/x/retention", conv, "")
	expect(st, out, http.StatusNotFound, "conversation_not_found")

	for _, body := range []string{`{"reason":"x"}`, `{"user_id":"u1","conversation_id":"c1","reason":"x"}`} {
		st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, body)
		expect(st, out, http.StatusBadRequest, "invalid_hold_target")
	}
	u1, otherUser := ids.Random{}.New(ids.User), ids.Random{}.New(ids.User)
	w.seedUser(t, ten, u1)
	w.seedUser(t, other, otherUser)
	st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, `{"user_id":"`+u1+`","reason":"  "}`)
	expect(st, out, http.StatusBadRequest, "invalid_hold_reason")
	st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, `{"user_id":"hello","reason":"case"}`)
	expect(st, out, http.StatusBadRequest, "invalid_hold_target")
	st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, `{"user_id":"`+ids.Random{}.New(ids.User)+`","reason":"case"}`)
	expect(st, out, http.StatusNotFound, "user_not_found")
	st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, `{"user_id":"`+otherUser+`","reason":"case"}`)
	expect(st, out, http.StatusNotFound, "user_not_found")
	st, out = call(t, h.Holds, admin, "POST", "/v1/retention/holds", nil, `{"conversation_id":"`+other+`-c1","reason":"case"}`)
	expect(st, out, http.StatusNotFound, "conversation_not_found")
	st, out = call(t, h.Holds, key, "POST", "/v1/retention/holds", nil, `{"user_id":"`+u1+`","reason":"case 17"}`)
	if st != http.StatusCreated || out["user_id"] != u1 || out["created_by"] != "api_key" {
		t.Fatalf("place hold: %d %v", st, out)
	}
	id, _ := out["id"].(string)
	if !ids.Valid(ids.LegalHold, id) {
		t.Errorf("hold id %q", id)
	}
	st, out = call(t, h.Holds, admin, "GET", "/v1/retention/holds", nil, "")
	if items, _ := out["items"].([]any); st != http.StatusOK || len(items) != 1 {
		t.Fatalf("list holds: %d %v", st, out)
	}
	otherAdmin := edge.Identity{TenantID: other, Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	st, out = call(t, h.Holds, otherAdmin, "GET", "/v1/retention/holds", nil, "")
	if items, _ := out["items"].([]any); st != http.StatusOK || len(items) != 0 {
		t.Errorf("another tenant sees holds: %v", out)
	}
	st, out = call(t, h.Holds, otherAdmin, "DELETE", "/v1/retention/holds/"+id, map[string]string{"id": id}, "")
	expect(st, out, http.StatusNotFound, "hold_not_found")
	st, _ = call(t, h.Holds, admin, "DELETE", "/v1/retention/holds/"+id, map[string]string{"id": id}, "")
	if st != http.StatusNoContent {
		t.Errorf("release hold: %d", st)
	}
	st, out = call(t, h.Holds, admin, "DELETE", "/v1/retention/holds/"+id, map[string]string{"id": id}, "")
	expect(st, out, http.StatusNotFound, "hold_not_found")
}

// TestHoldsPages lists a tenant's holds page by page: limit and cursor are honoured, every hold
// comes once in id order, and a bad limit or cursor is refused.
func TestHoldsPages(t *testing.T) {
	w := newWorld(t, 10)
	h := retention.NewHandlers(w.svc)
	ten := ids.Random{}.New(ids.Tenant)
	key := edge.Identity{TenantID: ten, Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	var placed []string
	for i := 0; i < 5; i++ {
		conv := fmt.Sprintf("%s-c%d", ten, i)
		w.seedConversation(t, ten, conv)
		hold, err := w.svc.PlaceHold(t.Context(), retention.Hold{TenantID: ten, ConversationID: conv, Reason: "case"})
		if err != nil {
			t.Fatal(err)
		}
		placed = append(placed, hold.ID)
	}
	var got []string
	cursor, pages := "", 0
	for {
		q := map[string]string{"limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		st, out := callQuery(t, h.Holds, key, "GET", "/v1/retention/holds", q)
		items, _ := out["items"].([]any)
		if st != http.StatusOK || len(items) > 2 {
			t.Fatalf("page: %d %v", st, out)
		}
		for _, it := range items {
			got = append(got, it.(map[string]any)["id"].(string))
		}
		pages++
		cursor, _ = out["next_cursor"].(string)
		if cursor == "" || pages > 5 {
			break
		}
	}
	sort.Strings(placed)
	if pages != 3 || fmt.Sprint(got) != fmt.Sprint(placed) {
		t.Errorf("pages %d, got %v, want %v", pages, got, placed)
	}
	for _, q := range []map[string]string{{"limit": "0"}, {"limit": "201"}, {"cursor": "bm9wZQ"}} {
		if st, out := callQuery(t, h.Holds, key, "GET", "/v1/retention/holds", q); st != http.StatusBadRequest {
			t.Errorf("%v: %d %v, want 400", q, st, out)
		}
	}
}

// TestHoldCapRace places holds in parallel on a tenant near the cap: at the end the tenant has
// at most MaxHolds holds, and every placement either succeeded or got too_many_holds.
func TestHoldCapRace(t *testing.T) {
	w := newWorld(t, 10)
	ten := ids.Random{}.New(ids.Tenant)
	w.seedConversation(t, ten, ten+"-c1")
	const before = retention.MaxHolds - 6
	docs := make([]any, before)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: ids.Random{}.New(ids.LegalHold)}, {Key: "tenant_id", Value: ten},
			{Key: "conversation_id", Value: ten + "-c1"}, {Key: "reason", Value: "seed"}, {Key: "created_at", Value: w.clk.Now()}, {Key: "created_by", Value: "test"}}
	}
	w.insert(t, w.comp, mongo.LegalHoldsCollection, docs...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed := 0
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.svc.PlaceHold(context.Background(), retention.Hold{TenantID: ten, ConversationID: ten + "-c1", Reason: "race"})
			if err != nil && !errors.Is(err, retention.ErrTooManyHolds) {
				t.Errorf("place: %v", err)
			}
			if err == nil {
				mu.Lock()
				placed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	hs, err := w.svc.Holds(t.Context(), ten)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) > retention.MaxHolds || len(hs) != before+placed {
		t.Fatalf("%d holds after %d placements on %d, cap %d", len(hs), placed, before, retention.MaxHolds)
	}
}
