package mongo

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/identity"
)

// signingKeyDoc is a document of caas_crypto.signing_keys: the private key as PKCS#8 PEM and
// the public half as JWK fields, ready to publish in a JWKS.
type signingKeyDoc struct {
	ID         string    `bson:"_id"`
	Generation int       `bson:"generation"`
	PrivatePEM string    `bson:"private_key_pem"`
	Kty        string    `bson:"kty"`
	Alg        string    `bson:"alg"`
	Use        string    `bson:"use"`
	N          string    `bson:"n"`
	E          string    `bson:"e"`
	Status     string    `bson:"status"`
	CreatedAt  time.Time `bson:"created_at"`
}

// SigningKeyStore implements identity.KeyStore on caas_crypto.
type SigningKeyStore struct {
	coll *mongo.Collection
}

// SigningKeys returns the signing key store.
func (c *Client) SigningKeys() *SigningKeyStore {
	return &SigningKeyStore{coll: c.crypto.Collection(SigningKeysCollection)}
}

var _ identity.KeyStore = (*SigningKeyStore)(nil)

// InsertSigningKey stores k; identity.ErrKeyExists when its id or generation is taken.
func (s *SigningKeyStore) InsertSigningKey(ctx context.Context, k identity.SigningKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return fmt.Errorf("encode signing key: %w", err)
	}
	pub := k.Private.PublicKey
	d := signingKeyDoc{
		ID: k.ID, Generation: k.Generation,
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Kty:        "RSA", Alg: "RS256", Use: "sig",
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Status: k.Status, CreatedAt: k.CreatedAt,
	}
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return identity.ErrKeyExists
		}
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// ActiveSigningKey returns the active key of the highest generation, or identity.ErrNoActiveKey.
func (s *SigningKeyStore) ActiveSigningKey(ctx context.Context) (identity.SigningKey, error) {
	var d signingKeyDoc
	opts := options.FindOne().SetSort(bson.D{{Key: "generation", Value: -1}})
	err := s.coll.FindOne(ctx, bson.D{{Key: "status", Value: identity.KeyActive}}, opts).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.SigningKey{}, identity.ErrNoActiveKey
	}
	if err != nil {
		return identity.SigningKey{}, fmt.Errorf("find signing key: %w", err)
	}
	return d.signingKey()
}

// SigningKeyByID returns the key with this id, whatever its status, or identity.ErrKeyNotFound.
func (s *SigningKeyStore) SigningKeyByID(ctx context.Context, id string) (identity.SigningKey, error) {
	var d signingKeyDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.SigningKey{}, identity.ErrKeyNotFound
	}
	if err != nil {
		return identity.SigningKey{}, fmt.Errorf("find signing key: %w", err)
	}
	return d.signingKey()
}

// signingKey decodes the stored private key.
func (d signingKeyDoc) signingKey() (identity.SigningKey, error) {
	block, _ := pem.Decode([]byte(d.PrivatePEM))
	if block == nil || block.Type != "PRIVATE KEY" {
		return identity.SigningKey{}, fmt.Errorf("signing key %s: stored PEM is unreadable", d.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return identity.SigningKey{}, fmt.Errorf("signing key %s: %w", d.ID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return identity.SigningKey{}, fmt.Errorf("signing key %s: not an RSA key", d.ID)
	}
	return identity.SigningKey{ID: d.ID, Generation: d.Generation, Private: priv, Status: d.Status,
		CreatedAt: d.CreatedAt.UTC()}, nil
}

// PublicKeys returns the public half of every active key (retired keys verify nothing). Private
// keys are not read: the projection leaves them in the database.
func (s *SigningKeyStore) PublicKeys(ctx context.Context) ([]identity.PublicKey, error) {
	filter := bson.D{{Key: "status", Value: identity.KeyActive}}
	opts := options.Find().SetProjection(bson.D{
		{Key: "generation", Value: 1}, {Key: "kty", Value: 1}, {Key: "n", Value: 1},
		{Key: "e", Value: 1}, {Key: "status", Value: 1}, {Key: "created_at", Value: 1},
	})
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find public keys: %w", err)
	}
	var docs []signingKeyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read public keys: %w", err)
	}
	out := make([]identity.PublicKey, 0, len(docs))
	for _, d := range docs {
		n, errN := base64.RawURLEncoding.DecodeString(d.N)
		e, errE := base64.RawURLEncoding.DecodeString(d.E)
		if errN != nil || errE != nil || d.Kty != "RSA" || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("public key %s: stored JWK is unreadable", d.ID)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		out = append(out, identity.PublicKey{ID: d.ID, Generation: d.Generation, Key: pub, Status: d.Status,
			CreatedAt: d.CreatedAt.UTC()})
	}
	return out, nil
}

var _ identity.KeyRotationStore = (*SigningKeyStore)(nil)

// RetireSigningKey sets the key's status to retired: it is no longer published and tokens it
// signed are refused. A plain $set of one field on one document, idempotent, so FerretDB's lack
// of atomic read-modify-write does not matter; an unknown id is not an error.
func (s *SigningKeyStore) RetireSigningKey(ctx context.Context, id string) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: identity.KeyRetired}}}})
	if err != nil {
		return fmt.Errorf("retire signing key %s: %w", id, err)
	}
	return nil
}
