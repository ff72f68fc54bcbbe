package backendtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed" // the emulator's command source
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSEnv names a KMS endpoint (an emulator such as the one tests/scripts/real-services.sh
// starts) for the tests to use instead of starting their own.
const KMSEnv = "CAAS_KMS_ENDPOINT"

// The KMS emulator: local-kms, from the Go module proxy, served by the command in
// localkms/main.go, which binds only loopback.
const (
	LocalKMSModule  = "github.com/nsmithuk/local-kms"
	LocalKMSVersion = "v0.0.0-20260228092603-2a5e92d09ab6"
	// KMSRegion is the region of the emulator's key ARNs and of the test clients.
	KMSRegion = "eu-west-2"
)

//go:embed localkms/main.go
var localKMSMain string

var kmsB backend

// KMSEndpoint returns CAAS_KMS_ENDPOINT when set (after checking that a KMS answers there),
// else the endpoint of a local-kms emulator this test binary starts on a free loopback port.
// The emulator is built once per machine into the user's cache directory; it keeps its keys in
// a temporary directory and stops, removing them, when the test binary exits.
func KMSEndpoint(t testing.TB) string {
	t.Helper()
	return kmsB.get(t, KMSEnv, probeKMS, startLocalKMS)
}

// KMSOptions are the AWS configuration options a test passes to kms.Open and other clients of
// the emulator: its region and fixed credentials, so no real AWS configuration is read or used.
func KMSOptions() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithRegion(KMSRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("caas-test", "caas-test", "")),
	}
}

// KMSKey creates a new symmetric encryption key on the KMS at endpoint and returns its ARN. The
// key is scheduled for deletion when the test ends.
func KMSKey(t testing.TB, endpoint string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	client, err := kmsClient(ctx, endpoint)
	if err != nil {
		t.Fatalf("backendtest: %v", err)
	}
	out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{
		Description: aws.String("caas test key for " + t.Name()),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		t.Fatalf("backendtest: create KMS key: %v", err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		if _, err := client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{
			KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7),
		}); err != nil {
			t.Logf("backendtest: schedule deletion of KMS key %s: %v", arn, err)
		}
	})
	return arn
}

// CreateKMSKey creates a new symmetric encryption key named by description on the KMS at
// endpoint and returns its ARN, for setups that run outside a test (an end-to-end TestMain).
func CreateKMSKey(ctx context.Context, endpoint, description string) (string, error) {
	client, err := kmsClient(ctx, endpoint)
	if err != nil {
		return "", err
	}
	out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{
		Description: aws.String(description),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		return "", fmt.Errorf("create KMS key: %w", err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// kmsClient returns a KMS client for the endpoint with the test options.
func kmsClient(ctx context.Context, endpoint string) (*awskms.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, KMSOptions()...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// probeKMS checks that a KMS answers at endpoint.
func probeKMS(ctx context.Context, endpoint string) error {
	client, err := kmsClient(ctx, endpoint)
	if err != nil {
		return err
	}
	if _, err := client.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(1)}); err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	return nil
}

// localKMSStdin is the write end of the emulator's standard input. It stays open as long as
// this process lives; when it closes, at exit, the emulator stops.
var localKMSStdin io.WriteCloser

// startLocalKMS starts the emulator and returns its endpoint.
func startLocalKMS() (string, error) {
	bin, err := localKMSBinary()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "caas-backendtest-kms-")
	if err != nil {
		return "", fmt.Errorf("create KMS data directory: %w", err)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", dir, "-region", KMSRegion, "-exit-on-eof")
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", fmt.Errorf("start local-kms: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("start local-kms: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("start local-kms: %w", err)
	}
	localKMSStdin = stdin
	go cmd.Wait() //nolint:errcheck // reaps the emulator when it stops

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	var endpoint string
	select {
	case a := <-addr:
		endpoint = "http://" + a
	case <-time.After(30 * time.Second):
		cmd.Process.Kill() //nolint:errcheck // it failed to start anyway
		return "", fmt.Errorf("local-kms did not start within 30s; its output: %s", stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if err := probeKMS(ctx, endpoint); err != nil {
		cmd.Process.Kill() //nolint:errcheck // it does not answer anyway
		return "", fmt.Errorf("local-kms at %s does not answer: %w; its output: %s", endpoint, err, stderr)
	}
	return endpoint, nil
}

// localKMSBinary returns the path of the emulator's command, building it when this machine has
// not yet: from localkms/main.go, in a module of its own requiring local-kms at
// LocalKMSVersion. Test binaries building it at once each build in their own directory and
// rename the result into place, so none sees a partial file.
func localKMSBinary() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	src := strings.TrimPrefix(localKMSMain, "//go:build ignore\n")
	sum := sha256.Sum256([]byte(LocalKMSVersion + "\x00" + src))
	dir := filepath.Join(cache, "caas", "bin")
	bin := filepath.Join(dir, "local-kms-"+LocalKMSVersion+"-"+hex.EncodeToString(sum[:4]))
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".build-local-kms-")
	if err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "main.go"), []byte(src), 0o644); err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte("module caas.dev/localkms\n\ngo 1.20\n"), 0o644); err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(work, filepath.Base(bin))
	for _, args := range [][]string{
		{"get", LocalKMSModule + "@" + LocalKMSVersion},
		{"build", "-o", out, "."},
	} {
		if err := goCommand(ctx, work, args...); err != nil {
			return "", fmt.Errorf("build local-kms: %w", err)
		}
	}
	if err := os.Rename(out, bin); err != nil {
		return "", fmt.Errorf("build local-kms: %w", err)
	}
	return bin, nil
}

// goCommand runs the go command in dir, outside any workspace.
func goCommand(ctx context.Context, dir string, args ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.b) == 0 {
		return "(none)"
	}
	return string(w.b)
}
