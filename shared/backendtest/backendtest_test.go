package backendtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// These tests run against whatever the environment names, so `make test-real` also checks that
// the real services answer the way the embedded ones do.

func TestMongoURIServesAndPrefixIsolates(t *testing.T) {
	uri := MongoURI(t)
	if again := MongoURI(t); again != uri {
		t.Fatalf("second MongoURI = %q, want the shared %q", again, uri)
	}
	ctx := context.Background()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(ctx) //nolint:errcheck // cleanup

	var dbName string
	t.Run("write", func(t *testing.T) {
		dbName = Prefix(t) + "caas_platform"
		if _, err := c.Database(dbName).Collection("things").InsertOne(ctx, bson.M{"_id": "a"}); err != nil {
			t.Fatalf("insert: %v", err)
		}
	})
	// The subtest's cleanup dropped its prefixed database.
	names, err := c.ListDatabaseNames(ctx, bson.M{"name": dbName})
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	if len(names) != 0 {
		t.Errorf("database %s still exists after its test ended", dbName)
	}
}

func TestPrefixIsShortAndUnique(t *testing.T) {
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			p := Prefix(t)
			mu.Lock()
			defer mu.Unlock()
			if seen[p] {
				t.Errorf("prefix %q handed out twice", p)
			}
			seen[p] = true
		})
	}
	wg.Wait()
	for p := range seen {
		// The longest database name is caas_compliance; FerretDB allows 63 bytes.
		if len(p+"caas_compliance") > 63 || len(p) > 24 {
			t.Errorf("prefix %q too long", p)
		}
		if strings.ContainsAny(p, ".$/\\ \x00") {
			t.Errorf("prefix %q has a character database names refuse", p)
		}
	}
}

func TestRedisURLServes(t *testing.T) {
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	key := Prefix(t) + "k"
	if err := rdb.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\"", got, err)
	}
}

func TestKafkaBrokersServeKafkaGo(t *testing.T) {
	brokers := strings.Split(KafkaBrokers(t), ",")
	topic := Prefix(t) + "events"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
	defer w.Close()
	// The first write to a new topic can fail while its leader is elected.
	var err error
	for attempt := 0; attempt < 40; attempt++ {
		if err = w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v1")}); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write to %s: %v", topic, err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: topic + "g", Topic: topic,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetch in a consumer group: %v", err)
	}
	if string(m.Value) != "v1" {
		t.Errorf("read %q, want v1", m.Value)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends the goroutine, as
// the real one does, without failing the enclosing test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Helper() {}

func TestConfiguredServiceThatDoesNotAnswerFails(t *testing.T) {
	t.Setenv("CAAS_BACKENDTEST_DEAD", "127.0.0.1:1")
	var b backend
	rec := &fatalRecorder{TB: t}
	started := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.get(rec, "CAAS_BACKENDTEST_DEAD", dialKafka, func() (string, error) {
			started = true
			return "", errors.New("unexpected start")
		})
	}()
	<-done
	if started {
		t.Error("an embedded server was started although the variable is set")
	}
	if !strings.Contains(rec.msg, "CAAS_BACKENDTEST_DEAD=127.0.0.1:1 is set but the service does not answer") {
		t.Errorf("failure message = %q, want it to name the variable and the address", rec.msg)
	}
}

// The stores settle races by inserting into unique indexes (DESIGN §4); this holds on the
// embedded FerretDB/SQLite and must hold on the real FerretDB/PostgreSQL too.
func TestMongoUniqueIndexHoldsUnderConcurrentInserts(t *testing.T) {
	ctx := context.Background()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(MongoURI(t)))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(ctx) //nolint:errcheck // cleanup
	coll := c.Database(Prefix(t) + "race").Collection("seqs")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "conversation_id", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}

	for round := range 5 {
		const writers = 20
		errs := make([]error, writers)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-ready
				_, errs[i] = coll.InsertOne(ctx, bson.M{"conversation_id": "cnv_1", "seq": round})
			})
		}
		close(ready)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !mongo.IsDuplicateKeyError(err):
				t.Errorf("round %d writer %d: %v, want a duplicate key error", round, i, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d concurrent inserts of one unique key succeeded, want exactly 1", round, won)
		}
	}
}

// FerretDB on PostgreSQL refuses strings containing U+0000 (PostgreSQL's jsonb cannot hold
// it), while the embedded SQLite backend stores them: bytes that may contain zeros, such as
// ciphertext, must be stored as BSON binary, which both keep intact.
func TestMongoKeepsBinaryWithZeroBytes(t *testing.T) {
	ctx := context.Background()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(MongoURI(t)))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(ctx) //nolint:errcheck // cleanup
	coll := c.Database(Prefix(t) + "bin").Collection("blobs")
	want := []byte{0, 1, 0, 0xff, 0}
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "b", "data": want}); err != nil {
		t.Fatalf("insert binary: %v", err)
	}
	var got struct{ Data []byte }
	if err := coll.FindOne(ctx, bson.M{"_id": "b"}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if string(got.Data) != string(want) {
		t.Errorf("binary read back as %x, want %x", got.Data, want)
	}
}
