package course

import (
	"context"
	"time"

	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/pagination"
)

// Service applies the catalogue rules. Who may call which method (admins
// create and edit) is declared in the schema with @auth; what a caller may
// see (unpublished courses only for admins) is decided here.
type Service struct {
	store  Store
	events Events
	now    func() time.Time
}

// NewService returns a Service over store that tells events about
// publications.
func NewService(store Store, events Events) *Service {
	return &Service{store: store, events: events, now: time.Now}
}

// Create adds a course created by creatorID.
// Errors: BAD_USER_INPUT.
func (s *Service) Create(ctx context.Context, creatorID string, in CreateInput) (Course, error) {
	title, err := normalizeTitle(in.Title)
	if err != nil {
		return Course{}, err
	}
	desc, err := normalizeDescription(in.Description)
	if err != nil {
		return Course{}, err
	}
	if err := checkPrice(in.Price); err != nil {
		return Course{}, err
	}
	img, err := normalizeImageLink(in.ImageLink)
	if err != nil {
		return Course{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c := Course{
		Title: title, Description: desc, Price: in.Price,
		ImageLink: img, Published: in.Published != nil && *in.Published,
		CreatedByID: creatorID, CreatedAt: now, UpdatedAt: now,
	}
	c, err = s.store.Insert(ctx, c)
	if err != nil {
		// An insert whose outcome is unknown may have made a course, but
		// one nobody has seen (no id was returned): no cache holds it.
		return Course{}, err
	}
	s.announce(ctx, c, c.Published)
	return c, nil
}

// Update changes the fields set in in; publishing is setting Published.
// Errors: BAD_USER_INPUT, NOT_FOUND.
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (Course, error) {
	if in.Title != nil {
		t, err := normalizeTitle(*in.Title)
		if err != nil {
			return Course{}, err
		}
		in.Title = &t
	}
	if in.Description != nil {
		d, err := normalizeDescription(*in.Description)
		if err != nil {
			return Course{}, err
		}
		in.Description = &d
	}
	if in.Price != nil {
		if err := checkPrice(*in.Price); err != nil {
			return Course{}, err
		}
	}
	if in.ImageLink != nil {
		img, err := normalizeImageLink(in.ImageLink)
		if err != nil {
			return Course{}, err
		}
		empty := ""
		if img == nil {
			img = &empty // clears the link
		}
		in.ImageLink = img
	}
	wasPublished := false
	if in.Published != nil && *in.Published {
		before, err := s.store.ByID(ctx, id)
		if err != nil {
			return Course{}, err
		}
		wasPublished = before.Published
	}
	c, err := s.store.Update(ctx, id, in, s.now().UTC().Truncate(time.Millisecond))
	if err != nil {
		if !apperr.IsCode(err, apperr.NotFound) && !apperr.IsCode(err, apperr.BadUserInput) {
			// The update may have been made: other instances drop the
			// course too.
			s.events.CourseChanged(ctx, Course{ID: id})
		}
		return Course{}, err
	}
	s.announce(ctx, c, c.Published && !wasPublished)
	return c, nil
}

// announce tells events about a course written: a publication, or any
// other change.
func (s *Service) announce(ctx context.Context, c Course, published bool) {
	if published {
		s.events.CoursePublished(ctx, c)
		return
	}
	s.events.CourseChanged(ctx, c)
}

// Get returns a course the viewer may see: unpublished courses only when
// includeUnpublished (admins). A missing or hidden course is (nil, nil).
// Errors: BAD_USER_INPUT (malformed id).
func (s *Service) Get(ctx context.Context, id string, includeUnpublished bool) (*Course, error) {
	c, err := s.store.ByID(ctx, id)
	if apperr.IsCode(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !c.Published && !includeUnpublished {
		return nil, nil
	}
	return &c, nil
}

// Purchasable returns a course that may be bought: it exists and is published.
// Errors: BAD_USER_INPUT (malformed id), NOT_FOUND.
func (s *Service) Purchasable(ctx context.Context, id string) (Course, error) {
	c, err := s.Get(ctx, id, false)
	if err != nil {
		return Course{}, err
	}
	if c == nil {
		return Course{}, errNotFound
	}
	return *c, nil
}

// ByIDs returns the courses among ids regardless of publication (for lists
// the caller is entitled to, such as their purchases).
func (s *Service) ByIDs(ctx context.Context, ids []string) ([]Course, error) {
	return s.store.ByIDs(ctx, ids)
}

// List returns a newest-first page of the courses the viewer may see.
// Errors: BAD_USER_INPUT (first, after).
func (s *Service) List(ctx context.Context, includeUnpublished bool, first int, after *string) (pagination.Page[Course], error) {
	args, err := pagination.Parse(first, after)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	return s.store.List(ctx, !includeUnpublished, args)
}

// Count counts the courses the viewer may see.
func (s *Service) Count(ctx context.Context, includeUnpublished bool) (int, error) {
	return s.store.Count(ctx, !includeUnpublished)
}

// ListByCreator returns a newest-first page of the courses creatorID
// created, drafts included. Errors: BAD_USER_INPUT (first, after).
func (s *Service) ListByCreator(ctx context.Context, creatorID string, first int, after *string) (pagination.Page[Course], error) {
	args, err := pagination.Parse(first, after)
	if err != nil {
		return pagination.Page[Course]{}, err
	}
	return s.store.ListByCreator(ctx, creatorID, args)
}

// CountByCreator counts the courses creatorID created.
func (s *Service) CountByCreator(ctx context.Context, creatorID string) (int, error) {
	return s.store.CountByCreator(ctx, creatorID)
}
