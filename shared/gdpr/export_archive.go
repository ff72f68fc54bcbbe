package gdpr

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/chat"
	"caas.dev/shared/identity"
	"caas.dev/shared/keys"
)

// Body statuses of an exported message.
const (
	// BodyDecrypted: body holds the text the user sent.
	BodyDecrypted = "decrypted"
	// BodyErased: the sender's key was destroyed (erasure); the text no longer exists.
	BodyErased = "erased"
	// BodyUndecryptable: the stored ciphertext could not be opened; the text is not included.
	BodyUndecryptable = "undecryptable"
)

// MediaStatement is what media.json says of its items.
const MediaStatement = "The files you attached to conversations, as references: their bytes are not in this archive; " +
	"a member of the conversation downloads a ready file with GET /v1/media/{id}."

// build writes e's archive to a temporary file, then stores it under x.ObjectKey(e). It returns
// the counts of each file, or the problem code and error of a failure. The archive's content
// goes nowhere else: no log line carries it.
func (x *Exporter) build(ctx context.Context, e Export) (map[string]int, string, error) {
	u, err := x.Users.UserByID(ctx, e.TenantID, e.UserID)
	if errors.Is(err, identity.ErrUserNotFound) {
		return nil, ProblemUserGone, err
	}
	if err != nil {
		return nil, ProblemExportBuild, err
	}
	f, err := os.CreateTemp("", "caas-export-")
	if err != nil {
		return nil, ProblemExportBuild, fmt.Errorf("create archive file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()

	zw := zip.NewWriter(f)
	counts, err := x.writeArchive(ctx, zw, e, u)
	if err != nil {
		return nil, ProblemExportBuild, err
	}
	if err := zw.Close(); err != nil {
		return nil, ProblemExportBuild, fmt.Errorf("close archive: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, ProblemExportBuild, fmt.Errorf("size archive: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, ProblemExportBuild, fmt.Errorf("rewind archive: %w", err)
	}
	if err := x.Archives.Put(ctx, x.ObjectKey(e), f, size, "application/zip"); err != nil {
		return nil, ProblemExportUpload, fmt.Errorf("store archive: %w", err)
	}
	return counts, "", nil
}

// writeArchive writes every file of the archive to zw and returns their counts.
// Every file of the archive is dated with the time the build started, which the manifest
// states as generated_at.
func (x *Exporter) writeArchive(ctx context.Context, zw *zip.Writer, e Export, u identity.User) (map[string]int, error) {
	at := x.Clock.Now().UTC()
	counts := map[string]int{}
	steps := []struct {
		name  string
		write func(context.Context, *jsonList, Export) error
	}{
		{"sessions.json", x.writeSessions},
		{"conversations.json", x.writeConversations},
		{"messages.json", x.writeMessages},
		{"consents.json", x.writeConsents},
		{"audit.json", x.writeAudit},
		{"rectifications.json", x.writeRectifications},
	}
	if err := writeJSONFile(zw, "profile.json", at, profileJSON{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName,
		Role: identity.RoleOf(u), CreatedAt: timeJSON(u.CreatedAt)}); err != nil {
		return nil, err
	}
	counts["profile"] = 1
	for _, s := range steps {
		w, err := createEntry(zw, s.name, at)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", s.name, err)
		}
		l := &jsonList{w: w}
		if err := s.write(ctx, l, e); err != nil {
			return nil, fmt.Errorf("write %s: %w", s.name, err)
		}
		if err := l.close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", s.name, err)
		}
		counts[strings.TrimSuffix(s.name, ".json")] = l.n
	}
	items, err := x.mediaItems(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("write media.json: %w", err)
	}
	if err := writeJSONFile(zw, "media.json", at, mediaJSON{Items: items, Statement: MediaStatement}); err != nil {
		return nil, err
	}
	counts["media"] = len(items)
	info, err := x.information(ctx, e.TenantID)
	if err != nil {
		return nil, err
	}
	if err := writeJSONFile(zw, "information.json", at, info); err != nil {
		return nil, err
	}
	counts["information"] = 1
	m := manifestJSON{Format: "caas.gdpr.export.v1", ExportID: e.ID, TenantID: e.TenantID, UserID: e.UserID,
		RequestedAt: timeJSON(e.CreatedAt), GeneratedAt: timeJSON(at), Counts: counts}
	if err := writeJSONFile(zw, "manifest.json", at, m); err != nil {
		return nil, err
	}
	return counts, nil
}

func (x *Exporter) writeSessions(ctx context.Context, l *jsonList, e Export) error {
	ss, err := x.Source.Sessions(ctx, e.TenantID, e.UserID)
	if err != nil {
		return err
	}
	for _, s := range ss {
		j := sessionJSON{ID: s.ID, CreatedAt: timeJSON(s.CreatedAt), IP: s.IP, UserAgent: s.UserAgent}
		if !s.LastUsedAt.IsZero() {
			j.LastUsedAt = timeJSON(s.LastUsedAt)
		}
		if s.RevokedAt != nil {
			j.RevokedAt = timeJSON(*s.RevokedAt)
		}
		if err := l.add(j); err != nil {
			return err
		}
	}
	return nil
}

func (x *Exporter) writeConversations(ctx context.Context, l *jsonList, e Export) error {
	before := ""
	for {
		page, err := x.Source.Conversations(ctx, e.TenantID, e.UserID, before, exportPage)
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := l.add(conversationJSON{ID: c.ID, Type: c.Type, Title: c.Title, Members: c.Members,
				CreatedBy: c.CreatedBy, CreatedAt: timeJSON(c.CreatedAt)}); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		before = page[len(page)-1].ID
	}
}

func (x *Exporter) writeMessages(ctx context.Context, l *jsonList, e Export) error {
	after := ""
	for {
		page, err := x.Source.SentMessages(ctx, e.TenantID, e.UserID, after, exportPage)
		if err != nil {
			return err
		}
		for _, m := range page {
			j := messageJSON{ID: m.ID, ConversationID: m.ConversationID, Seq: m.Seq, ClientMsgID: m.ClientMsgID,
				CreatedAt: timeJSON(m.CreatedAt), BodyStatus: BodyDecrypted}
			pt, err := x.Bodies.Decrypt(ctx, m.TenantID, m.BodyCiphertext, chat.BodyContext(m.ConversationID, m.ID))
			switch {
			case errors.Is(err, keys.ErrKeyShredded):
				j.BodyStatus = BodyErased
			case err != nil || m.BodyCiphertext == "":
				j.BodyStatus = BodyUndecryptable
			default:
				j.Body = string(pt)
			}
			if err := l.add(j); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (x *Exporter) writeConsents(ctx context.Context, l *jsonList, e Export) error {
	var after ConsentPosition
	for {
		page, err := x.Consents.ListConsents(ctx, e.TenantID, e.UserID, "", after, exportPage)
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := l.add(toConsentJSON(c)); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		last := page[len(page)-1]
		after = ConsentPosition{RecordedAt: last.RecordedAt, ID: last.ID}
	}
}

func (x *Exporter) writeAudit(ctx context.Context, l *jsonList, e Export) error {
	return x.eachAuditRecord(ctx, e, func(_ string, r audit.Record) error { return l.add(audit.RecordJSON(r)) })
}

// eachAuditRecord calls fn, in seq order, with every audit record whose actor is the user's
// pseudonym or whose resource names it, and the pseudonym.
func (x *Exporter) eachAuditRecord(ctx context.Context, e Export, fn func(pseudonym string, r audit.Record) error) error {
	p, err := x.Audit.Pseudonym(ctx, e.TenantID, e.UserID)
	if err != nil {
		return err
	}
	var after int64
	for {
		page, err := x.Source.AuditRecords(ctx, e.TenantID, p, after, exportPage)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(p, r); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// rectificationJSON is one corrected profile field, opened from the sealed values of its audit
// record: the subject is the one person the export is for, so the values come back in clear.
type rectificationJSON struct {
	RecordID string `json:"record_id"`
	Seq      int64  `json:"seq"`
	Time     string `json:"time"`
	Field    string `json:"field"`
	Old      string `json:"old"`
	New      string `json:"new"`
}

// writeRectifications lists the corrections of the user's profile (Art. 16), one item per
// field, with the old and new values the audit trail keeps sealed under the user's key.
func (x *Exporter) writeRectifications(ctx context.Context, l *jsonList, e Export) error {
	return x.eachAuditRecord(ctx, e, func(p string, r audit.Record) error {
		if r.Action != RectificationAction || r.Resource != "user:"+p || r.Details["fields"] == "" {
			return nil
		}
		for _, f := range strings.Split(r.Details["fields"], ",") {
			item := rectificationJSON{RecordID: r.ID, Seq: r.Seq, Time: r.Time.UTC().Format(audit.TimeFormat), Field: f}
			for side, out := range map[string]*string{"old": &item.Old, "new": &item.New} {
				v, err := OpenRectifiedValue(ctx, x.Bodies, e.TenantID, e.UserID, r.ID, f, side, r.Details[side+"_"+f])
				if err != nil {
					return fmt.Errorf("open rectified %s: %w", f, err)
				}
				*out = v
			}
			if err := l.add(item); err != nil {
				return err
			}
		}
		return nil
	})
}

// createEntry starts a compressed file of the archive dated modified (zip.Writer.Create leaves
// the date empty, which unzip shows as 1980-00-00).
func createEntry(zw *zip.Writer, name string, modified time.Time) (io.Writer, error) {
	return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified.UTC()})
}

// jsonList streams a JSON array: one element at a time, never the whole list in memory.
type jsonList struct {
	w io.Writer
	n int
}

func (l *jsonList) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sep := ",\n"
	if l.n == 0 {
		sep = "[\n"
	}
	if _, err := io.WriteString(l.w, sep); err != nil {
		return err
	}
	if _, err := l.w.Write(b); err != nil {
		return err
	}
	l.n++
	return nil
}

func (l *jsonList) close() error {
	end := "\n]\n"
	if l.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(l.w, end)
	return err
}

func writeJSONFile(zw *zip.Writer, name string, modified time.Time, v any) error {
	w, err := createEntry(zw, name, modified)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

type sessionJSON struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at,omitempty"`
	RevokedAt  string `json:"revoked_at,omitempty"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
}

type conversationJSON struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	Title     string   `json:"title,omitempty"`
	Members   []string `json:"members"`
	CreatedBy string   `json:"created_by"`
	CreatedAt string   `json:"created_at"`
}

type messageJSON struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	ClientMsgID    string `json:"client_msg_id"`
	CreatedAt      string `json:"created_at"`
	Body           string `json:"body"`
	BodyStatus     string `json:"body_status"`
}

type mediaJSON struct {
	Items     []mediaItemJSON `json:"items"`
	Statement string          `json:"statement"`
}

// mediaItemJSON is a reference to a file the user uploaded, not its bytes.
type mediaItemJSON struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	Filename       string `json:"filename"`
	ContentType    string `json:"content_type"`
	Size           int64  `json:"size"`
	CreatedAt      string `json:"created_at"`
	Status         string `json:"status"`
}

// mediaItems lists the media the user uploaded, oldest first; none without a media store.
func (x *Exporter) mediaItems(ctx context.Context, e Export) ([]mediaItemJSON, error) {
	items := []mediaItemJSON{}
	if x.Media == nil {
		return items, nil
	}
	ms, err := x.Media.MediaOfUploader(ctx, e.TenantID, e.UserID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		items = append(items, mediaItemJSON{ID: m.ID, ConversationID: m.ConversationID, Filename: m.Filename,
			ContentType: m.ContentType, Size: m.Size, CreatedAt: timeJSON(m.CreatedAt), Status: m.Status})
	}
	return items, nil
}

type manifestJSON struct {
	Format      string         `json:"format"`
	ExportID    string         `json:"export_id"`
	TenantID    string         `json:"tenant_id"`
	UserID      string         `json:"user_id"`
	RequestedAt string         `json:"requested_at"`
	GeneratedAt string         `json:"generated_at"`
	Counts      map[string]int `json:"counts"`
}

// informationJSON is the information GDPR Art. 15(1) and (2) requires besides the data.
type informationJSON struct {
	Controller  string               `json:"controller"`
	Purposes    []string             `json:"purposes"`
	Categories  []string             `json:"categories"`
	Retention   []RetentionStatement `json:"retention"`
	Recipients  []Processor          `json:"recipients"`
	Source      string               `json:"source"`
	Automated   string               `json:"automated_decision_making"`
	Transfers   string               `json:"third_country_transfers"`
	Rights      []string             `json:"rights"`
	GeneratedAt string               `json:"generated_at"`
}

// DefaultRetention is the retention information when no retention policy supplies it.
var DefaultRetention = []RetentionStatement{
	{Category: "profile", Period: "kept while the account exists; deleted on erasure"},
	{Category: "sessions", Period: "kept while the account exists; deleted on erasure"},
	{Category: "messages", Period: "kept while the conversation exists, unless the tenant's retention policy sets a shorter period; bodies are destroyed on erasure"},
	{Category: "consents", Period: "kept as the proof that processing was lawful (Art. 7(1)), also after erasure, when they name you only by a random user id that nothing links to you any more"},
	{Category: "audit", Period: "kept as the tenant's tamper-evident audit trail; the link from the pseudonym to the user is deleted on erasure"},
	{Category: "exports", Period: "an export archive is deleted 7 days after it is built"},
	{Category: "media", Period: "kept while the conversation exists, unless the tenant's retention policy sets a shorter period; deleted on erasure"},
}

// DefaultProcessors are the backends of a deployment as recipients of the data.
var DefaultProcessors = []Processor{
	{Name: "MongoDB (FerretDB)", Purpose: "stores profiles, sessions, conversations, messages (encrypted), consents and audit records"},
	{Name: "Redis", Purpose: "holds presence and rate-limit counters"},
	{Name: "Kafka", Purpose: "carries message and job events (ids only, bodies encrypted)"},
	{Name: "S3 object storage", Purpose: "stores audit checkpoints, export archives and the files attached to conversations"},
	{Name: "Key management service", Purpose: "protects the encryption keys of message bodies"},
	{Name: "AWS Lambda and API Gateway", Purpose: "run the service and carry its requests"},
}

func (x *Exporter) information(ctx context.Context, tenantID string) (informationJSON, error) {
	retention := DefaultRetention
	if x.Retention != nil {
		r, err := x.Retention(ctx, tenantID)
		if err != nil {
			return informationJSON{}, fmt.Errorf("read retention: %w", err)
		}
		if len(r) > 0 {
			retention = r
		}
	}
	recipients := x.Processors
	if recipients == nil {
		recipients = DefaultProcessors
	}
	return informationJSON{
		Controller: "the organisation (tenant) that operates this chat service for you",
		Purposes: []string{
			"providing the chat service: accounts, sign-in, conversations and message delivery",
			"security: protecting accounts, detecting abuse, keeping an audit trail of requests",
			"recording the consents you gave or withdrew",
		},
		Categories: []string{
			"identity and contact data (email, display name, role)",
			"session data (times, IP addresses, user agents)",
			"conversation memberships",
			"content of messages you sent",
			"files you attached to conversations (name, type, size and content)",
			"consent records",
			"audit records of requests you made (under a pseudonym)",
		},
		Retention:  retention,
		Recipients: recipients,
		Source:     "collected from you when you registered and used the service, or from your organisation's administrator",
		Automated:  "none: no decision producing legal effects is made by automated means",
		Transfers:  "as configured by the operator of this deployment",
		Rights: []string{
			"access (Art. 15): this export",
			"rectification (Art. 16): PATCH /v1/gdpr/users/{id}",
			"erasure (Art. 17)",
			"restriction of processing (Art. 18)",
			"data portability (Art. 20): the JSON files of this export",
			"objection (Art. 21)",
			"withdrawal of consent at any time (Art. 7(3)): POST /v1/gdpr/consents",
			"lodging a complaint with a supervisory authority (Art. 77)",
		},
		GeneratedAt: timeJSON(x.Clock.Now()),
	}, nil
}
