package refimpl

import (
	"context"
	"sort"
	"sync"

	"github.com/google/uuid"
)

// MemStore is the embedded in-memory Store. One mutex guards all state:
// operations are a few map lookups, so a finer lock would buy nothing, and a
// single lock makes every method trivially atomic.
type MemStore struct {
	mu      sync.RWMutex
	rev     uint64
	teams   map[string]TeamRow
	perms   map[string]Perm
	keys    map[string]KeyRow
	aliases map[string]string // key alias -> token
	order   map[string]uint64 // token -> insertion order
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{
		teams:   map[string]TeamRow{},
		perms:   map[string]Perm{},
		keys:    map[string]KeyRow{},
		aliases: map[string]string{},
		order:   map[string]uint64{},
	}
}

// Kind implements Store.
func (m *MemStore) Kind() string { return "in-memory" }

// Ready implements Store; memory is always ready.
func (m *MemStore) Ready(context.Context) error { return nil }

func (m *MemStore) nextRev() uint64 { m.rev++; return m.rev }

// putPerm stores p (assigning an id when it has none) at revision rev.
func (m *MemStore) putPerm(p *Perm, rev uint64) string {
	if p.ID == "" {
		p.ID = uuid.NewString()
	}
	p.Rev = rev
	m.perms[p.ID] = *p.Clone()
	return p.ID
}

func (m *MemStore) team(id string) (Team, bool) {
	row, ok := m.teams[id]
	if !ok {
		return Team{}, false
	}
	t := Team{TeamRow: row.Clone()}
	if p, ok := m.perms[row.PermID]; ok && row.PermID != "" {
		t.Perm = p.Clone()
	}
	return t, true
}

// CreateTeam implements Store.
func (m *MemStore) CreateTeam(_ context.Context, t Team) (Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.teams[t.ID]; ok {
		return Team{}, ErrExists
	}
	rev := m.nextRev()
	t = t.Clone()
	if t.Perm != nil {
		t.PermID = m.putPerm(t.Perm, rev)
	}
	t.Rev = rev
	m.teams[t.ID] = t.TeamRow.Clone()
	out, _ := m.team(t.ID)
	return out, nil
}

// GetTeam implements Store.
func (m *MemStore) GetTeam(_ context.Context, id string) (Team, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.team(id)
	if !ok {
		return Team{}, &TeamNotFoundError{ID: id}
	}
	return t, nil
}

// GetPerm implements Store.
func (m *MemStore) GetPerm(_ context.Context, id string) (*Perm, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.perms[id]
	if !ok {
		return nil, ErrNotFound
	}
	return p.Clone(), nil
}

// UpdateTeam implements Store.
func (m *MemStore) UpdateTeam(_ context.Context, id string, fn func(*Team) error) (Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.team(id)
	if !ok {
		return Team{}, &TeamNotFoundError{ID: id}
	}
	if err := fn(&t); err != nil {
		return Team{}, err
	}
	rev := m.nextRev()
	if t.Perm != nil {
		t.PermID = m.putPerm(t.Perm, rev)
	}
	t.ID = id
	t.Rev = rev
	m.teams[id] = t.TeamRow.Clone()
	out, _ := m.team(id)
	return out, nil
}

// ListTeams implements Store.
func (m *MemStore) ListTeams(context.Context) ([]Team, error) {
	m.mu.RLock()
	out := make([]Team, 0, len(m.teams))
	for id := range m.teams {
		t, _ := m.team(id)
		out = append(out, t)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Alias != out[j].Alias {
			return out[i].Alias < out[j].Alias
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteTeams implements Store.
func (m *MemStore) DeleteTeams(_ context.Context, ids []string) ([]Team, []Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if _, ok := m.teams[id]; !ok {
			return nil, nil, &TeamNotFoundError{ID: id}
		}
	}
	m.nextRev()
	var teams []Team
	var keys []Key
	for _, id := range ids {
		t, ok := m.team(id)
		if !ok { // listed twice
			continue
		}
		teams = append(teams, t)
		for _, k := range m.keysOfTeam(id) {
			keys = append(keys, k)
			m.deleteKey(k.Token)
		}
		delete(m.perms, t.PermID)
		delete(m.teams, id)
	}
	return teams, keys, nil
}

// CreateKey implements Store.
func (m *MemStore) CreateKey(_ context.Context, k Key) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k.Alias != "" {
		if _, taken := m.aliases[k.Alias]; taken {
			return Key{}, ErrAliasTaken
		}
	}
	if k.TeamID != "" {
		if _, ok := m.teams[k.TeamID]; !ok {
			return Key{}, &TeamNotFoundError{ID: k.TeamID}
		}
	}
	if _, dup := m.keys[k.Token]; dup {
		return Key{}, ErrExists
	}
	rev := m.nextRev()
	k = k.Clone()
	if k.Perm != nil {
		k.PermID = m.putPerm(k.Perm, rev)
	}
	k.Rev = rev
	m.keys[k.Token] = k.KeyRow.Clone()
	m.order[k.Token] = rev
	if k.Alias != "" {
		m.aliases[k.Alias] = k.Token
	}
	return m.key(k.Token), nil
}

func (m *MemStore) key(token string) Key {
	row := m.keys[token]
	k := Key{KeyRow: row.Clone()}
	if p, ok := m.perms[row.PermID]; ok && row.PermID != "" {
		k.Perm = p.Clone()
	}
	return k
}

// GetKey implements Store.
func (m *MemStore) GetKey(_ context.Context, token string) (Key, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.keys[token]; !ok {
		return Key{}, ErrNotFound
	}
	return m.key(token), nil
}

// GetKeyByAlias implements Store.
func (m *MemStore) GetKeyByAlias(_ context.Context, alias string) (Key, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	tok, ok := m.aliases[alias]
	if !ok {
		return Key{}, ErrNotFound
	}
	return m.key(tok), nil
}

func (m *MemStore) keysOfTeam(teamID string) []Key {
	var out []Key
	for tok, row := range m.keys {
		if row.TeamID == teamID {
			out = append(out, m.key(tok))
		}
	}
	sort.Slice(out, func(i, j int) bool { return m.order[out[i].Token] < m.order[out[j].Token] })
	return out
}

// KeysOfTeam implements Store.
func (m *MemStore) KeysOfTeam(_ context.Context, teamID string) ([]Key, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.keysOfTeam(teamID), nil
}

func (m *MemStore) deleteKey(token string) {
	row := m.keys[token]
	if row.Alias != "" {
		delete(m.aliases, row.Alias)
	}
	if row.PermID != "" {
		delete(m.perms, row.PermID)
	}
	delete(m.keys, token)
	delete(m.order, token)
}

// DeleteKeys implements Store.
func (m *MemStore) DeleteKeys(_ context.Context, tokens []string) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Key
	for _, tok := range tokens {
		if _, ok := m.keys[tok]; !ok {
			continue
		}
		out = append(out, m.key(tok))
		m.deleteKey(tok)
	}
	if len(out) > 0 {
		m.nextRev()
	}
	return out, nil
}

// PutTeam implements Store.
func (m *MemStore) PutTeam(_ context.Context, t Team) (Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.teams[t.ID]; !ok {
		return Team{}, &TeamNotFoundError{ID: t.ID}
	}
	rev := m.nextRev()
	t = t.Clone()
	if t.Perm != nil {
		t.PermID = m.putPerm(t.Perm, rev)
	}
	t.Rev = rev
	m.teams[t.ID] = t.TeamRow.Clone()
	out, _ := m.team(t.ID)
	return out, nil
}

// UpdateKey implements Store.
func (m *MemStore) UpdateKey(_ context.Context, token string, fn func(*Key) error) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[token]; !ok {
		return Key{}, ErrNotFound
	}
	k := m.key(token)
	old := k.KeyRow
	if err := fn(&k); err != nil {
		return Key{}, err
	}
	if k.Alias != "" && k.Alias != old.Alias {
		if other, taken := m.aliases[k.Alias]; taken && other != token {
			return Key{}, ErrAliasTaken
		}
	}
	if k.TeamID != "" && k.TeamID != old.TeamID {
		if _, ok := m.teams[k.TeamID]; !ok {
			return Key{}, &TeamNotFoundError{ID: k.TeamID}
		}
	}
	rev := m.nextRev()
	if k.Perm != nil {
		k.PermID = m.putPerm(k.Perm, rev)
	}
	k.Token, k.Rev = token, rev
	if k.Alias != old.Alias {
		if old.Alias != "" {
			delete(m.aliases, old.Alias)
		}
		if k.Alias != "" {
			m.aliases[k.Alias] = token
		}
	}
	m.keys[token] = k.KeyRow.Clone()
	return m.key(token), nil
}

// ListKeys implements Store.
func (m *MemStore) ListKeys(_ context.Context, f KeyFilter, offset, limit int) ([]Key, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var tokens []string
	for tok, row := range m.keys {
		if f.match(row) {
			tokens = append(tokens, tok)
		}
	}
	sort.Slice(tokens, func(i, j int) bool { return m.order[tokens[i]] < m.order[tokens[j]] })
	total := len(tokens)
	if offset < 0 || offset >= total || limit <= 0 {
		return []Key{}, total, nil
	}
	tokens = tokens[offset:min(total, offset+min(limit, total))]
	out := make([]Key, 0, len(tokens))
	for _, tok := range tokens {
		out = append(out, m.key(tok))
	}
	return out, total, nil
}

// AddSpend implements Store.
func (m *MemStore) AddSpend(_ context.Context, token string, cost float64) (Key, *Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	row, ok := m.keys[token]
	if !ok {
		return Key{}, nil, ErrNotFound
	}
	rev := m.nextRev()
	row.Spend += cost
	row.Rev = rev
	m.keys[token] = row
	var team *Team
	if tr, ok := m.teams[row.TeamID]; ok && row.TeamID != "" {
		tr.Spend += cost
		tr.Rev = rev
		m.teams[row.TeamID] = tr
		t, _ := m.team(row.TeamID)
		team = &t
	}
	return m.key(token), team, nil
}
