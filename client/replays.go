package client

import (
	"context"
	"iter"
	"net/url"
)

// ReplaysService is the calls on a tenant's replays (started with
// Endpoints.Replay).
type ReplaysService struct{ c *Client }

// Get reads a replay and its progress.
func (s *ReplaysService) Get(ctx context.Context, tenant, id string) (*Replay, error) {
	path, err := path("tenants", tenant, "replays", id)
	if err != nil {
		return nil, err
	}
	var r Replay
	if _, err := s.c.Do(ctx, "GET", path, nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReplayListParams pages through replays, those of one endpoint when
// Endpoint is set.
type ReplayListParams struct {
	ListParams
	Endpoint string
}

func (p *ReplayListParams) query() url.Values {
	if p == nil {
		return url.Values{}
	}
	q := p.ListParams.query()
	if p.Endpoint != "" {
		q.Set("endpoint", p.Endpoint)
	}
	return q
}

// List reads one page of a tenant's replays, newest first.
func (s *ReplaysService) List(ctx context.Context, tenant string, p *ReplayListParams) (*Page[Replay], error) {
	path, err := path("tenants", tenant, "replays")
	if err != nil {
		return nil, err
	}
	return getPage[Replay](ctx, s.c, path, p.query())
}

// All iterates over every replay of a tenant that p lets through, newest
// first.
func (s *ReplaysService) All(ctx context.Context, tenant string, p *ReplayListParams) iter.Seq2[Replay, error] {
	return All(ctx, func(ctx context.Context, cursor string) (*Page[Replay], error) {
		var q ReplayListParams
		if p != nil {
			q = *p
		}
		q.Cursor = cursor
		return s.List(ctx, tenant, &q)
	})
}
