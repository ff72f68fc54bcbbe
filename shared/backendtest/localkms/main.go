//go:build ignore

// Command local-kms serves the KMS emulator github.com/nsmithuk/local-kms on a loopback
// address. The emulator's own command listens on every interface; this one binds only the
// address it is given, and prints "listening on ADDR" once it accepts connections.
//
// It is not part of any module of the workspace: package backendtest and
// tests/scripts/real-services.sh copy it into a module of its own that requires local-kms at a
// pinned version, and build it there.
//
// Flags: -listen (default 127.0.0.1:0), -data (the database directory, required),
// -region and -account (the ARNs' region and account), -exit-on-eof (stop when standard input
// closes, so a test binary that exits takes its emulator along; the data directory is then
// removed).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	lkms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	dataDir := flag.String("data", "", "directory of the key database")
	region := flag.String("region", "eu-west-2", "region in the keys' ARNs")
	account := flag.String("account", "111122223333", "account id in the keys' ARNs")
	exitOnEOF := flag.Bool("exit-on-eof", false, "stop, and remove the data directory, when standard input closes")
	flag.Parse()
	if *dataDir == "" {
		log.Fatal("local-kms: -data is required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("local-kms: -listen: %v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("local-kms: -listen %s is not a loopback address", *listen)
	}

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatalf("local-kms: -data: %v", err)
	}
	config.AWSRegion = *region
	config.AWSAccountId = *account
	config.DatabasePath = dir
	db := data.NewDatabase(dir)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("local-kms: listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lkms.HandleRequest(w, r, db)
	})}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	if *exitOnEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin) //nolint:errcheck // any end of input stops the server
			stop <- syscall.SIGTERM
		}()
	}
	go func() {
		<-stop
		srv.Close()
	}()

	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("local-kms: serve: %v", err)
	}
	db.Close()
	if *exitOnEOF {
		os.RemoveAll(dir)
	}
}
