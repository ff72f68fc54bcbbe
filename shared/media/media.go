// Package media stores the files members attach to a conversation. The bytes never pass
// through a function: UploadMedia records a pending media document and hands the uploader a
// presigned S3 upload of exactly the declared size and content type, CompleteUpload checks the
// uploaded object against the declaration, copies it to the media's own key and marks the media
// ready, and GetMedia gives a member of the conversation the metadata and a presigned download
// link.
//
// Uploads land under uploads/<tenant>/<conversation>/<media id> (UploadKey), where the
// presigned POST may write for as long as it works; only the server writes the media's key,
// media/<tenant>/<conversation>/<media id> (ObjectKey), so a second POST after completion
// never changes what is downloaded. Documents live in caas_platform.media.
package media

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
	"caas.dev/shared/s3"
)

// Limits of a media upload.
const (
	MaxSize           = 100 << 20
	MaxFilenameLen    = 255
	MaxContentTypeLen = 255
	// LinkTTL is how long a presigned upload or download link works.
	LinkTTL = 15 * time.Minute
)

// Statuses of a media document.
const (
	StatusPending = "pending"
	StatusReady   = "ready"
)

// Failures of media requests. Their codes are part of the API contract.
var (
	// ErrInvalidFilename: the filename is not 1 to 255 bytes of UTF-8 without '/', '\' or
	// control characters.
	ErrInvalidFilename = fault.New(fault.Invalid, "invalid_filename",
		"filename: must be 1 to 255 bytes of UTF-8 without '/', '\\' or control characters")
	// ErrInvalidContentType: the content type is not a well-formed MIME type (type/subtype).
	ErrInvalidContentType = fault.New(fault.Invalid, "invalid_content_type",
		"content_type: must be a well-formed MIME type such as image/png, at most 255 bytes")
	// ErrInvalidSize: the size is not 1 byte to 100 MiB.
	ErrInvalidSize = fault.New(fault.Invalid, "invalid_size", "size: must be 1 to 104857600 bytes")
	// ErrNotFound: no such media, or the caller is not a member of its conversation.
	ErrNotFound = fault.New(fault.NotFound, "media_not_found", "the media does not exist")
	// ErrUploadMissing: CompleteUpload found no uploaded object.
	ErrUploadMissing = fault.New(fault.Conflict, "upload_missing",
		"no object was uploaded for this media; upload it with the presigned request first")
	// ErrUploadMismatch: the uploaded object's size or content type differs from the
	// declaration; the object was deleted.
	ErrUploadMismatch = fault.New(fault.Unprocessable, "upload_mismatch",
		"the uploaded object's size or content type differs from what was declared; it was deleted")
	// ErrUserRequired: only a user (not the tenant's API key) uploads and reads media.
	ErrUserRequired = fault.New(fault.Forbidden, "user_required", "only a user of the tenant may do this")
)

// Media is one file attached to a conversation.
type Media struct {
	ID             string
	TenantID       string
	ConversationID string
	UploaderID     string
	Filename       string
	ContentType    string
	// Size is the declared size in bytes, which the stored object matches once ready.
	Size      int64
	ObjectKey string
	Status    string
	CreatedAt time.Time
	// ReadyAt is when CompleteUpload found the object; zero while pending.
	ReadyAt time.Time
}

// Store keeps media documents. Every method is scoped to one tenant.
type Store interface {
	// InsertMedia stores m unless a document with m.ID exists; then it returns that document
	// and created=false.
	InsertMedia(ctx context.Context, m Media) (stored Media, created bool, err error)
	// MediaByID returns the tenant's media, or ErrNotFound.
	MediaByID(ctx context.Context, tenantID, id string) (Media, error)
	// MarkReady sets the media's status to ready at the time at. Doing it again is harmless.
	MarkReady(ctx context.Context, tenantID, id string, at time.Time) error
}

// Objects holds the media bytes: the S3 store implements it.
type Objects interface {
	PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (s3.PostUpload, error)
	Stat(ctx context.Context, key string) (s3.ObjectInfo, error)
	Copy(ctx context.Context, src, dst, matchETag string) error
	Delete(ctx context.Context, key string) error
	PresignGetAttachment(ctx context.Context, key, filename string, ttl time.Duration) (string, error)
}

// Members tells whether a user belongs to a conversation.
type Members interface {
	// IsMember reports whether userID is a member of the tenant's conversation.
	IsMember(ctx context.Context, tenantID, conversationID, userID string) (bool, error)
}

// Service uploads, completes and reads media.
type Service struct {
	Store   Store
	Objects Objects
	Members Members
	// Keys settles Idempotency-Key headers of uploads.
	Keys  idempotency.Store
	Clock clock.Clock
	IDs   ids.Generator
}

// NewUpload is an upload as a client declares it.
type NewUpload struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// Upload is a pending or ready media with, while pending, the presigned request that uploads it.
type Upload struct {
	Media   Media
	Request *s3.PostUpload
	// ExpiresAt is when Request stops working.
	ExpiresAt time.Time
}

// uploadOp names uploads in the scope of their idempotency keys.
const uploadOp = "media_upload"

// ObjectKey returns where the bytes of a media live.
func ObjectKey(tenantID, conversationID, mediaID string) string {
	return "media/" + tenantID + "/" + conversationID + "/" + mediaID
}

// UploadKey returns where the presigned upload of a media puts its bytes until CompleteUpload
// copies them to ObjectKey.
func UploadKey(tenantID, conversationID, mediaID string) string {
	return "uploads/" + tenantID + "/" + conversationID + "/" + mediaID
}

// TODO: an upload made with a still-valid presigned request after erasure or retention deleted
// the media (at most LinkTTL after the request was issued) leaves an object at UploadKey that no
// document names and nothing deletes; a sweep of uploads/ (or a bucket lifecycle rule on that
// prefix) would remove it.

// Keys returns every key that may hold bytes of m: the media's own and its upload's. Whoever
// deletes a media (erasure, retention) deletes both.
func Keys(m Media) []string {
	return []string{m.ObjectKey, UploadKey(m.TenantID, m.ConversationID, m.ID)}
}

// UploadMedia validates in, checks that the caller is a member of the conversation, stores a
// pending media and presigns its upload. With a key in r, a repeat of the same request returns
// the same media (created=false) with a fresh presigned request.
func (s *Service) UploadMedia(ctx context.Context, caller edge.Identity, conversationID string, in NewUpload, r idempotency.Request) (Upload, bool, error) {
	if err := ValidateUpload(in); err != nil {
		return Upload{}, false, err
	}
	if caller.Actor != edge.ActorUser || caller.UserID == "" {
		return Upload{}, false, ErrUserRequired
	}
	if err := s.requireMember(ctx, caller, conversationID, conversationNotFound); err != nil {
		return Upload{}, false, err
	}
	m := Media{
		ID: s.IDs.New(ids.Media), TenantID: caller.TenantID, ConversationID: conversationID,
		UploaderID: caller.UserID, Filename: in.Filename, ContentType: in.ContentType, Size: in.Size,
		Status: StatusPending, CreatedAt: s.Clock.Now(),
	}
	if r.Key != "" {
		scope := uploadOp + "|" + caller.TenantID + "|" + caller.UserID
		held, _, err := idempotency.Settle(ctx, s.Keys, scope, r, m.ID, m.CreatedAt)
		if err != nil {
			return Upload{}, false, fmt.Errorf("upload media: %w", err)
		}
		m.ID, m.CreatedAt = held.ResourceID, held.CreatedAt
	}
	m.ObjectKey = ObjectKey(m.TenantID, m.ConversationID, m.ID)
	stored, created, err := s.Store.InsertMedia(ctx, m)
	if err != nil {
		return Upload{}, false, fmt.Errorf("upload media: %w", err)
	}
	up := Upload{Media: stored}
	if stored.Status == StatusPending {
		req, err := s.Objects.PresignPost(ctx, UploadKey(stored.TenantID, stored.ConversationID, stored.ID),
			stored.ContentType, stored.Size, LinkTTL)
		if err != nil {
			return Upload{}, false, fmt.Errorf("upload media: %w", err)
		}
		up.Request, up.ExpiresAt = &req, s.Clock.Now().Add(LinkTTL)
	}
	return up, created, nil
}

// CompleteUpload checks the uploaded object of the caller's media against its declaration,
// copies it to the media's key (ObjectKey), deletes the upload and marks the media ready. A
// missing object fails with ErrUploadMissing; an object of another size or content type is
// deleted and fails with ErrUploadMismatch. Completing a ready media returns it unchanged: an
// upload made after completion stays at UploadKey, which nothing serves.
func (s *Service) CompleteUpload(ctx context.Context, caller edge.Identity, id string) (Media, error) {
	m, err := s.find(ctx, caller, id)
	if err != nil {
		return Media{}, err
	}
	if m.UploaderID != caller.UserID {
		return Media{}, ErrNotFound
	}
	if m.Status == StatusReady {
		return m, nil
	}
	upload := UploadKey(m.TenantID, m.ConversationID, m.ID)
	info, err := s.Objects.Stat(ctx, upload)
	if errors.Is(err, s3.ErrNotFound) {
		return Media{}, ErrUploadMissing
	}
	if err != nil {
		return Media{}, fmt.Errorf("complete upload: %w", err)
	}
	mismatch := func() (Media, error) {
		for _, k := range Keys(m) {
			if err := s.Objects.Delete(ctx, k); err != nil {
				return Media{}, fmt.Errorf("complete upload: delete mismatched object: %w", err)
			}
		}
		return Media{}, ErrUploadMismatch
	}
	if !s.matches(info, m) {
		return mismatch()
	}
	// The presigned POST still works, so the upload may change under us: copy only the object
	// just checked (S3 checks the ETag), then check what the media's key holds.
	switch err := s.Objects.Copy(ctx, upload, m.ObjectKey, info.ETag); {
	case errors.Is(err, s3.ErrNotFound):
		return Media{}, ErrUploadMissing
	case errors.Is(err, s3.ErrChanged):
		return mismatch()
	case err != nil:
		return Media{}, fmt.Errorf("complete upload: %w", err)
	}
	copied, err := s.Objects.Stat(ctx, m.ObjectKey)
	if err != nil {
		return Media{}, fmt.Errorf("complete upload: %w", err)
	}
	// A copy of a single-part object keeps its ETag, so another one means the upload changed
	// between the check and the copy on a server that ignores the copy's condition.
	if !s.matches(copied, m) || (info.ETag != "" && copied.ETag != info.ETag) {
		return mismatch()
	}
	if err := s.Objects.Delete(ctx, upload); err != nil {
		return Media{}, fmt.Errorf("complete upload: delete upload: %w", err)
	}
	at := s.Clock.Now()
	if err := s.Store.MarkReady(ctx, m.TenantID, m.ID, at); err != nil {
		return Media{}, fmt.Errorf("complete upload: %w", err)
	}
	m.Status, m.ReadyAt = StatusReady, at.UTC().Truncate(time.Millisecond)
	return m, nil
}

// Download is a media with, when ready, a presigned link that downloads it.
type Download struct {
	Media     Media
	URL       string
	ExpiresAt time.Time
}

// GetMedia returns the media to a member of its conversation, with a download link when it is
// ready.
func (s *Service) GetMedia(ctx context.Context, caller edge.Identity, id string) (Download, error) {
	m, err := s.find(ctx, caller, id)
	if err != nil {
		return Download{}, err
	}
	d := Download{Media: m}
	if m.Status == StatusReady {
		if d.URL, err = s.Objects.PresignGetAttachment(ctx, m.ObjectKey, m.Filename, LinkTTL); err != nil {
			return Download{}, fmt.Errorf("get media: %w", err)
		}
		d.ExpiresAt = s.Clock.Now().Add(LinkTTL)
	}
	return d, nil
}

// find returns the media id of the caller's tenant when the caller is a member of its
// conversation, and ErrNotFound otherwise.
func (s *Service) find(ctx context.Context, caller edge.Identity, id string) (Media, error) {
	if caller.Actor != edge.ActorUser || caller.UserID == "" {
		return Media{}, ErrUserRequired
	}
	if !ids.Valid(ids.Media, id) {
		return Media{}, ErrNotFound
	}
	m, err := s.Store.MediaByID(ctx, caller.TenantID, id)
	if err != nil {
		return Media{}, err
	}
	if err := s.requireMember(ctx, caller, m.ConversationID, ErrNotFound); err != nil {
		return Media{}, err
	}
	return m, nil
}

// conversationNotFound is chat's answer for a conversation the caller is not in.
var conversationNotFound = fault.New(fault.NotFound, "conversation_not_found", "the conversation does not exist")

// requireMember returns notFound unless the caller is a member of the conversation.
func (s *Service) requireMember(ctx context.Context, caller edge.Identity, conversationID string, notFound error) error {
	if !ids.Valid(ids.Conversation, conversationID) {
		return notFound
	}
	ok, err := s.Members.IsMember(ctx, caller.TenantID, conversationID, caller.UserID)
	if err != nil {
		return fmt.Errorf("check membership: %w", err)
	}
	if !ok {
		return notFound
	}
	return nil
}

// ValidateUpload checks a declared upload against the limits.
func ValidateUpload(in NewUpload) error {
	if !ValidFilename(in.Filename) {
		return ErrInvalidFilename
	}
	if !ValidContentType(in.ContentType) {
		return ErrInvalidContentType
	}
	if in.Size < 1 || in.Size > MaxSize {
		return ErrInvalidSize
	}
	return nil
}

// ValidFilename reports whether name is 1 to 255 bytes of UTF-8 without '/', '\' or control
// characters.
func ValidFilename(name string) bool {
	if name == "" || len(name) > MaxFilenameLen || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return false
		}
	}
	return name != "." && name != ".."
}

// ValidContentType reports whether ct is a well-formed MIME type, type/subtype with optional
// parameters, of at most 255 bytes.
func ValidContentType(ct string) bool {
	if ct == "" || len(ct) > MaxContentTypeLen || strings.TrimSpace(ct) != ct {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && typ != "" && sub != "" && !strings.Contains(sub, "/")
}

// matches reports whether a stored object has the media's declared size and content type.
func (s *Service) matches(info s3.ObjectInfo, m Media) bool {
	return info.Size == m.Size && sameContentType(info.ContentType, m.ContentType)
}

// sameContentType compares a stored object's content type with the declared one; S3 keeps
// it as sent, but type and subtype are case-insensitive.
func sameContentType(stored, declared string) bool {
	a, pa, errA := mime.ParseMediaType(stored)
	b, pb, errB := mime.ParseMediaType(declared)
	if errA != nil || errB != nil {
		return stored == declared
	}
	if a != b || len(pa) != len(pb) {
		return false
	}
	for k, v := range pa {
		if pb[k] != v {
			return false
		}
	}
	return true
}
