package api

import (
	"github.com/heraldhq/herald/internal/store"
)

// listInput is the query of a list with no other parameters. Inputs with
// more repeat its fields rather than embed it: huma reads parameters only
// from exported embedded types.
type listInput struct {
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"1024" doc:"The next_cursor of the previous page."`
}

// listParams checks the cursor here, so a bad one is the client's 422
// whatever the list, and sets the page's byte budget.
func (s *Server) listParams(limit int, cursor string) (store.ListParams, error) {
	if cursor != "" {
		if _, _, err := store.DecodeCursor(cursor); err != nil {
			return store.ListParams{}, err
		}
	}
	return store.ListParams{Limit: limit, Cursor: cursor, MaxBytes: s.pageBytes}, nil
}

// page is a list's answer: newest first, and the cursor of the next page or
// null on the last.
type page[T any] struct {
	Data       []T     `json:"data" nullable:"false"`
	NextCursor *string `json:"next_cursor" doc:"Pass as ?cursor= for the next page; null on the last page."`
}

type pageOutput[T any] struct {
	Body page[T]
}

// pageOf trims rows a list method returned (the page and one row more when
// there is a next page: the limit, or the byte budget, cut it) and converts
// them.
func pageOf[R store.Sized, T any](rows []R, p *store.ListParams, conv func(R) T) *pageOutput[T] {
	rows, next := store.Page(rows, p)
	out := &pageOutput[T]{Body: page[T]{Data: make([]T, 0, len(rows))}}
	for _, r := range rows {
		out.Body.Data = append(out.Body.Data, conv(r))
	}
	if next != "" {
		out.Body.NextCursor = &next
	}
	return out
}
