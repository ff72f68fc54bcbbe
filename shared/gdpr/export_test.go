package gdpr_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/audit"
	"caas.dev/shared/backendtest"
	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/kafka"
	"caas.dev/shared/keys"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/mongo/mongotest"
	"caas.dev/shared/s3"
)

type exportFixture struct {
	x          *gdpr.Exporter
	db         *mongo.Client
	ks         *keys.Service
	trail      *audit.Service
	store      *s3.Store
	clk        *clock.Fixed
	ann, bob   edge.Identity
	admin      edge.Identity
	apiKey     edge.Identity
	otherAdmin edge.Identity
	carl       string
	topic      string
}

// newExportFixture builds the exporter on real servers: Mongo, S3, Kafka and the key service
// with a file master key; users ann, bob and admin ada in ten_a, carl in ten_b.
func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	ctx := t.Context()
	db := mongotest.Open(t)
	ks := mongotest.Keys(t, db)
	trail, err := audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Clock: clock.System{}})
	if err != nil {
		t.Fatal(err)
	}
	store, err := s3.Open(ctx, backendtest.S3Config(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &exportFixture{db: db, ks: ks, trail: trail, store: store,
		clk: clock.NewFixed(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))}
	svc := &gdpr.Service{Consents: mongo.NewConsentStore(db), Users: db.Users(), Profiles: db.Users(),
		Keys: mongo.NewIdempotencyKeys(db), Clock: f.clk, IDs: ids.Random{}}
	f.x = &gdpr.Exporter{Service: svc, Exports: mongo.NewExportStore(db), Source: mongo.NewExportSource(db),
		Bodies: ks, Audit: trail, Archives: store, ObjectPrefix: backendtest.Prefix(t) + mongo.ExportObjectPrefix,
		Media: mongo.NewMediaStore(db)}
	mk := func(tenantID, name, role string) edge.Identity {
		u := identity.User{ID: ids.Random{}.New(ids.User), TenantID: tenantID, Email: name + "@example.com",
			DisplayName: name, PasswordHash: "x", Role: role, CreatedAt: f.clk.Now()}
		if err := db.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return edge.Identity{TenantID: tenantID, UserID: u.ID, Role: role, Actor: edge.ActorUser}
	}
	f.ann = mk("ten_a", "ann", identity.RoleUser)
	f.bob = mk("ten_a", "bob", identity.RoleUser)
	f.admin = mk("ten_a", "ada", identity.RoleAdmin)
	f.carl = mk("ten_b", "carl", identity.RoleUser).UserID
	f.apiKey = edge.Identity{TenantID: "ten_a", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	f.otherAdmin = edge.Identity{TenantID: "ten_b", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	return f
}

// send stores a message of sender in conversation conv, its body sealed by the key service.
func (f *exportFixture) send(t *testing.T, conv, sender, body string) chat.Message {
	t.Helper()
	m := chat.Message{TenantID: "ten_a", ConversationID: conv, SenderID: sender,
		ClientMsgID: ids.Random{}.New(ids.User), Body: body, CreatedAt: f.clk.Now()}
	sealer, err := chat.NewBodySealer(t.Context(), f.ks, m)
	if err != nil {
		t.Fatal(err)
	}
	m.ID = "msg_" + strings.TrimPrefix(ids.Random{}.New(ids.User), "usr_")
	m.Body = ""
	stored, _, err := mongo.NewChatStore(f.db).AppendMessage(t.Context(), m, sealer)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// readZip opens the archive of a ready export and decodes each file.
func readZip(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, zf := range zr.File {
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("%s is not JSON: %s", zf.Name, b)
		}
		out[zf.Name] = b
	}
	return out
}

// An export of a user with messages in two conversations, sessions, consents and audit records
// holds every category, the decrypted bodies of the messages the user sent (and only those),
// and nothing of other users.
func TestExportBuildsEveryCategory(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	cs := mongo.NewChatStore(f.db)
	convs := []string{}
	for _, members := range [][]string{{f.ann.UserID, f.bob.UserID}, {f.ann.UserID, f.admin.UserID, f.bob.UserID}} {
		c := chat.Conversation{ID: "cnv_" + strings.TrimPrefix(ids.Random{}.New(ids.User), "usr_"), TenantID: "ten_a",
			Type: chat.TypeGroup, Title: "t", Members: members, CreatedBy: members[0], CreatedAt: f.clk.Now()}
		if _, _, err := cs.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	f.send(t, convs[0], f.ann.UserID, "hello bob")
	f.send(t, convs[1], f.ann.UserID, "hello all")
	f.send(t, convs[1], f.bob.UserID, "bob's secret")
	mediaStore := mongo.NewMediaStore(f.db)
	var annMedia media.Media
	for _, m := range []media.Media{
		{ID: ids.Random{}.New(ids.Media), TenantID: "ten_a", ConversationID: convs[1], UploaderID: f.ann.UserID,
			Filename: "plan.pdf", ContentType: "application/pdf", Size: 42, Status: media.StatusReady, CreatedAt: f.clk.Now()},
		{ID: ids.Random{}.New(ids.Media), TenantID: "ten_a", ConversationID: convs[1], UploaderID: f.bob.UserID,
			Filename: "bob-secret.png", ContentType: "image/png", Size: 7, Status: media.StatusReady, CreatedAt: f.clk.Now()},
	} {
		m.ObjectKey = media.ObjectKey(m.TenantID, m.ConversationID, m.ID)
		if _, _, err := mediaStore.InsertMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
		if m.UploaderID == f.ann.UserID {
			annMedia = m
		}
	}
	for i := 0; i < 2; i++ {
		if err := f.db.Sessions().CreateSession(ctx, identity.Session{ID: ids.Random{}.New(ids.User), TenantID: "ten_a",
			UserID: f.ann.UserID, RefreshHash: "h" + string(rune('a'+i)), CreatedAt: f.clk.Now(), IP: "203.0.113.9", UserAgent: "ua"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, granted := range []bool{true, false} {
		if _, _, err := f.x.RecordConsent(ctx, f.ann, gdpr.NewConsent{Purpose: "marketing", PolicyVersion: "1", Granted: &granted}, idempotency.Request{}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Second)
	}
	pAnn, err := f.trail.Pseudonym(ctx, "ten_a", f.ann.UserID)
	if err != nil {
		t.Fatal(err)
	}
	pBob, err := f.trail.Pseudonym(ctx, "ten_a", f.bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := f.trail.Append(ctx, "ten_a", []audit.Input{
		{ID: "r1", Time: now, Actor: audit.Actor{Type: audit.ActorUser, ID: pAnn}, Action: "GET /v1/me", Outcome: audit.OutcomeSuccess, Status: 200},
		{ID: "r2", Time: now, Actor: audit.Actor{Type: audit.ActorAPIKey, ID: "api_key"}, Action: "PATCH /v1/gdpr/users/{id}", Resource: "user:" + pAnn, Outcome: audit.OutcomeSuccess, Status: 200},
		{ID: "r3", Time: now, Actor: audit.Actor{Type: audit.ActorUser, ID: pBob}, Action: "GET /v1/me", Outcome: audit.OutcomeSuccess, Status: 200},
	}); err != nil {
		t.Fatal(err)
	}

	// A correction of ann's profile, its values sealed under her key in the trail.
	rec := gdpr.AuditRecorder{Audit: f.trail, Keys: f.ks, IDs: ids.Random{}}
	if err := rec.RecordChange(ctx, gdpr.Change{TenantID: "ten_a", UserID: f.ann.UserID, Actor: "api_key", RequestID: "req-fix",
		At: now, Fields: []gdpr.FieldChange{{Field: "display_name", Old: "Ann Old", New: "Ann New"}}}); err != nil {
		t.Fatal(err)
	}

	e, created, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil || !created || e.Status != gdpr.ExportPending || !ids.Valid(ids.Export, e.ID) || e.UserID != f.ann.UserID {
		t.Fatalf("start: %+v %v %v", e, created, err)
	}
	v, err := f.x.GetExport(ctx, f.ann, e.ID)
	if err != nil || v.Status != gdpr.ExportPending || v.DownloadURL != "" {
		t.Fatalf("pending view: %+v %v", v, err)
	}
	built, err := f.x.Build(ctx, "ten_a", e.ID)
	if err != nil || !built {
		t.Fatalf("build: %v %v", built, err)
	}
	if again, err := f.x.Build(ctx, "ten_a", e.ID); err != nil || again {
		t.Fatalf("a ready export was built again: %v %v", again, err)
	}
	v, err = f.x.GetExport(ctx, f.ann, e.ID)
	if err != nil || v.Status != gdpr.ExportReady || v.DownloadURL == "" || v.Counts["messages"] != 2 {
		t.Fatalf("ready view: %+v %v", v, err)
	}
	if d := v.URLExpiresAt.Sub(f.clk.Now()); d != gdpr.DownloadURLTTL {
		t.Fatalf("link valid %v", d)
	}
	if want := f.x.ObjectPrefix + "ten_a/" + f.ann.UserID + "/" + e.ID + ".zip"; v.ObjectKey != want {
		t.Fatalf("object key %q, want %q", v.ObjectKey, want)
	}
	resp, err := http.Get(v.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	files := readZip(t, data)
	for _, name := range []string{"profile.json", "sessions.json", "conversations.json", "messages.json", "media.json",
		"consents.json", "audit.json", "rectifications.json", "information.json", "manifest.json"} {
		if _, ok := files[name]; !ok {
			t.Fatalf("archive lacks %s", name)
		}
	}
	var fixes []struct{ RecordID, Field, Old, New string }
	if err := json.Unmarshal(files["rectifications.json"], &fixes); err != nil {
		t.Fatal(err)
	}
	if len(fixes) != 1 || fixes[0].Field != "display_name" || fixes[0].Old != "Ann Old" || fixes[0].New != "Ann New" {
		t.Errorf("rectifications.json: %+v, want the display name change opened", fixes)
	}
	var profile struct{ ID, Email string }
	var sessions []struct{ ID, IP string }
	var conversations []struct {
		ID      string
		Members []string
	}
	var messages []struct {
		ID, Body       string
		ConversationID string `json:"conversation_id"`
		BodyStatus     string `json:"body_status"`
	}
	var mediaFile struct {
		Items []struct {
			ID, Filename, Status string
			ConversationID       string `json:"conversation_id"`
			ContentType          string `json:"content_type"`
			Size                 int64
			CreatedAt            string `json:"created_at"`
		}
		Statement string
	}
	var consents []struct {
		Purpose string
		Granted bool
	}
	var records []struct {
		ID       string
		Actor    struct{ ID string }
		Resource string
	}
	var info struct {
		Purposes, Categories, Rights []string
		Retention                    []gdpr.RetentionStatement
		Recipients                   []gdpr.Processor
		Source                       string
	}
	var manifest struct {
		ExportID string         `json:"export_id"`
		Counts   map[string]int `json:"counts"`
	}
	for name, v := range map[string]any{"profile.json": &profile, "sessions.json": &sessions, "conversations.json": &conversations,
		"messages.json": &messages, "media.json": &mediaFile, "consents.json": &consents, "audit.json": &records,
		"information.json": &info, "manifest.json": &manifest} {
		if err := json.Unmarshal(files[name], v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if profile.ID != f.ann.UserID || profile.Email != "ann@example.com" {
		t.Fatalf("profile %+v", profile)
	}
	if len(sessions) != 2 || sessions[0].IP != "203.0.113.9" {
		t.Fatalf("sessions %+v", sessions)
	}
	if len(conversations) != 2 {
		t.Fatalf("conversations %+v", conversations)
	}
	bodies := map[string]string{}
	for _, m := range messages {
		if m.BodyStatus != gdpr.BodyDecrypted {
			t.Fatalf("message %+v", m)
		}
		bodies[m.ConversationID] = m.Body
	}
	if len(messages) != 2 || bodies[convs[0]] != "hello bob" || bodies[convs[1]] != "hello all" {
		t.Fatalf("messages %+v", messages)
	}
	if strings.Contains(string(data), "bob's secret") || bytes.Contains(data, []byte(pBob)) {
		t.Fatal("the archive holds another user's data")
	}
	if len(mediaFile.Items) != 1 || mediaFile.Statement == "" {
		t.Fatalf("media %+v", mediaFile)
	}
	if it := mediaFile.Items[0]; it.ID != annMedia.ID || it.ConversationID != convs[1] || it.Filename != "plan.pdf" ||
		it.ContentType != "application/pdf" || it.Size != 42 || it.Status != media.StatusReady || it.CreatedAt == "" {
		t.Fatalf("media item %+v", it)
	}
	if strings.Contains(string(files["media.json"]), "bob-secret.png") {
		t.Fatal("the archive lists another user's media")
	}
	if len(consents) != 2 || consents[0].Granted || !consents[1].Granted {
		t.Fatalf("consents %+v", consents)
	}
	if len(records) != 3 || records[0].ID != "r1" || records[0].Actor.ID != pAnn || records[1].ID != "r2" || records[2].ID != "rectify:req-fix" {
		t.Fatalf("audit %+v", records)
	}
	// Each record is written as GET /v1/audit/events answers it, seq and hashes included.
	var rawRecords []json.RawMessage
	if err := json.Unmarshal(files["audit.json"], &rawRecords); err != nil {
		t.Fatal(err)
	}
	chain, _, err := f.trail.Query(ctx, "ten_a", audit.Filter{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range rawRecords {
		var id struct{ ID, Hash string }
		_ = json.Unmarshal(raw, &id)
		found := false
		for _, r := range chain {
			if r.ID == id.ID {
				want, _ := json.Marshal(audit.RecordJSON(r))
				var got bytes.Buffer
				_ = json.Compact(&got, raw)
				found = got.String() == string(want) && r.Hash != "" && id.Hash == r.Hash
				if !found {
					t.Errorf("audit.json record %s:\n got %s\nwant %s", id.ID, got.String(), want)
				}
			}
		}
		if !found {
			t.Errorf("audit.json record %s not in the chain as the API shows it", id.ID)
		}
	}
	if len(info.Purposes) == 0 || len(info.Categories) == 0 || len(info.Retention) == 0 || len(info.Recipients) == 0 ||
		info.Source == "" || len(info.Rights) < 6 {
		t.Fatalf("information %+v", info)
	}
	if manifest.ExportID != e.ID || manifest.Counts["messages"] != 2 || manifest.Counts["audit"] != 3 || manifest.Counts["rectifications"] != 1 ||
		manifest.Counts["consents"] != 2 || manifest.Counts["sessions"] != 2 || manifest.Counts["media"] != 1 {
		t.Fatalf("manifest %+v", manifest)
	}

	// After its time the export is expired: no link; the sweep deletes the archive.
	f.clk.Advance(gdpr.DefaultExportTTL + time.Minute)
	v, err = f.x.GetExport(ctx, f.ann, e.ID)
	if err != nil || v.Status != gdpr.ExportExpired || v.DownloadURL != "" {
		t.Fatalf("expired view: %+v %v", v, err)
	}
	res, err := f.x.Sweep(ctx, 10)
	if err != nil || res.Expired != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if _, err := f.store.Get(ctx, v.ObjectKey); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("archive after expiry: %v", err)
	}
}

// Erased bodies say so; the Retention function supplies the periods.
func TestExportMarksErasedBodies(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	f.x.Retention = func(context.Context, string) ([]gdpr.RetentionStatement, error) {
		return []gdpr.RetentionStatement{{Category: "messages", Period: "P30D"}}, nil
	}
	c := chat.Conversation{ID: "cnv_x1", TenantID: "ten_a", Type: chat.TypeGroup, Members: []string{f.ann.UserID, f.bob.UserID},
		CreatedBy: f.ann.UserID, CreatedAt: f.clk.Now()}
	if _, _, err := mongo.NewChatStore(f.db).CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.send(t, c.ID, f.ann.UserID, "soon gone")
	if err := f.ks.ShredUser(ctx, "ten_a", f.ann.UserID); err != nil {
		t.Fatal(err)
	}
	e, _, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: f.ann.UserID}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if built, err := f.x.Build(ctx, "ten_a", e.ID); err != nil || !built {
		t.Fatalf("build: %v %v", built, err)
	}
	rc, err := f.store.Get(ctx, f.x.ObjectKey(e))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	files := readZip(t, data)
	var messages []struct {
		Body       string
		BodyStatus string `json:"body_status"`
	}
	var info struct{ Retention []gdpr.RetentionStatement }
	_ = json.Unmarshal(files["messages.json"], &messages)
	_ = json.Unmarshal(files["information.json"], &info)
	if len(messages) != 1 || messages[0].BodyStatus != gdpr.BodyErased || messages[0].Body != "" {
		t.Fatalf("messages %+v", messages)
	}
	if len(info.Retention) != 1 || info.Retention[0].Period != "P30D" {
		t.Fatalf("retention %+v", info.Retention)
	}
}

// Who may start and read an export: the user, a tenant admin; not another user, not another
// tenant; an unknown user is 404.
func TestExportAuthorization(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	code := func(err error) string {
		if fe := fault.As(err); fe != nil {
			return fe.Code
		}
		return ""
	}
	for name, caller := range map[string]edge.Identity{"self": f.ann, "admin": f.admin, "api key": f.apiKey} {
		in := gdpr.ExportRequest{UserID: f.ann.UserID}
		if name == "self" {
			in.UserID = ""
		}
		if _, _, err := f.x.StartExport(ctx, caller, in, idempotency.Request{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, _, err := f.x.StartExport(ctx, f.bob, gdpr.ExportRequest{UserID: f.ann.UserID}, idempotency.Request{}); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("another user: %v", err)
	}
	if _, _, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: f.carl}, idempotency.Request{}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("another tenant's user: %v", err)
	}
	if _, _, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: "usr_nobody"}, idempotency.Request{}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, _, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{}, idempotency.Request{}); code(err) == "" {
		t.Fatalf("api key without user_id: %v", err)
	}

	e, _, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.x.GetExport(ctx, f.bob, e.ID); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("bob reads ann's export: %v", err)
	}
	if _, err := f.x.GetExport(ctx, f.otherAdmin, e.ID); !errors.Is(err, gdpr.ErrExportNotFound) {
		t.Fatalf("another tenant reads the export: %v", err)
	}
	if _, err := f.x.GetExport(ctx, f.admin, e.ID); err != nil {
		t.Fatalf("admin: %v", err)
	}

	// An Idempotency-Key repeat returns the first job.
	r := idempotency.Request{Key: "k-export-1", RequestSHA256: "fp1"}
	first, created, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: f.bob.UserID}, r)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	again, created, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: f.bob.UserID}, r)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeat: %+v %v %v", again, created, err)
	}
}

// Job events go through Kafka: the queue publishes, the worker's Run builds from the batch;
// two workers racing on one job build it once (the claim insert decides).
func TestExportThroughKafkaAndClaims(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	brokers := backendtest.KafkaBrokers(t)
	topic := backendtest.Prefix(t) + "gdpr.exports"
	if err := kafka.EnsureTopics(ctx, brokers, 1, topic); err != nil {
		t.Fatal(err)
	}
	q, err := boot.NewExportQueue(brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	f.x.Queue = q
	e, _, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: strings.Split(brokers, ","), Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer rd.Close()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	msg, err := rd.ReadMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.KafkaEvent{EventSource: "SelfManagedKafka", Records: map[string][]events.KafkaRecord{
		topic + "-0": {{Topic: topic, Value: base64.StdEncoding.EncodeToString(msg.Value)}}}}
	raw, _ := json.Marshal(ev)

	// Two workers with the same batch: one builds, the other finds the attempt claimed.
	results := make(chan gdpr.RunResult, 2)
	for i := 0; i < 2; i++ {
		go func() {
			res, err := f.x.Run(ctx, raw)
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	a, b := <-results, <-results
	if a.Built+b.Built != 1 || a.Skipped+b.Skipped != 1 {
		t.Fatalf("two workers: %+v %+v", a, b)
	}
	v, err := f.x.GetExport(ctx, f.ann, e.ID)
	if err != nil || v.Status != gdpr.ExportReady || v.Attempts != 1 {
		t.Fatalf("view: %+v %v", v, err)
	}
}

// A job whose event was lost is built by the schedule after a minute; a failing build is saved
// as failed with its problem code, retried, and given up after MaxExportAttempts.
func TestExportScheduleRetriesAndBounds(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	e, _, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := json.Marshal(events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	if res, err := f.x.Run(ctx, sched); err != nil || res.Built != 0 {
		t.Fatalf("a fresh job was swept: %+v %v", res, err)
	}
	f.clk.Advance(gdpr.ExportPickupDelay + time.Second)
	if res, err := f.x.Run(ctx, sched); err != nil || res.Built != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}

	// A job whose archive cannot be stored fails with export_upload_failed, attempts bounded.
	e2, _, err := f.x.StartExport(ctx, f.apiKey, gdpr.ExportRequest{UserID: f.bob.UserID}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	f.x.ObjectPrefix = "bad//prefix/"
	f.clk.Advance(gdpr.ExportPickupDelay + time.Second)
	for i := 0; i < gdpr.MaxExportAttempts+2; i++ {
		_, _ = f.x.Sweep(ctx, 10)
	}
	got, err := mongo.NewExportStore(f.db).Export(ctx, "ten_a", e2.ID)
	if err != nil || got.Status != gdpr.ExportFailed || got.Problem != gdpr.ProblemExportUpload || got.Attempts != gdpr.MaxExportAttempts {
		t.Fatalf("failed job: %+v %v", got, err)
	}
	if e.ID == e2.ID {
		t.Fatal("ids repeat")
	}
}

// An attempt claimed by a worker that died is left alone for the lease, then taken over by the
// next attempt.
func TestExportTakesOverAbandonedClaim(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	e, _, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if won, err := f.x.Exports.ClaimExport(ctx, "ten_a", e.ID, 1, f.clk.Now()); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	if won, err := f.x.Exports.ClaimExport(ctx, "ten_a", e.ID, 1, f.clk.Now()); err != nil || won {
		t.Fatalf("a second claim of one attempt: %v %v", won, err)
	}
	if built, err := f.x.Build(ctx, "ten_a", e.ID); err != nil || built {
		t.Fatalf("built under a live claim: %v %v", built, err)
	}
	f.clk.Advance(gdpr.ExportLease + time.Second)
	if built, err := f.x.Build(ctx, "ten_a", e.ID); err != nil || !built {
		t.Fatalf("takeover: %v %v", built, err)
	}
	got, err := f.x.Exports.Export(ctx, "ten_a", e.ID)
	if err != nil || got.Status != gdpr.ExportReady || got.Attempts != 2 {
		t.Fatalf("after takeover: %+v %v", got, err)
	}
}
