package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// tenant is a tenant created through the API.
type tenant struct {
	id, name, apiKey string
}

// user is a registered and logged-in user.
type user struct {
	name, email, password, displayName string
	id, token                          string
	tenant                             *tenant
}

// world is what most tests start from: two tenants, three users in A and one in B. It is built
// once through the API; the tests of tenants, registration and login check those steps in detail.
type world struct {
	a, b                    *tenant
	alice, bob, carol, dave *user
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// suffix makes names unique per run, so a state directory reused across runs (or real backends
// shared with an earlier run) never turns a registration into a conflict.
var suffix = randomHex(4)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// getWorld returns the shared fixture, ending the test when it could not be built.
func getWorld(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld, worldErr = buildWorld(api()) })
	if worldErr != nil {
		t.Fatalf("the shared fixture (tenants, users, logins) could not be built: %v", worldErr)
	}
	return theWorld
}

func buildWorld(c *client) (*world, error) {
	w := &world{}
	var err error
	if w.a, err = createTenant(c, "Tenant A "+suffix); err != nil {
		return nil, err
	}
	if w.b, err = createTenant(c, "Tenant B "+suffix); err != nil {
		return nil, err
	}
	for _, u := range []struct {
		dst  **user
		name string
		t    *tenant
	}{{&w.alice, "alice", w.a}, {&w.bob, "bob", w.a}, {&w.carol, "carol", w.a}, {&w.dave, "dave", w.b}} {
		if *u.dst, err = registerAndLogin(c, u.t, u.name); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func createTenant(c *client, name string) (*tenant, error) {
	r, err := c.send("POST", "/v1/tenants", hdr{"X-Admin-Key": the.adminKey}, map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusCreated || r.str("id") == "" || r.str("api_key") == "" {
		return nil, fmt.Errorf("create tenant: want 201 with id and api_key: %s", r)
	}
	return &tenant{id: r.str("id"), name: r.str("name"), apiKey: r.str("api_key")}, nil
}

// newUser describes a user to register, unique to this run.
func newUser(t *tenant, name string) *user {
	return &user{
		name:        name,
		email:       fmt.Sprintf("%s.%s@example.test", name, suffix),
		password:    "correct horse battery " + name,
		displayName: "User " + name,
		tenant:      t,
	}
}

func registerAndLogin(c *client, t *tenant, name string) (*user, error) {
	u := newUser(t, name)
	r, err := c.send("POST", "/v1/auth/register", hdr{"X-Api-Key": t.apiKey},
		map[string]string{"email": u.email, "password": u.password, "display_name": u.displayName})
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusCreated || r.str("user_id") == "" {
		return nil, fmt.Errorf("register %s: want 201 with user_id: %s", name, r)
	}
	u.id = r.str("user_id")
	if u.token, err = login(c, u); err != nil {
		return nil, err
	}
	return u, nil
}

func login(c *client, u *user) (string, error) {
	r, err := c.send("POST", "/v1/auth/login", hdr{"X-Tenant-ID": u.tenant.id},
		map[string]string{"email": u.email, "password": u.password})
	if err != nil {
		return "", err
	}
	if r.status != http.StatusOK || r.str("access_token") == "" {
		return "", fmt.Errorf("login %s: want 200 with access_token: %s", u.name, r)
	}
	return r.str("access_token"), nil
}

// createConversation opens a conversation as u and returns its id, ending the test on failure.
func createConversation(t testing.TB, c *client, u *user, typ, title string, members ...string) string {
	t.Helper()
	body := map[string]any{"type": typ, "members": members}
	if title != "" {
		body["title"] = title
	}
	r := c.do(t, "POST", "/v1/conversations", bearer(u.token), body)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("create conversation: %s", r)
	}
	if r.str("id") == "" {
		t.Fatalf("create conversation: no id: %s", r)
	}
	return r.str("id")
}

// sentMessage is a message the platform acknowledged, remembered for the Kafka checks.
type sentMessage struct {
	id, conversationID, body string
}

var (
	sentMu sync.Mutex
	sent   = map[string]sentMessage{}
)

// sendMessage posts a message as u; an acknowledged one (200 or 201) is remembered.
func sendMessage(c *client, u *user, convID, clientMsgID, body string) (*reply, error) {
	r, err := c.send("POST", "/v1/conversations/"+convID+"/messages", bearer(u.token),
		map[string]string{"client_msg_id": clientMsgID, "body": body})
	if err != nil {
		return nil, err
	}
	if (r.status == http.StatusCreated || r.status == http.StatusOK) && r.str("id") != "" {
		sentMu.Lock()
		sent[r.str("id")] = sentMessage{id: r.str("id"), conversationID: convID, body: body}
		sentMu.Unlock()
	}
	return r, nil
}

// mustSend is sendMessage that ends the test unless the message was created (201).
func mustSend(t testing.TB, c *client, u *user, convID, clientMsgID, body string) *reply {
	t.Helper()
	r, err := sendMessage(c, u, convID, clientMsgID, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusCreated {
		t.Fatalf("send message: want 201: %s", r)
	}
	return r
}

// marker is a unique token put in message bodies so the Kafka test can tell a body that leaked
// into an event from a chance match in ciphertext.
func marker() string { return "mk" + randomHex(8) }
