// Package model holds the GraphQL-only types: those gqlgen generates and the
// connection wrapper below. Domain types are bound from internal/.
package model

import (
	"context"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/pagination"
)

// CourseConnection is a page of courses. TotalCount is computed only when a
// client asks for it, since it costs a query of its own.
type CourseConnection struct {
	Edges    []CourseEdge
	PageInfo PageInfo
	// Count counts the whole list; the totalCount resolver calls it.
	Count func(context.Context) (int, error)
}

// NewCourseConnection wraps a page and the count of its list.
func NewCourseConnection(p pagination.Page[course.Course], count func(context.Context) (int, error)) *CourseConnection {
	edges := make([]CourseEdge, len(p.Edges))
	for i, e := range p.Edges {
		node := e.Node
		edges[i] = CourseEdge{Cursor: e.Cursor, Node: &node}
	}
	return &CourseConnection{
		Edges:    edges,
		PageInfo: PageInfo{HasNextPage: p.HasNextPage, EndCursor: p.EndCursor()},
		Count:    count,
	}
}

// SecurityEventConnection is a page of security events; TotalCount, like
// CourseConnection's, costs a query only when asked for.
type SecurityEventConnection struct {
	Edges    []SecurityEventEdge
	PageInfo PageInfo
	Count    func(context.Context) (int, error)
}

// NewSecurityEventConnection wraps a page of events.
func NewSecurityEventConnection(p auth.SecurityEventPage) *SecurityEventConnection {
	edges := make([]SecurityEventEdge, len(p.Edges))
	for i, e := range p.Edges {
		node := e.Node
		edges[i] = SecurityEventEdge{Cursor: e.Cursor, Node: &node}
	}
	return &SecurityEventConnection{
		Edges:    edges,
		PageInfo: PageInfo{HasNextPage: p.HasNextPage, EndCursor: p.EndCursor()},
		Count:    p.Count,
	}
}
