// Package graph is the GraphQL layer: gqlgen's generated executor and thin
// resolvers that turn arguments into one service call each.
package graph

//go:generate go tool gqlgen generate

import (
	"context"

	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/lesson"
	"github.com/coursehub/coursehub/internal/purchase"
	"github.com/coursehub/coursehub/internal/user"
)

// Events is where subscriptions get what they deliver (the change feed).
type Events interface {
	SubscribeCoursePublished(ctx context.Context) <-chan *course.Course
	SubscribePurchaseMade(ctx context.Context) <-chan *purchase.Purchase
}

// Resolver is the root resolver and the GraphQL layer's dependency container:
// services only, never a database handle.
type Resolver struct {
	Auth  *auth.Service
	Users *user.Service
	// Catalog is the course service (named so as not to clash with the
	// Query.courses resolver method).
	Catalog   *course.Service
	Purchases *purchase.Service
	// Curriculum is the lesson service (named so as not to clash with
	// the Course.lessons resolver method).
	Curriculum *lesson.Service
	// Events streams what subscriptions deliver.
	Events Events
}
