// Package s3 stores objects (GDPR exports, audit checkpoints) in an S3 bucket: AWS S3, MinIO or
// the embedded server `caas run` starts. It wraps minio-go and speaks only to one bucket.
//
// Keys are "/"-separated paths, tenant first (such as "t_acme/exports/u123/2026-12-04.zip"),
// so that a tenant's or a user's objects can be listed and erased by prefix.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment variables that configure the store, as template.yaml sets them for every function.
const (
	EndpointEnv        = "S3_ENDPOINT"
	RegionEnv          = "S3_REGION"
	AccessKeyIDEnv     = "S3_ACCESS_KEY_ID"
	SecretAccessKeyEnv = "S3_SECRET_ACCESS_KEY"
	BucketEnv          = "S3_BUCKET"
)

// DefaultRegion is the region used when none is configured.
const DefaultRegion = "us-east-1"

// MaxPresignTTL is the longest lifetime of a presigned URL that SigV4 allows.
const MaxPresignTTL = 7 * 24 * time.Hour

// maxKeyLen is S3's limit on an object key, in bytes.
const maxKeyLen = 1024

// ErrNotFound is returned by Get for a key that holds no object.
var ErrNotFound = errors.New("s3: object not found")

// ErrInvalidKey is returned for a key or prefix the store refuses: empty, absolute, with an empty,
// "." or ".." segment, not UTF-8, or longer than 1024 bytes.
var ErrInvalidKey = errors.New("s3: invalid key")

// Config says which bucket to reach and how.
type Config struct {
	// Endpoint is the server's URL, http(s)://host[:port]. Empty means AWS S3
	// (https://s3.<Region>.amazonaws.com).
	Endpoint string
	// Region is the bucket's region; empty means DefaultRegion. ConfigFromEnv falls back to
	// AWS_REGION, which Lambda sets to the function's region.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials. When AccessKeyID is empty, the
	// AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, as Lambda
	// sets them from the function's role) or the instance role are used.
	AccessKeyID     string
	SecretAccessKey string
	// Bucket is the bucket every key lives in. Required.
	Bucket string
	// PathStyle addresses the bucket as http://host/bucket/key rather than
	// http://bucket.host/key, as MinIO and the embedded server need.
	PathStyle bool
}

// ConfigFromEnv reads a Config from the S3_* variables (and AWS_REGION). Path-style addressing is chosen for any
// endpoint that is not AWS's.
func ConfigFromEnv(getenv func(string) string) Config {
	c := Config{
		Endpoint:        getenv(EndpointEnv),
		Region:          getenv(RegionEnv),
		AccessKeyID:     getenv(AccessKeyIDEnv),
		SecretAccessKey: getenv(SecretAccessKeyEnv),
		Bucket:          getenv(BucketEnv),
	}
	if c.Region == "" {
		c.Region = getenv("AWS_REGION")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		c.PathStyle = err != nil || !strings.HasSuffix(u.Hostname(), ".amazonaws.com")
	}
	return c
}

// Store reads and writes the objects of one bucket. It is safe for concurrent use.
type Store struct {
	client *minio.Client
	bucket string
	region string
}

// Object describes a stored object, as List returns it.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// Open returns a Store for cfg. It does not contact the server: EnsureBucket or Ping does.
func Open(_ context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("open s3 store: no bucket configured")
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3." + region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("open s3 store: endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("open s3 store: endpoint %q: want http(s)://host[:port]", endpoint)
	}
	var creds *credentials.Credentials
	if cfg.AccessKeyID != "" {
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds: creds, Secure: u.Scheme == "https", Region: region, BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 store: %w", err)
	}
	return &Store{client: client, bucket: cfg.Bucket, region: region}, nil
}

// Bucket returns the name of the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket unless it exists.
func (s *Store) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", s.bucket, err)
	}
	if exists {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region}); err != nil {
		// Another process may have created it since.
		if code := minio.ToErrorResponse(err).Code; code == minio.BucketAlreadyOwnedByYou || code == minio.BucketAlreadyExists {
			return nil
		}
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Ping checks that the server answers and the bucket exists.
func (s *Store) Ping(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", s.bucket, err)
	}
	if !exists {
		return fmt.Errorf("check bucket %s: it does not exist", s.bucket)
	}
	return nil
}

// Put stores size bytes read from r under key, replacing any object there. A size of -1 reads r
// to its end into a temporary file first, then uploads that: minio-go streams a body of unknown
// length with trailing checksums, which the embedded server does not decode.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if size < 0 {
		f, err := os.CreateTemp("", "caas-s3-put-")
		if err != nil {
			return fmt.Errorf("put object: spool: %w", err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if size, err = io.Copy(f, r); err != nil {
			return fmt.Errorf("put object: spool: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("put object: spool: %w", err)
		}
		r = f
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

// Get opens the object under key; the caller closes it. A key without an object gives
// ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get object: %w", notFound(err))
	}
	// GetObject is lazy: Stat sends the request, so a missing object shows here.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, fmt.Errorf("get object: %w", notFound(err))
	}
	return obj, nil
}

// Delete removes the object under key. Deleting a missing object succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("delete object: %w", err)
	}
	return nil
}

// DeletePrefix removes every object whose key starts with prefix, and returns how many it
// removed. prefix must end with "/", so that "t1/users/u1/" never takes "t1/users/u10/...".
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := checkPrefix(prefix); err != nil {
		return 0, err
	}
	objects, err := s.List(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("delete prefix: %w", err)
	}
	ch := make(chan minio.ObjectInfo, len(objects))
	for _, o := range objects {
		ch <- minio.ObjectInfo{Key: o.Key}
	}
	close(ch)
	var errs []error
	failed := 0
	for e := range s.client.RemoveObjects(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && minio.ToErrorResponse(e.Err).Code != minio.NoSuchKey {
			failed++
			errs = append(errs, fmt.Errorf("%s: %w", e.ObjectName, e.Err))
		}
	}
	if len(errs) > 0 {
		return len(objects) - failed, fmt.Errorf("delete prefix: %w", errors.Join(errs...))
	}
	return len(objects), nil
}

// List returns the objects whose key starts with prefix, at any depth, in key order. An empty
// prefix lists the whole bucket; any other prefix must be a valid key start.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	if prefix != "" {
		if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, err
		}
	}
	var out []Object
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, fmt.Errorf("list objects: %w", info.Err)
		}
		out = append(out, Object{Key: info.Key, Size: info.Size, LastModified: info.LastModified})
	}
	return out, nil
}

// PresignGet returns a URL that downloads the object under key with a plain GET, without
// credentials, for ttl (at least a second, at most MaxPresignTTL). Whoever holds the URL can
// read the object until then, so it is handed only to the object's owner and never logged. The
// URL is signed locally: it is returned whether or not the object exists.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if ttl < time.Second || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign get: ttl %v: want between 1s and %v", ttl, MaxPresignTTL)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("presign get: %w", err)
	}
	return u.String(), nil
}

// notFound maps S3's "no such key" to ErrNotFound, keeping err for the message.
func notFound(err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// checkKey refuses keys that S3 or a file-backed server would treat as something else.
func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen || !utf8.ValidString(key) || strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}

// checkPrefix accepts a non-empty prefix of whole path segments, ending with "/".
func checkPrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w: prefix %q must end with /", ErrInvalidKey, prefix)
	}
	return checkKey(strings.TrimSuffix(prefix, "/"))
}
