package embedded

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// Credentials and region of the embedded S3 server. They are not secrets: the server listens on
// loopback only, and clients still need some credentials to sign with.
const (
	S3AccessKeyID     = "caas-local"
	S3SecretAccessKey = "caas-local-secret"
	S3Region          = "us-east-1"
)

// startS3 runs gofakes3 on a free loopback port, with its objects stored as files under dir (so
// they survive a restart), creates bucket unless it exists, and returns the endpoint URL.
//
// gofakes3 checks no signature. In front of it, the server refuses requests signed with an
// access key other than S3AccessKeyID and presigned URLs past their expiry, so that a link
// that should have stopped working does; the signature itself is still not verified.
//
// Each object is a file named by its key, so a key cannot also be the start of another key's
// path ("t1/u1" and "t1/u1/export.zip" cannot both exist): keep objects at the leaves.
func startS3(dir, bucket string, logger *slog.Logger) (string, func() error, error) {
	if dir == "" {
		return "", nil, errors.New("no data directory")
	}
	root := filepath.Join(dir, "s3")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, fmt.Errorf("create data directory: %w", err)
	}
	backend, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), root))
	if err != nil {
		return "", nil, fmt.Errorf("open storage: %w", err)
	}
	if bucket != "" {
		exists, err := backend.BucketExists(bucket)
		if err != nil {
			return "", nil, fmt.Errorf("check bucket %s: %w", bucket, err)
		}
		if !exists {
			if err := backend.CreateBucket(bucket); err != nil {
				return "", nil, fmt.Errorf("create bucket %s: %w", bucket, err)
			}
		}
	}
	fake := gofakes3.New(backend, gofakes3.WithLogger(s3Logger{logger.With("component", "gofakes3")}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: checkS3Request(fake.Server(), time.Now), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("embedded s3 stopped", "error", err)
		}
	}()
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, srv.Close())
		}
		<-done
		if err != nil {
			return fmt.Errorf("stop embedded s3: %w", err)
		}
		return nil
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// checkS3Request refuses, as S3 does, a request signed with another access key than
// S3AccessKeyID and a presigned URL whose X-Amz-Date plus X-Amz-Expires is past. Unsigned
// requests pass, as gofakes3 takes them.
func checkS3Request(next http.Handler, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		credential := q.Get("X-Amz-Credential")
		if auth := r.Header.Get("Authorization"); credential == "" && auth != "" {
			_, after, ok := strings.Cut(auth, "Credential=")
			if !ok {
				writeS3Error(w, http.StatusForbidden, "AccessDenied", "Unsupported Authorization header.")
				return
			}
			credential = after
		}
		if credential != "" {
			key, _, _ := strings.Cut(credential, "/")
			if key != S3AccessKeyID {
				writeS3Error(w, http.StatusForbidden, "InvalidAccessKeyId",
					"The AWS Access Key Id you provided does not exist in our records.")
				return
			}
		}
		if q.Has("X-Amz-Signature") {
			signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
			secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
			if err != nil || err2 != nil || secs < 1 {
				writeS3Error(w, http.StatusForbidden, "AuthorizationQueryParametersError",
					"X-Amz-Date and X-Amz-Expires must be set.")
				return
			}
			if now().After(signed.Add(time.Duration(secs) * time.Second)) {
				writeS3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeS3Error writes an S3 error document.
func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: message})
}

// s3Logger routes gofakes3's errors and warnings to slog; it drops info, which logs requests.
type s3Logger struct{ l *slog.Logger }

// Print implements gofakes3.Logger.
func (s s3Logger) Print(level gofakes3.LogLevel, v ...any) {
	switch level {
	case gofakes3.LogErr:
		s.l.Error(fmt.Sprint(v...))
	case gofakes3.LogWarn:
		s.l.Warn(fmt.Sprint(v...))
	}
}
