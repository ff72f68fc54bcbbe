package s3

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
)

// ObjectInfo is what Stat reports of a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ContentType string
	// ETag identifies the object's bytes as the server reports them.
	ETag string
}

// Stat returns the size and content type of the object under key, or ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if code := minio.ToErrorResponse(err).Code; code == minio.NoSuchKey || code == "NotFound" {
			return ObjectInfo{}, fmt.Errorf("stat object: %w: %w", ErrNotFound, err)
		}
		return ObjectInfo{}, fmt.Errorf("stat object: %w", err)
	}
	return ObjectInfo{Key: key, Size: info.Size, ContentType: info.ContentType, ETag: info.ETag}, nil
}

// ErrChanged is a Copy whose source no longer has the ETag asked for.
var ErrChanged = errors.New("s3: the object changed")

// Copy copies the object under src to dst, server-side, with its content type, replacing any
// object at dst. With matchETag set, S3 copies only while src still has that ETag (servers that
// do not check the condition, such as the embedded one, copy whatever is there, so the caller
// checks dst with Stat); a changed src gives ErrChanged. A missing src gives ErrNotFound.
func (s *Store) Copy(ctx context.Context, src, dst, matchETag string) error {
	if err := checkKey(src); err != nil {
		return err
	}
	if err := checkKey(dst); err != nil {
		return err
	}
	_, err := s.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.bucket, Object: src, MatchETag: matchETag})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
			return fmt.Errorf("copy object: %w: %w", ErrChanged, err)
		}
		return fmt.Errorf("copy object: %w", notFound(err))
	}
	return nil
}

// PostUpload is a presigned browser-style upload: a multipart/form-data POST to URL with every
// one of Fields as a form field, then the object's bytes as the field "file", last.
type PostUpload struct {
	URL    string
	Fields map[string]string
}

// PresignPost returns a presigned POST that stores exactly size bytes of contentType under key
// within ttl (at least a second, at most MaxPresignTTL). S3 refuses an upload with another
// key, content type or length; servers that do not check policies (the embedded one) store
// whatever is sent, so the receiver still checks the object with Stat. Like PresignGet, the
// result is a credential: it is handed only to the uploader and never logged.
func (s *Store) PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (PostUpload, error) {
	if err := checkKey(key); err != nil {
		return PostUpload{}, err
	}
	if ttl < time.Second || ttl > MaxPresignTTL {
		return PostUpload{}, fmt.Errorf("presign post: ttl %v: want between 1s and %v", ttl, MaxPresignTTL)
	}
	if size < 1 {
		return PostUpload{}, fmt.Errorf("presign post: size %d: want at least 1", size)
	}
	p := minio.NewPostPolicy()
	for _, err := range []error{
		p.SetBucket(s.bucket), p.SetKey(key), p.SetContentType(contentType),
		p.SetContentLengthRange(size, size), p.SetExpires(time.Now().UTC().Add(ttl)),
	} {
		if err != nil {
			return PostUpload{}, fmt.Errorf("presign post: %w", err)
		}
	}
	u, fields, err := s.client.PresignedPostPolicy(ctx, p)
	if err != nil {
		return PostUpload{}, fmt.Errorf("presign post: %w", err)
	}
	return PostUpload{URL: u.String(), Fields: fields}, nil
}

// PresignGetAttachment is PresignGet for a download that the browser saves as filename: the
// response carries Content-Disposition: attachment with the name (S3 sets it from the signed
// response-content-disposition parameter).
func (s *Store) PresignGetAttachment(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if ttl < time.Second || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign get: ttl %v: want between 1s and %v", ttl, MaxPresignTTL)
	}
	params := url.Values{}
	if filename != "" {
		params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, params)
	if err != nil {
		return "", fmt.Errorf("presign get: %w", err)
	}
	return u.String(), nil
}
