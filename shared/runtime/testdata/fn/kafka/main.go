// Command kafka is a test function for Kafka triggers. It appends every event it receives, one
// JSON line each, to $KAFKA_FN_DIR/$KAFKA_FN_NAME.jsonl. With KAFKA_FN_MODE=fail-first it fails
// the first delivery of each batch (remembered by a marker file per batch) and succeeds the
// next; with KAFKA_FN_MODE=count it records nothing and succeeds at once.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, raw json.RawMessage) error {
	mode := os.Getenv("KAFKA_FN_MODE")
	if mode == "count" {
		return nil
	}
	var ev events.KafkaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("not a Kafka event: %w", err)
	}
	dir := os.Getenv("KAFKA_FN_DIR")
	f, err := os.OpenFile(filepath.Join(dir, os.Getenv("KAFKA_FN_NAME")+".jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(append([]byte{}, raw...), '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if mode != "fail-first" {
		return nil
	}

	var ids []string
	for _, recs := range ev.Records {
		for _, r := range recs {
			ids = append(ids, fmt.Sprintf("%s-%d-%d", r.Topic, r.Partition, r.Offset))
		}
	}
	sort.Strings(ids)
	sum := sha256.Sum256([]byte(fmt.Sprint(ids)))
	marker := filepath.Join(dir, "seen-"+hex.EncodeToString(sum[:8]))
	m, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // the second delivery of this batch
	}
	if err != nil {
		return err
	}
	_ = m.Close()
	return errors.New("first delivery of this batch fails on purpose")
}

func main() { lambda.Start(handle) }
