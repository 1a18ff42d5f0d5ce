package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// A node refreshes its row every nodeHeartbeat; a peer seen within
// nodeLive is taken to be running, and a row not seen for nodeForget (a
// node that crashed) is deleted.
const (
	nodeHeartbeat = time.Minute
	nodeLive      = 3 * nodeHeartbeat
	nodeForget    = 24 * time.Hour
)

// destinationSettings is what this node decides about where deliveries
// may go, written out. Nodes sharing a database must agree on it: a
// delivery is attempted by whichever node claims it, so a node refusing
// private destinations fails the deliveries its peers would make, and one
// allowing them reaches addresses its peers refuse.
func destinationSettings(cfg *Config) string {
	return fmt.Sprintf("allow_private_destinations=%t", cfg.AllowPrivateDestinations)
}

// newNode is this node's row: a new id, the host and process, and its
// destination settings with their hash.
func newNode(cfg *Config, now time.Time) *store.Node {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	name := fmt.Sprintf("%s pid %d", host, os.Getpid())
	settings := destinationSettings(cfg)
	sum := sha256.Sum256([]byte(settings))
	return &store.Node{
		ID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])), Name: name,
		Settings: settings, SettingsHash: hex.EncodeToString(sum[:8]),
		StartedAt: now, SeenAt: now,
	}
}

// registerNode puts this node in the nodes table and warns of every live
// peer whose destination settings differ. A failure is logged, not fatal:
// the table only informs.
func (m *Main) registerNode(ctx context.Context) {
	now := m.cfg.Clock.Now()
	m.node = newNode(&m.cfg, now)
	if err := m.st.NodePut(ctx, m.node, now.Add(-nodeForget)); err != nil {
		m.log.Warn("register this node", "error", err.Error())
		m.node = nil
		return
	}
	peers, err := m.st.NodeList(ctx, now.Add(-nodeLive))
	if err != nil {
		m.log.Warn("list the other nodes", "error", err.Error())
		return
	}
	for _, p := range peers {
		if p.ID == m.node.ID || p.SettingsHash == m.node.SettingsHash {
			continue
		}
		m.log.Warn("this node's destination settings differ from another node's on the same database: "+
			"a delivery is attempted by whichever node claims it, so deliveries to addresses one allows and the other refuses "+
			"fail on the node that refuses them; start every node with the same --allow-private-destinations",
			"settings", m.node.Settings, "other_node", p.Name, "other_settings", p.Settings, "other_seen_at", p.SeenAt)
	}
}

// heartbeat refreshes this node's row every nodeHeartbeat until ctx ends.
func (m *Main) heartbeat(ctx context.Context) {
	if m.node == nil {
		return
	}
	m.every(ctx, nodeHeartbeat, func() {
		now := m.cfg.Clock.Now()
		m.node.SeenAt = now
		if err := m.st.NodePut(ctx, m.node, now.Add(-nodeForget)); err != nil && ctx.Err() == nil {
			m.log.Warn("refresh this node's row", "error", err.Error())
		}
	})
}

// every calls fn every d on the injected clock, the first time d from now,
// until ctx ends.
func (m *Main) every(ctx context.Context, d time.Duration, fn func()) {
	t := m.cfg.Clock.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		fn()
		t.Reset(d)
	}
}

// unregisterNode deletes this node's row, as it stops.
func (m *Main) unregisterNode() {
	if m.node == nil || m.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.st.NodeDelete(ctx, m.node.ID); err != nil {
		m.log.Warn("delete this node's row", "error", err.Error())
	}
	m.node = nil
}
