package keys_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"caas.dev/shared/keys"
	"caas.dev/shared/keys/keystest"
)

func TestFileMasterConformance(t *testing.T) {
	keystest.MasterKeyConformance(t, func(t *testing.T) keys.MasterKey {
		m, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
		if err != nil {
			t.Fatalf("OpenFileMaster: %v", err)
		}
		return m
	})
}

func TestFileMasterCreatesPrivateFileAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", ".caas", "master.key")
	m, err := keys.OpenFileMaster(path)
	if err != nil {
		t.Fatalf("OpenFileMaster: %v", err)
	}
	if !strings.HasPrefix(m.ID(), "file:") || len(m.ID()) != len("file:")+16 {
		t.Errorf("ID() = %q, want file: and 16 hex digits", m.ID())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatalf("stat dir: %v", err)
	}
	if runtime.GOOS != "windows" {
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode = %04o, want 0600", fi.Mode().Perm())
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("directory mode = %04o, want 0700", di.Mode().Perm())
		}
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(content) != 45 || content[44] != '\n' {
		t.Errorf("file holds %d bytes %q..., want 44 base64 characters and a newline", len(content), content[:4])
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}

	ctx := context.Background()
	ec := map[string]string{"tenant": "t1"}
	plain, wrapped, err := m.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	again, err := keys.OpenFileMaster(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if again.ID() != m.ID() {
		t.Errorf("reopened ID() = %q, want %q", again.ID(), m.ID())
	}
	got, err := again.Decrypt(ctx, wrapped, ec)
	if err != nil {
		t.Fatalf("Decrypt after reopen: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Error("Decrypt after reopen returned another key")
	}
}

func TestFileMasterRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := keys.OpenFileMaster(filepath.Join(dir, "good.key")); err != nil {
		t.Fatalf("OpenFileMaster: %v", err)
	}
	goodContent, err := os.ReadFile(filepath.Join(dir, "good.key"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}

	type badFile struct {
		name, content, want string
		mode                os.FileMode
	}
	cases := []badFile{
		{"empty", "", "malformed", 0o600},
		{"not base64", "not a key!\n", "malformed", 0o600},
		{"short key", "AAAA\n", "malformed", 0o600},
		{"trailing text", string(goodContent) + "AAAA\n", "malformed", 0o600},
		{"key of 33 bytes", strings.Repeat("A", 44) + "\n", "malformed", 0o600},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases,
			badFile{"world readable", string(goodContent), "0644", 0o644},
			badFile{"group readable", string(goodContent), "0640", 0o640},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".key")
			if err := os.WriteFile(path, []byte(c.content), c.mode); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := os.Chmod(path, c.mode); err != nil { // WriteFile's mode is masked by umask
				t.Fatalf("chmod: %v", err)
			}
			_, err := keys.OpenFileMaster(path)
			if err == nil {
				t.Fatal("OpenFileMaster accepted the file")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(string(goodContent))) {
				t.Error("the error holds the key")
			}
		})
	}

	if err := os.Mkdir(filepath.Join(dir, "a-dir"), 0o700); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	if _, err := keys.OpenFileMaster(filepath.Join(dir, "a-dir")); err == nil {
		t.Error("OpenFileMaster accepted a directory")
	}
}

func TestFileMasterConcurrentCreationAgrees(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "master.key")
		ids := make([]string, 8)
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				m, err := keys.OpenFileMaster(path)
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = m.ID()
			})
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil {
				t.Fatalf("round %d: opener %d: %v", round, i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("round %d: openers disagree on the key: %q and %q", round, ids[0], ids[i])
			}
		}
	}
}
