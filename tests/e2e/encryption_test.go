package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestMessageBodiesEncryptedAtRest sends messages with unique markers over HTTP and WebSocket,
// then reads every document of every database of the platform's MongoDB and every event of the
// messages topic, as raw bytes: the markers appear nowhere. Reading through the API, and the
// pushes, give them back.
func TestMessageBodiesEncryptedAtRest(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Encryption "+suffix, w.bob.id)
	aliceWS := connectWS(t, the, "enc-alice", w.alice.token)
	bobWS := connectWS(t, the, "enc-bob", w.bob.token)

	httpBody := "secret over http " + marker()
	httpMsg := mustSend(t, c, w.alice, convID, "enc-http", httpBody)
	wsBody := "secret over websocket " + marker()
	bobWS.send(t, map[string]any{"action": "sendMessage", "conversation_id": convID, "client_msg_id": "enc-ws", "body": wsBody})
	ack := bobWS.wait(t, "ack of sendMessage", ofType("ack"))
	ackMsg, _ := ack.obj["message"].(map[string]any)
	wsID, _ := ackMsg["id"].(string)
	if wsID == "" || ackMsg["body"] != wsBody {
		t.Fatalf("websocket send: ack %v", ack.obj)
	}
	sentMu.Lock()
	sent[wsID] = sentMessage{id: wsID, conversationID: convID, body: wsBody}
	sentMu.Unlock()

	// The fanout decrypts what it pushes.
	pushed := aliceWS.wait(t, "bob's message", messageFrame(wsID))
	if m, _ := pushed.obj["message"].(map[string]any); m["body"] != wsBody {
		t.Errorf("pushed body = %v, want %q", m["body"], wsBody)
	}
	// Reading through the API gives the bodies back.
	r := c.do(t, "GET", "/v1/conversations/"+convID+"/messages", bearer(w.bob.token), nil)
	mustStatus(t, r, http.StatusOK)
	bodies := map[string]any{}
	for _, m := range r.items() {
		bodies[m["id"].(string)] = m["body"]
		if _, ok := m["erased"]; ok {
			t.Errorf("message %v is marked erased", m["id"])
		}
	}
	if bodies[httpMsg.str("id")] != httpBody || bodies[wsID] != wsBody {
		t.Errorf("listed bodies %v, want %q and %q", bodies, httpBody, wsBody)
	}

	markers := []string{markerOf(httpBody), markerOf(wsBody)}
	sentMu.Lock()
	want := make(map[string]sentMessage, len(sent))
	for id, m := range sent {
		want[id] = m
		if mk := markerOf(m.body); mk != "" && !strings.Contains(strings.Join(markers, " "), mk) {
			markers = append(markers, mk)
		}
	}
	sentMu.Unlock()

	t.Run("no marker in any database", func(t *testing.T) {
		docs, ids := scanAllDatabases(t, backendsOf(t, the).MongoURI, markers, []string{wsID, httpMsg.str("id")})
		if docs == 0 || ids < 2 {
			t.Fatalf("scanned %d documents, %d holding the new message ids: the scan does not see the data", docs, ids)
		}
	})

	t.Run("no marker on the messages topic", func(t *testing.T) {
		events, err := readEvents(kafkaBrokers(t), want)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			for _, mk := range markers {
				if bytes.Contains(e.Value, []byte(mk)) {
					t.Errorf("an event carries the plaintext marker %s: %s", mk, e.Value)
				}
			}
			var v struct {
				MessageID      string `json:"message_id"`
				BodyCiphertext string `json:"body_ciphertext"`
			}
			json.Unmarshal(e.Value, &v)
			if (v.MessageID == wsID || v.MessageID == httpMsg.str("id")) && !strings.HasPrefix(v.BodyCiphertext, "caas:v1:caas.user.") {
				t.Errorf("the event of %s carries no body ciphertext: %s", v.MessageID, e.Value)
			}
		}
	})
}

// markerOf returns the marker() in body, "" when it has none.
func markerOf(body string) string {
	i := strings.Index(body, "mk")
	if i < 0 || len(body) < i+18 {
		return ""
	}
	return body[i : i+18]
}

// scanAllDatabases reads every document of every collection of every database at mongoURI as
// raw BSON, failing the test for each that holds one of needles. It returns how many documents
// it read and how many hold one of controls (strings that must be stored somewhere).
func scanAllDatabases(t *testing.T, mongoURI string, needles, controls []string) (docs, withControl int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := driver.Connect(ctx, options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	dbs, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	for _, name := range dbs {
		db := client.Database(name)
		colls, err := db.ListCollectionNames(ctx, bson.D{})
		if err != nil {
			t.Fatalf("list collections of %s: %v", name, err)
		}
		for _, coll := range colls {
			cur, err := db.Collection(coll).Find(ctx, bson.D{})
			if err != nil {
				t.Fatalf("read %s.%s: %v", name, coll, err)
			}
			for cur.Next(ctx) {
				docs++
				for _, n := range needles {
					if bytes.Contains(cur.Current, []byte(n)) {
						t.Errorf("%s.%s holds the plaintext marker %s", name, coll, n)
					}
				}
				for _, c := range controls {
					if bytes.Contains(cur.Current, []byte(c)) {
						withControl++
						break
					}
				}
			}
			if err := cur.Err(); err != nil {
				t.Fatalf("read %s.%s: %v", name, coll, err)
			}
			cur.Close(ctx)
		}
	}
	return docs, withControl
}
