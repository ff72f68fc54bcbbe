package media_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/s3"
)

type fixture struct {
	svc     *media.Service
	objects *s3.Store
	store   *mongo.MediaStore
	// ann and bob are members of conv; cat is a user of the tenant outside it; dan is a user
	// of another tenant.
	ann, bob, cat, dan edge.Identity
	conv               string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	prefix := backendtest.Prefix(t)
	c, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	objects, err := s3.Open(ctx, backendtest.S3Config(t))
	if err != nil {
		t.Fatal(err)
	}
	tenantA, tenantB := "ten_"+prefix+"a", "ten_"+prefix+"b"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, tn := range []string{tenantA, tenantB} {
			_, _ = objects.DeletePrefix(ctx, "media/"+tn+"/")
			_, _ = objects.DeletePrefix(ctx, "uploads/"+tn+"/")
		}
	})
	user := func(tenantID string) edge.Identity {
		return edge.Identity{TenantID: tenantID, UserID: ids.Random{}.New(ids.User), Actor: edge.ActorUser, Role: "user"}
	}
	f := &fixture{objects: objects, store: mongo.NewMediaStore(c),
		ann: user(tenantA), bob: user(tenantA), cat: user(tenantA), dan: user(tenantB)}
	f.svc = &media.Service{Store: f.store, Objects: objects, Members: f.store, Keys: mongo.NewIdempotencyKeys(c),
		Clock: clock.System{}, IDs: ids.Random{}}
	chats := mongo.NewChatStore(c)
	mk := func(tenantID string, members ...string) string {
		conv := chat.Conversation{ID: ids.Random{}.New(ids.Conversation), TenantID: tenantID, Type: chat.TypeGroup,
			Title: "files", Members: members, CreatedBy: members[0], CreatedAt: time.Now()}
		if _, _, err := chats.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		return conv.ID
	}
	f.conv = mk(tenantA, f.ann.UserID, f.bob.UserID)
	mk(tenantB, f.dan.UserID)
	return f
}

// post uploads body with the presigned request, as a browser would, and returns the status.
func post(t *testing.T, up *s3.PostUpload, body []byte) int {
	t.Helper()
	if up == nil {
		t.Fatal("no presigned upload")
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range up.Fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile("file", "upload")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(body)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(up.URL, w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Logf("upload answered %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode
}

// uploadKey is where the presigned upload of m puts its bytes.
func uploadKey(m media.Media) string {
	return "uploads/" + m.TenantID + "/" + m.ConversationID + "/" + m.ID
}

// faultCode returns the API code of err, or "" when it is no fault.Error.
func faultCode(err error) string {
	if fe := fault.As(err); fe != nil {
		return fe.Code
	}
	return ""
}

func TestUploadCompleteGetDownload(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	content := []byte("%PDF-1.4 hello attachment")
	up, created, err := f.svc.UploadMedia(ctx, f.ann, f.conv,
		media.NewUpload{Filename: "report é.pdf", ContentType: "application/pdf", Size: int64(len(content))}, idempotency.Request{})
	if err != nil || !created {
		t.Fatalf("upload: created=%v err=%v", created, err)
	}
	m := up.Media
	if !ids.Valid(ids.Media, m.ID) || m.Status != media.StatusPending || m.UploaderID != f.ann.UserID ||
		m.ObjectKey != "media/"+f.ann.TenantID+"/"+f.conv+"/"+m.ID {
		t.Fatalf("media %+v", m)
	}
	if up.Request == nil || up.Request.Fields["key"] != uploadKey(m) || up.Request.Fields["Content-Type"] != "application/pdf" ||
		up.Request.Fields["policy"] == "" || time.Until(up.ExpiresAt) > media.LinkTTL+time.Second {
		t.Fatalf("presigned upload %+v", up.Request)
	}

	// Completing before the upload finds nothing.
	if _, err := f.svc.CompleteUpload(ctx, f.ann, m.ID); !errors.Is(err, media.ErrUploadMissing) {
		t.Fatalf("complete before upload: %v", err)
	}
	// Pending media have no download link.
	d, err := f.svc.GetMedia(ctx, f.bob, m.ID)
	if err != nil || d.URL != "" || d.Media.Status != media.StatusPending {
		t.Fatalf("get pending: %+v %v", d, err)
	}

	if st := post(t, up.Request, content); st != http.StatusNoContent && st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("upload status %d", st)
	}
	// Only the uploader completes.
	if _, err := f.svc.CompleteUpload(ctx, f.bob, m.ID); !errors.Is(err, media.ErrNotFound) {
		t.Fatalf("complete by another member: %v", err)
	}
	done, err := f.svc.CompleteUpload(ctx, f.ann, m.ID)
	if err != nil || done.Status != media.StatusReady || done.ReadyAt.IsZero() {
		t.Fatalf("complete: %+v %v", done, err)
	}
	again, err := f.svc.CompleteUpload(ctx, f.ann, m.ID)
	if err != nil || again.Status != media.StatusReady {
		t.Fatalf("complete again: %+v %v", again, err)
	}

	d, err = f.svc.GetMedia(ctx, f.bob, m.ID)
	if err != nil || d.Media.Status != media.StatusReady || d.URL == "" {
		t.Fatalf("get ready: %+v %v", d, err)
	}
	if !strings.Contains(d.URL, "response-content-disposition=attachment") {
		t.Errorf("download link does not ask for an attachment: %s", d.URL)
	}
	resp, err := http.Get(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download: %d %q", resp.StatusCode, got)
	}
}

func TestMismatchDeletesTheObject(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for name, c := range map[string]struct {
		declared string
		size     int64
		send     []byte
		fields   map[string]string
	}{
		"size": {declared: "text/plain", size: 5, send: []byte("longer than five")},
		"type": {declared: "text/plain", size: 5, send: []byte("hello"), fields: map[string]string{"Content-Type": "image/png"}},
	} {
		t.Run(name, func(t *testing.T) {
			up, _, err := f.svc.UploadMedia(ctx, f.ann, f.conv,
				media.NewUpload{Filename: "a.txt", ContentType: c.declared, Size: c.size}, idempotency.Request{})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.fields {
				up.Request.Fields[k] = v
			}
			// The embedded server checks no policy, so the wrong object is stored. A server that
			// checks it refuses the upload; the object is then stored as a careless server would.
			if st := post(t, up.Request, c.send); st >= 300 {
				ct := c.fields["Content-Type"]
				if ct == "" {
					ct = c.declared
				}
				if err := f.objects.Put(ctx, uploadKey(up.Media), bytes.NewReader(c.send), int64(len(c.send)), ct); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.svc.CompleteUpload(ctx, f.ann, up.Media.ID); !errors.Is(err, media.ErrUploadMismatch) {
				t.Fatalf("complete: %v", err)
			}
			for _, k := range media.Keys(up.Media) {
				if _, err := f.objects.Stat(ctx, k); !errors.Is(err, s3.ErrNotFound) {
					t.Fatalf("the mismatched object is still at %s: %v", k, err)
				}
			}
			m, err := f.store.MediaByID(ctx, f.ann.TenantID, up.Media.ID)
			if err != nil || m.Status != media.StatusPending {
				t.Fatalf("media after mismatch: %+v %v", m, err)
			}
		})
	}
}

func TestOutsidersSeeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	in := media.NewUpload{Filename: "x.png", ContentType: "image/png", Size: 3}
	if _, _, err := f.svc.UploadMedia(ctx, f.cat, f.conv, in, idempotency.Request{}); faultCode(err) != "conversation_not_found" {
		t.Fatalf("upload by a non-member: %v", err)
	}
	if _, _, err := f.svc.UploadMedia(ctx, f.dan, f.conv, in, idempotency.Request{}); faultCode(err) != "conversation_not_found" {
		t.Fatalf("upload from another tenant: %v", err)
	}
	up, _, err := f.svc.UploadMedia(ctx, f.ann, f.conv, in, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	for name, who := range map[string]edge.Identity{"non-member": f.cat, "other tenant": f.dan} {
		if _, err := f.svc.GetMedia(ctx, who, up.Media.ID); !errors.Is(err, media.ErrNotFound) {
			t.Errorf("get by %s: %v", name, err)
		}
		if _, err := f.svc.CompleteUpload(ctx, who, up.Media.ID); !errors.Is(err, media.ErrNotFound) {
			t.Errorf("complete by %s: %v", name, err)
		}
	}
	apiKey := edge.Identity{TenantID: f.ann.TenantID, Actor: edge.ActorAPIKey, Role: "admin"}
	if _, err := f.svc.GetMedia(ctx, apiKey, up.Media.ID); !errors.Is(err, media.ErrUserRequired) {
		t.Errorf("get by the API key: %v", err)
	}
	if _, err := f.svc.GetMedia(ctx, f.ann, "med_nonsense"); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("get of a malformed id: %v", err)
	}
}

func TestUploadIdempotency(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	in := media.NewUpload{Filename: "a.txt", ContentType: "text/plain", Size: 2}
	r := idempotency.Request{Key: "k1", RequestSHA256: "sum-1"}
	first, created, err := f.svc.UploadMedia(ctx, f.ann, f.conv, in, r)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	second, created, err := f.svc.UploadMedia(ctx, f.ann, f.conv, in, r)
	if err != nil || created || second.Media.ID != first.Media.ID || second.Request == nil {
		t.Fatalf("repeat: %+v created=%v %v", second.Media, created, err)
	}
	if _, _, err := f.svc.UploadMedia(ctx, f.ann, f.conv, in, idempotency.Request{Key: "k1", RequestSHA256: "sum-2"}); !errors.Is(err, idempotency.ErrConflict) {
		t.Fatalf("reuse for another request: %v", err)
	}
	// Another user's key of the same name is theirs.
	other, created, err := f.svc.UploadMedia(ctx, f.bob, f.conv, in, r)
	if err != nil || !created || other.Media.ID == first.Media.ID {
		t.Fatalf("bob's key: %v %v", created, err)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t)
	ok := media.NewUpload{Filename: "a.txt", ContentType: "text/plain", Size: 1}
	cases := map[string]struct {
		mod  func(*media.NewUpload)
		want error
	}{
		"empty name":     {func(u *media.NewUpload) { u.Filename = "" }, media.ErrInvalidFilename},
		"slash":          {func(u *media.NewUpload) { u.Filename = "a/b" }, media.ErrInvalidFilename},
		"backslash":      {func(u *media.NewUpload) { u.Filename = `a\b` }, media.ErrInvalidFilename},
		"control":        {func(u *media.NewUpload) { u.Filename = "a\x01b" }, media.ErrInvalidFilename},
		"not utf-8":      {func(u *media.NewUpload) { u.Filename = "a\xffb" }, media.ErrInvalidFilename},
		"too long":       {func(u *media.NewUpload) { u.Filename = strings.Repeat("é", 128) }, media.ErrInvalidFilename},
		"no subtype":     {func(u *media.NewUpload) { u.ContentType = "text" }, media.ErrInvalidContentType},
		"garbage type":   {func(u *media.NewUpload) { u.ContentType = "text/plain;;=" }, media.ErrInvalidContentType},
		"empty type":     {func(u *media.NewUpload) { u.ContentType = "" }, media.ErrInvalidContentType},
		"zero size":      {func(u *media.NewUpload) { u.Size = 0 }, media.ErrInvalidSize},
		"over 100 MiB":   {func(u *media.NewUpload) { u.Size = media.MaxSize + 1 }, media.ErrInvalidSize},
		"exactly 100MiB": {func(u *media.NewUpload) { u.Size = media.MaxSize }, nil},
		"255 bytes":      {func(u *media.NewUpload) { u.Filename = strings.Repeat("a", 255) }, nil},
		"params":         {func(u *media.NewUpload) { u.ContentType = "text/plain; charset=utf-8" }, nil},
	}
	for name, c := range cases {
		in := ok
		c.mod(&in)
		_, _, err := f.svc.UploadMedia(t.Context(), f.ann, f.conv, in, idempotency.Request{})
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}
