package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// ListParams is the paging of a list: at most Limit items (1 to 250; 0
// is the server's default, 50) after Cursor ("" for the first page).
type ListParams struct {
	Limit  int
	Cursor string
}

func (p *ListParams) query() url.Values {
	q := url.Values{}
	if p == nil {
		return q
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// Page is one page of a list, newest first. NextCursor is "" on the last
// page; otherwise pass it as ListParams.Cursor for the next one. A page
// may hold fewer than its limit and still not be the last (the server
// bounds a page in bytes too): follow NextCursor until it is "".
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// page is a Page as the server writes it, next_cursor null on the last.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func (p *page[T]) out() *Page[T] {
	out := &Page[T]{Data: p.Data}
	if out.Data == nil {
		out.Data = []T{}
	}
	if p.NextCursor != nil {
		out.NextCursor = *p.NextCursor
	}
	return out
}

// All iterates over every item of a list, fetching one page at a time
// with list, given each page's cursor ("" first), until a page has no
// next cursor. An error ends the iteration, yielded once with a zero
// item; breaking out of the loop fetches no further page. The services'
// All methods are this over their List.
func All[T any](ctx context.Context, list func(ctx context.Context, cursor string) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			p, err := list(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Data {
				if !yield(item, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			cursor = p.NextCursor
		}
	}
}

// getPage fetches one page of the list at path.
func getPage[T any](ctx context.Context, c *Client, path string, q url.Values) (*Page[T], error) {
	var p page[T]
	if _, err := c.Do(ctx, "GET", path, q, nil, &p); err != nil {
		return nil, err
	}
	return p.out(), nil
}

// withCursor returns a copy of p for the page at cursor.
func withCursor(p *ListParams, cursor string) *ListParams {
	out := ListParams{Cursor: cursor}
	if p != nil {
		out.Limit = p.Limit
	}
	return &out
}
