package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/purchase"
)

// courseStore has one course, readable once by id; any later read fails,
// as it would with the database gone right after the purchase's insert.
type courseStore struct {
	course.Store // the methods a purchase never calls
	c            course.Course
	reads        int
}

var errGone = errors.New("the database went away")

func (s *courseStore) ByID(_ context.Context, id string) (course.Course, error) {
	s.reads++
	if s.reads > 1 || id != s.c.ID {
		return course.Course{}, errGone
	}
	return s.c, nil
}

func (s *courseStore) ByIDs(context.Context, []string) ([]course.Course, error) {
	s.reads++
	return nil, errGone
}

// purchaseStore stores purchases in memory, one per user and course.
type purchaseStore struct {
	purchase.Store
	byKey map[[2]string]purchase.Purchase
}

func (s *purchaseStore) Insert(_ context.Context, p purchase.Purchase) (purchase.Purchase, bool, error) {
	k := [2]string{p.UserID, p.CourseID}
	if old, ok := s.byKey[k]; ok {
		return old, false, nil
	}
	s.byKey[k] = p
	return p, true, nil
}

func (s *purchaseStore) Find(_ context.Context, userID, courseID string) (purchase.Purchase, error) {
	return s.byKey[[2]string{userID, courseID}], nil
}

type noEvents struct{}

func (noEvents) CoursePublished(context.Context, course.Course)  {}
func (noEvents) CourseChanged(context.Context, course.Course)    {}
func (noEvents) PurchaseMade(context.Context, purchase.Purchase) {}

// Ensure Purchase.course of a purchase just made is the course it was
// priced from, with no second read that could fail after the insert and
// turn a done purchase into an error.
func TestPurchaseCourseFromPricing(t *testing.T) {
	c := course.Course{
		ID: bson.NewObjectID().Hex(), Title: "Priced", Price: 4900, Published: true,
		CreatedAt: time.Unix(1, 0).UTC(),
	}
	for _, tt := range []struct {
		name  string
		again bool // an idempotent repeat: the store returns the first purchase
	}{{"OKFirst", false}, {"OKRepeat", true}} {
		t.Run(tt.name, func(t *testing.T) {
			courses := &courseStore{c: c}
			catalog := course.NewService(courses, noEvents{})
			purchases := &purchaseStore{byKey: map[[2]string]purchase.Purchase{}}
			r := &graph.Resolver{Catalog: catalog, Purchases: purchase.NewService(purchases, catalog, noEvents{})}
			user := bson.NewObjectID().Hex()
			if tt.again {
				purchases.byKey[[2]string{user, c.ID}] = purchase.Purchase{
					ID: bson.NewObjectID().Hex(), UserID: user, CourseID: c.ID, PricePaid: 100,
				}
			}
			ctx := r.WithLoaders(context.Background())

			p, err := r.Purchases.Buy(ctx, user, c.ID)
			if err != nil {
				t.Fatalf("Buy: %v", err)
			}
			got, err := r.Purchase().Course(ctx, &p)
			if err != nil {
				t.Fatalf("Purchase.course after a done purchase: %v", err)
			}
			if got.ID != c.ID || got.Title != c.Title {
				t.Errorf("Purchase.course = %+v, want %+v", got, c)
			}
			if courses.reads != 1 {
				t.Errorf("the course was read %d times, want once (to price the purchase)", courses.reads)
			}
		})
	}
}
