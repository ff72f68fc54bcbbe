package keys

import (
	"container/list"
	"crypto/cipher"
	"sync"
	"time"
)

// Defaults of the caches. A data key stays in memory at most DefaultDataKeyTTL after it was
// unwrapped; a key's metadata (versions, policy, shredded) is re-read after DefaultMetadataTTL,
// so a rotation, a retired version or a shredded key takes effect in every function instance
// within that time.
const (
	DefaultDataKeyTTL  = 15 * time.Minute
	DefaultMaxDataKeys = 10000
	DefaultMetadataTTL = 5 * time.Second
	maxMetadataEntries = 10000
)

// versionID names one version of one key of one tenant.
type versionID struct {
	tenantID string
	name     string
	version  int
}

// dataKeyCache keeps unwrapped data keys, as ready AEADs, bounded by count (least recently
// used go first) and by age.
type dataKeyCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of *dataKeyEntry, most recently used first
	index map[versionID]*list.Element
}

type dataKeyEntry struct {
	id      versionID
	m       *material
	expires time.Time
}

// material is what one unwrapped data key gives: the AEAD that seals with it, and a MAC key
// derived from it.
type material struct {
	aead   cipher.AEAD
	macKey []byte
}

func newDataKeyCache(max int, ttl time.Duration) *dataKeyCache {
	return &dataKeyCache{max: max, ttl: ttl, order: list.New(), index: map[versionID]*list.Element{}}
}

// get returns the cached material of id, if it is there and young enough at now.
func (c *dataKeyCache) get(id versionID, now time.Time) (*material, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[id]
	if !ok {
		return nil, false
	}
	e := el.Value.(*dataKeyEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.index, id)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.m, true
}

// put caches m for id from now on, evicting the least recently used entry when full.
func (c *dataKeyCache) put(id versionID, m *material, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[id]; ok {
		e := el.Value.(*dataKeyEntry)
		e.m, e.expires = m, now.Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	for c.order.Len() >= c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.index, last.Value.(*dataKeyEntry).id)
	}
	c.index[id] = c.order.PushFront(&dataKeyEntry{id: id, m: m, expires: now.Add(c.ttl)})
}

// forget drops every cached version of the key.
func (c *dataKeyCache) forget(tenantID, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, el := range c.index {
		if id.tenantID == tenantID && id.name == name {
			c.order.Remove(el)
			delete(c.index, id)
		}
	}
}

// len returns the number of cached data keys.
func (c *dataKeyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// metadataCache keeps keys' metadata (without which no data key is used) for a short time.
type metadataCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[KeyRef]metadataEntry
}

type metadataEntry struct {
	key     Key
	expires time.Time
}

func (c *metadataCache) get(ref KeyRef, now time.Time) (Key, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ref]
	if !ok || !now.Before(e.expires) {
		return Key{}, false
	}
	return e.key, true
}

func (c *metadataCache) put(k Key, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxMetadataEntries {
		c.entries = map[KeyRef]metadataEntry{}
	}
	c.entries[KeyRef{TenantID: k.TenantID, Name: k.Name}] = metadataEntry{key: k, expires: now.Add(c.ttl)}
}

func (c *metadataCache) forget(ref KeyRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, ref)
}
