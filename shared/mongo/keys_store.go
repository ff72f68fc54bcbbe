package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/keys"
)

// keyDoc is a document of caas_crypto.keys. Its _id is tenant_id|name: key names cannot hold
// '|', so the id is unambiguous and a second key of one name is refused by the insert.
type keyDoc struct {
	ID                    string     `bson:"_id"`
	TenantID              string     `bson:"tenant_id"`
	Name                  string     `bson:"name"`
	Owner                 string     `bson:"owner"`
	MinDecryptionVersion  int        `bson:"min_decryption_version"`
	RotationPeriodSeconds int64      `bson:"rotation_period_seconds"`
	EncryptRoles          []string   `bson:"encrypt_roles"`
	DecryptRoles          []string   `bson:"decrypt_roles"`
	CreatedAt             time.Time  `bson:"created_at"`
	UpdatedAt             time.Time  `bson:"updated_at"`
	ShreddedAt            *time.Time `bson:"shredded_at"`
	// NextRotationAt is a hint for DueForRotation: the primary version's creation plus the
	// rotation period, null without a period. It is recomputed after every write of the key,
	// but by separate writes (FerretDB v1 has no atomic updates): DueForRotation checks a hint
	// that is due and repairs one that is early. BUG: a SetPolicy racing an AddVersion can
	// leave a hint later than the truth; the key then rotates late, at the latest when the
	// hint falls due or the key is next written.
	NextRotationAt *time.Time `bson:"next_rotation_at"`
}

// keyVersionDoc is a document of caas_crypto.key_versions, _id tenant_id|name|version.
type keyVersionDoc struct {
	ID        string `bson:"_id"`
	TenantID  string `bson:"tenant_id"`
	Name      string `bson:"name"`
	Version   int    `bson:"version"`
	Wrapped   []byte `bson:"wrapped"` // BSON binary: FerretDB on PostgreSQL refuses U+0000 in strings
	WrappedBy string `bson:"wrapped_by"`
	// WrapperName and WrapperVersion are parsed from a WrappedBy of "key:<name>:<version>",
	// absent for a master-wrapped data key; WrappedBy queries them.
	WrapperName    string    `bson:"wrapper_name,omitempty"`
	WrapperVersion int       `bson:"wrapper_version,omitempty"`
	CreatedAt      time.Time `bson:"created_at"`
}

// KeyStore implements keys.Store on caas_crypto.
//
// A key is created by inserting its key document, then its version 1. A creator that stops
// between the two leaves a half-created key: a key document without versions and not
// shredded. Key, ListKeys and AddVersion treat it as absent (ErrKeyNotFound), and a later
// CreateKey of the same name and owner completes it, storing its own version 1 and policy, so
// a retried creation succeeds.
type KeyStore struct {
	keys     *mongo.Collection
	versions *mongo.Collection
}

// Keys returns the key store.
func (c *Client) Keys() *KeyStore {
	return &KeyStore{
		keys:     c.crypto.Collection(KeysCollection),
		versions: c.crypto.Collection(KeyVersionsCollection),
	}
}

var _ keys.Store = (*KeyStore)(nil)

func keyID(tenantID, name string) string { return tenantID + "|" + name }

// keyFilter selects the tenant's key document by _id and, should an id ever be ambiguous, by
// its tenant and name fields too, so no lookup crosses tenants.
func keyFilter(tenantID, name string) bson.D {
	return bson.D{{Key: "_id", Value: keyID(tenantID, name)}, {Key: "tenant_id", Value: tenantID}, {Key: "name", Value: name}}
}

func versionID(tenantID, name string, version int) string {
	return tenantID + "|" + name + "|" + strconv.Itoa(version)
}

// ms is t as MongoDB stores it: UTC, to the millisecond.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// orEmpty keeps role lists arrays in the database, never null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// newVersionDoc is the document of version v of the tenant's key name.
func newVersionDoc(tenantID, name string, v keys.Version) (keyVersionDoc, error) {
	d := keyVersionDoc{
		ID: versionID(tenantID, name, v.Version), TenantID: tenantID, Name: name, Version: v.Version,
		Wrapped: v.Wrapped, WrappedBy: v.WrappedBy, CreatedAt: ms(v.CreatedAt),
	}
	if d.Wrapped == nil {
		d.Wrapped = []byte{}
	}
	if rest, ok := strings.CutPrefix(v.WrappedBy, "key:"); ok {
		i := strings.LastIndexByte(rest, ':')
		n, err := strconv.Atoi(rest[i+1:])
		if i <= 0 || err != nil || n < 1 {
			return keyVersionDoc{}, fmt.Errorf("version %d wrapped by %q: not key:<name>:<version>", v.Version, v.WrappedBy)
		}
		d.WrapperName, d.WrapperVersion = rest[:i], n
	}
	return d, nil
}

// nextRotation is the rotation hint for a key whose primary version was made at primary.
func nextRotation(periodSeconds int64, primary time.Time) *time.Time {
	if periodSeconds <= 0 || primary.IsZero() {
		return nil
	}
	t := ms(primary.Add(time.Duration(periodSeconds) * time.Second))
	return &t
}

// CreateKey stores k with its version 1. It returns keys.ErrKeyExists when the tenant has a key
// of that name, shredded or not, and keys.ErrKeyShredded when the key was shredded while being
// created. A half-created key of the same name and owner is completed (see KeyStore).
func (s *KeyStore) CreateKey(ctx context.Context, k keys.Key) error {
	if len(k.Versions) != 1 || k.Versions[0].Version != 1 {
		return fmt.Errorf("create key %s: want exactly version 1, got %d versions", k.Name, len(k.Versions))
	}
	vd, err := newVersionDoc(k.TenantID, k.Name, k.Versions[0])
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.Name, err)
	}
	period := int64(k.RotationPeriod / time.Second)
	d := keyDoc{
		ID: keyID(k.TenantID, k.Name), TenantID: k.TenantID, Name: k.Name, Owner: k.Owner,
		MinDecryptionVersion: k.MinDecryptionVersion, RotationPeriodSeconds: period,
		EncryptRoles: orEmpty(k.EncryptRoles), DecryptRoles: orEmpty(k.DecryptRoles),
		CreatedAt: ms(k.CreatedAt), UpdatedAt: ms(k.UpdatedAt),
		NextRotationAt: nextRotation(period, k.Versions[0].CreatedAt),
	}
	completing := false
	if _, err := s.keys.InsertOne(ctx, d); err != nil {
		if !isDuplicateKey(err) {
			return fmt.Errorf("insert key %s: %w", k.Name, err)
		}
		if completing, err = s.halfCreated(ctx, k.TenantID, k.Name, k.Owner); err != nil {
			return err
		}
		if !completing {
			return keys.ErrKeyExists
		}
	}

	if _, err := s.versions.InsertOne(ctx, vd); err != nil {
		if isDuplicateKey(err) {
			// Another creator completed the key first.
			return keys.ErrKeyExists
		}
		return fmt.Errorf("insert version 1 of key %s: %w", k.Name, err)
	}
	if err := s.undoIfShredded(ctx, vd); err != nil {
		return err
	}
	if completing {
		p := k.Policy
		p.RotationPeriod = time.Duration(period) * time.Second
		if err := s.SetPolicy(ctx, k.TenantID, k.Name, p, k.UpdatedAt); err != nil {
			return fmt.Errorf("complete key %s: %w", k.Name, err)
		}
	}
	return nil
}

// halfCreated reports whether the tenant's key name is a half-created key of owner: a key
// document, not shredded, without versions.
func (s *KeyStore) halfCreated(ctx context.Context, tenantID, name, owner string) (bool, error) {
	d, err := s.keyDoc(ctx, tenantID, name)
	if errors.Is(err, keys.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil || d.ShreddedAt != nil || d.Owner != owner {
		return false, err
	}
	p, err := s.primary(ctx, tenantID, name)
	return err == nil && p == nil, err
}

// undoIfShredded deletes the version just inserted when its key was shredded meanwhile, and
// then returns keys.ErrKeyShredded. Shred marks the key before deleting its versions, so a
// version inserted concurrently is deleted either by Shred or here, and none survives.
func (s *KeyStore) undoIfShredded(ctx context.Context, vd keyVersionDoc) error {
	d, err := s.keyDoc(ctx, vd.TenantID, vd.Name)
	if err != nil {
		return fmt.Errorf("recheck key %s: %w", vd.Name, err)
	}
	if d.ShreddedAt == nil {
		return nil
	}
	if _, err := s.versions.DeleteOne(ctx, bson.D{{Key: "_id", Value: vd.ID}}); err != nil {
		return fmt.Errorf("delete version %d of shredded key %s: %w", vd.Version, vd.Name, err)
	}
	return keys.ErrKeyShredded
}

// keyDoc reads the key document; keys.ErrKeyNotFound when there is none.
func (s *KeyStore) keyDoc(ctx context.Context, tenantID, name string) (keyDoc, error) {
	var d keyDoc
	err := s.keys.FindOne(ctx, keyFilter(tenantID, name)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return keyDoc{}, keys.ErrKeyNotFound
	}
	if err != nil {
		return keyDoc{}, fmt.Errorf("find key %s: %w", name, err)
	}
	return d, nil
}

// primary reads the key's newest version document, nil when it has none.
func (s *KeyStore) primary(ctx context.Context, tenantID, name string) (*keyVersionDoc, error) {
	var v keyVersionDoc
	opts := options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})
	err := s.versions.FindOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "name", Value: name}}, opts).Decode(&v)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find primary version of key %s: %w", name, err)
	}
	return &v, nil
}

// key converts a key document and its version documents.
func (d keyDoc) key(versions []keyVersionDoc) keys.Key {
	k := keys.Key{
		TenantID: d.TenantID, Name: d.Name, Owner: d.Owner,
		Policy: keys.Policy{
			MinDecryptionVersion: d.MinDecryptionVersion,
			RotationPeriod:       time.Duration(d.RotationPeriodSeconds) * time.Second,
			EncryptRoles:         d.EncryptRoles, DecryptRoles: d.DecryptRoles,
		},
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.ShreddedAt != nil {
		k.ShreddedAt = d.ShreddedAt.UTC()
		return k
	}
	k.Versions = make([]keys.Version, 0, len(versions))
	for _, v := range versions {
		k.Versions = append(k.Versions, keys.Version{
			Version: v.Version, Wrapped: v.Wrapped, WrappedBy: v.WrappedBy, CreatedAt: v.CreatedAt.UTC(),
		})
	}
	return k
}

// Key returns the tenant's key with every version, ascending; keys.ErrKeyNotFound when there is
// none, or only a half-created one. A shredded key comes with no versions and ShreddedAt set.
func (s *KeyStore) Key(ctx context.Context, tenantID, name string) (keys.Key, error) {
	d, err := s.keyDoc(ctx, tenantID, name)
	if err != nil {
		return keys.Key{}, err
	}
	if d.ShreddedAt != nil {
		return d.key(nil), nil
	}
	byKey, err := s.versionsOf(ctx, tenantID, []string{name})
	if err != nil {
		return keys.Key{}, err
	}
	if len(byKey[name]) == 0 {
		return keys.Key{}, keys.ErrKeyNotFound
	}
	return d.key(byKey[name]), nil
}

// versionsOf reads the versions of the tenant's named keys, ascending, by key name.
func (s *KeyStore) versionsOf(ctx context.Context, tenantID string, names []string) (map[string][]keyVersionDoc, error) {
	filter := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "name", Value: bson.D{{Key: "$in", Value: names}}}}
	opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "version", Value: 1}})
	cur, err := s.versions.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find key versions: %w", err)
	}
	var docs []keyVersionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read key versions: %w", err)
	}
	out := make(map[string][]keyVersionDoc, len(names))
	for _, v := range docs {
		out[v.Name] = append(out[v.Name], v)
	}
	return out, nil
}

// ListKeys returns up to limit of the tenant's keys without owner, by name, after afterName.
// Half-created keys are skipped.
func (s *KeyStore) ListKeys(ctx context.Context, tenantID, afterName string, limit int) ([]keys.Key, error) {
	var out []keys.Key
	for limit > 0 {
		filter := bson.D{
			{Key: "tenant_id", Value: tenantID}, {Key: "owner", Value: ""},
			{Key: "name", Value: bson.D{{Key: "$gt", Value: afterName}}},
		}
		want := limit
		opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(int64(want))
		cur, err := s.keys.Find(ctx, filter, opts)
		if err != nil {
			return nil, fmt.Errorf("find keys: %w", err)
		}
		var docs []keyDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		if len(docs) == 0 {
			break
		}
		names := make([]string, 0, len(docs))
		for _, d := range docs {
			names = append(names, d.Name)
		}
		byKey, err := s.versionsOf(ctx, tenantID, names)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.ShreddedAt == nil && len(byKey[d.Name]) == 0 {
				continue // half-created
			}
			out = append(out, d.key(byKey[d.Name]))
			limit--
		}
		if len(docs) < want {
			break
		}
		afterName = docs[len(docs)-1].Name
	}
	return out, nil
}

// AddVersion stores v as the key's next version. Besides the errors keys.Store names, it
// refuses a version that would leave a gap after the key's newest.
func (s *KeyStore) AddVersion(ctx context.Context, tenantID, name string, v keys.Version) error {
	d, err := s.keyDoc(ctx, tenantID, name)
	if err != nil {
		return err
	}
	if d.ShreddedAt != nil {
		return keys.ErrKeyShredded
	}
	p, err := s.primary(ctx, tenantID, name)
	if err != nil {
		return err
	}
	switch {
	case p == nil:
		// Half-created, or shredded since the read above.
		if d, err := s.keyDoc(ctx, tenantID, name); err == nil && d.ShreddedAt != nil {
			return keys.ErrKeyShredded
		}
		return keys.ErrKeyNotFound
	case v.Version <= p.Version:
		return keys.ErrVersionExists
	case v.Version > p.Version+1:
		return fmt.Errorf("add version %d of key %s: its newest is %d", v.Version, name, p.Version)
	}
	vd, err := newVersionDoc(tenantID, name, v)
	if err != nil {
		return fmt.Errorf("add version of key %s: %w", name, err)
	}

	if _, err := s.versions.InsertOne(ctx, vd); err != nil {
		if isDuplicateKey(err) {
			return keys.ErrVersionExists
		}
		return fmt.Errorf("insert version %d of key %s: %w", v.Version, name, err)
	}
	if err := s.undoIfShredded(ctx, vd); err != nil {
		return err
	}
	return s.refreshRotationHint(ctx, tenantID, name)
}

// refreshRotationHint recomputes the key's next_rotation_at from its period and newest version.
func (s *KeyStore) refreshRotationHint(ctx context.Context, tenantID, name string) error {
	d, err := s.keyDoc(ctx, tenantID, name)
	if err != nil {
		return err
	}
	var next *time.Time
	if d.ShreddedAt == nil && d.RotationPeriodSeconds > 0 {
		p, err := s.primary(ctx, tenantID, name)
		if err != nil {
			return err
		}
		if p != nil {
			next = nextRotation(d.RotationPeriodSeconds, p.CreatedAt)
		}
	}
	return s.setRotationHint(ctx, d.ID, next)
}

func (s *KeyStore) setRotationHint(ctx context.Context, id string, next *time.Time) error {
	_, err := s.keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "next_rotation_at", Value: next}}}})
	if err != nil {
		return fmt.Errorf("set rotation time of key: %w", err)
	}
	return nil
}

// SetPolicy replaces the key's policy and sets UpdatedAt; keys.ErrKeyNotFound when there is no
// such key.
func (s *KeyStore) SetPolicy(ctx context.Context, tenantID, name string, p keys.Policy, at time.Time) error {
	set := bson.D{
		{Key: "min_decryption_version", Value: p.MinDecryptionVersion},
		{Key: "rotation_period_seconds", Value: int64(p.RotationPeriod / time.Second)},
		{Key: "encrypt_roles", Value: orEmpty(p.EncryptRoles)},
		{Key: "decrypt_roles", Value: orEmpty(p.DecryptRoles)},
		{Key: "updated_at", Value: ms(at)},
	}
	res, err := s.keys.UpdateOne(ctx, keyFilter(tenantID, name),
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("set policy of key %s: %w", name, err)
	}
	if res.MatchedCount == 0 {
		return keys.ErrKeyNotFound
	}
	return s.refreshRotationHint(ctx, tenantID, name)
}

// RewrapVersion replaces the wrapped data key of one version; keys.ErrKeyNotFound when the key
// or the version is gone.
func (s *KeyStore) RewrapVersion(ctx context.Context, tenantID, name string, version int, wrapped []byte, wrappedBy string) error {
	vd, err := newVersionDoc(tenantID, name, keys.Version{Version: version, Wrapped: wrapped, WrappedBy: wrappedBy})
	if err != nil {
		return fmt.Errorf("rewrap key %s: %w", name, err)
	}
	set := bson.D{{Key: "wrapped", Value: vd.Wrapped}, {Key: "wrapped_by", Value: vd.WrappedBy}}
	var update bson.D
	if vd.WrapperName != "" {
		set = append(set, bson.E{Key: "wrapper_name", Value: vd.WrapperName}, bson.E{Key: "wrapper_version", Value: vd.WrapperVersion})
		update = bson.D{{Key: "$set", Value: set}}
	} else {
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{
			{Key: "wrapper_name", Value: ""}, {Key: "wrapper_version", Value: ""},
		}}}
	}
	filter := bson.D{{Key: "_id", Value: vd.ID}, {Key: "tenant_id", Value: tenantID}, {Key: "name", Value: name}}
	res, err := s.versions.UpdateOne(ctx, filter, update)
	if err != nil {
		return fmt.Errorf("rewrap version %d of key %s: %w", version, name, err)
	}
	if res.MatchedCount == 0 {
		return keys.ErrKeyNotFound
	}
	return nil
}

// Shred marks the key shredded, first, so no version is added after, then deletes its
// versions. It is idempotent and keeps the first shred's time; keys.ErrKeyNotFound when there
// is no such key.
func (s *KeyStore) Shred(ctx context.Context, tenantID, name string, at time.Time) error {
	at = ms(at)
	filter := append(keyFilter(tenantID, name), bson.E{Key: "shredded_at", Value: nil})
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "shredded_at", Value: at}, {Key: "updated_at", Value: at}, {Key: "next_rotation_at", Value: nil},
	}}}
	res, err := s.keys.UpdateOne(ctx, filter, update)
	if err != nil {
		return fmt.Errorf("mark key %s shredded: %w", name, err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.keyDoc(ctx, tenantID, name); err != nil {
			return err
		}
	}
	// Delete also on a repeated Shred: it finishes one that stopped after marking.
	if _, err := s.versions.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "name", Value: name}}); err != nil {
		return fmt.Errorf("delete versions of key %s: %w", name, err)
	}
	return nil
}

// DueForRotation returns up to limit keys of any tenant, not shredded, whose next rotation is
// at or before now. It checks each candidate's hint against its newest version and corrects
// a hint that is early, so a stale hint does not crowd due keys out of the limit.
func (s *KeyStore) DueForRotation(ctx context.Context, now time.Time, limit int) ([]keys.KeyRef, error) {
	if limit <= 0 {
		return nil, nil
	}
	filter := bson.D{
		{Key: "shredded_at", Value: nil},
		{Key: "next_rotation_at", Value: bson.D{{Key: "$lte", Value: ms(now)}}},
	}
	opts := options.Find().SetSort(bson.D{{Key: "next_rotation_at", Value: 1}, {Key: "_id", Value: 1}})
	cur, err := s.keys.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find keys due for rotation: %w", err)
	}
	defer cur.Close(ctx)
	var out []keys.KeyRef
	for len(out) < limit && cur.Next(ctx) {
		var d keyDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("read key due for rotation: %w", err)
		}
		if d.NextRotationAt == nil {
			continue
		}
		p, err := s.primary(ctx, d.TenantID, d.Name)
		if err != nil {
			return nil, err
		}
		var next *time.Time
		if p != nil {
			next = nextRotation(d.RotationPeriodSeconds, p.CreatedAt)
		}
		if next == nil || next.After(now) {
			if err := s.setRotationHint(ctx, d.ID, next); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, keys.KeyRef{TenantID: d.TenantID, Name: d.Name})
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read keys due for rotation: %w", err)
	}
	return out, nil
}

// WrappedBy returns up to limit of the tenant's keys, by name, having a version wrapped by a
// version of wrappingName older than below.
func (s *KeyStore) WrappedBy(ctx context.Context, tenantID, wrappingName string, below int, limit int) ([]keys.KeyRef, error) {
	if limit <= 0 {
		return nil, nil
	}
	filter := bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "wrapper_name", Value: wrappingName},
		{Key: "wrapper_version", Value: bson.D{{Key: "$lt", Value: below}}},
	}
	opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).
		SetProjection(bson.D{{Key: "name", Value: 1}})
	cur, err := s.versions.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find keys wrapped by %s: %w", wrappingName, err)
	}
	defer cur.Close(ctx)
	var out []keys.KeyRef
	for len(out) < limit && cur.Next(ctx) {
		var v keyVersionDoc
		if err := cur.Decode(&v); err != nil {
			return nil, fmt.Errorf("read keys wrapped by %s: %w", wrappingName, err)
		}
		if n := len(out); n > 0 && out[n-1].Name == v.Name {
			continue
		}
		out = append(out, keys.KeyRef{TenantID: tenantID, Name: v.Name})
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read keys wrapped by %s: %w", wrappingName, err)
	}
	return out, nil
}

// KeysNamed implements keys.Store.
func (s *KeyStore) KeysNamed(ctx context.Context, name, afterTenantID string, limit int) ([]keys.KeyRef, error) {
	if limit <= 0 {
		return nil, nil
	}
	var docs []keyDoc
	err := findAll(ctx, s.keys,
		bson.D{{Key: "name", Value: name}, {Key: "tenant_id", Value: bson.D{{Key: "$gt", Value: afterTenantID}}}},
		options.Find().SetSort(bson.D{{Key: "tenant_id", Value: 1}}).SetLimit(int64(limit)), &docs)
	if err != nil {
		return nil, fmt.Errorf("find keys named %s: %w", name, err)
	}
	out := make([]keys.KeyRef, len(docs))
	for i, d := range docs {
		out[i] = keys.KeyRef{TenantID: d.TenantID, Name: d.Name}
	}
	return out, nil
}
