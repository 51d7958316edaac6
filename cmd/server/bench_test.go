package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coursehub/coursehub/internal/course"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/purchase"
	"github.com/coursehub/coursehub/internal/user"
)

// benchPost sends one prepared request body and fails on a non-200 answer
// or an errors entry.
func benchPost(b *testing.B, client *http.Client, url, token string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
		b.Fatalf("status %d: %s", resp.StatusCode, out)
	}
}

// BenchmarkMe measures the authenticated hot path over real HTTP on
// loopback: token verification, the session and user reads (by _id), and
// the response. go test ./cmd/server -run '^$' -bench . -benchtime 3s
func BenchmarkMe(b *testing.B) {
	s := mustStartQuietServer(b, nil)
	tok := s.mustSignup(b, "bench@example.com", "bench-password", "Bench").AccessToken
	body := []byte(`{"query":"{ me { id name role } }"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, s.URL+"/graphql", tok, body)
		}
	})
}

// BenchmarkCourses measures a public page of 20 courses with createdBy,
// loaded through the data loader (two queries whatever the page size).
func BenchmarkCourses(b *testing.B) {
	s := mustStartQuietServer(b, nil)
	admin := s.mustAdminToken(b)
	for i := 0; i < 100; i++ {
		s.mustCreateCourse(b, admin, fmt.Sprintf("Course %d", i), 100*i, true)
	}
	body := []byte(`{"query":"{ courses(first: 20) { edges { node { id title price createdBy { name } } } pageInfo { hasNextPage endCursor } } }"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, s.URL+"/graphql", "", body)
		}
	})
}

// seeded is what mustSeed wrote.
type seeded struct {
	// Emails of the seeded users, whose password is seedPassword.
	Emails    []string
	CourseIDs []string
}

const seedPassword = "seed-password-1"

// mustSeed stops s, writes users (each with the password seedPassword),
// published courses (created by the admin) and purchasesPerUser purchases
// per user (of distinct courses) through the stores' bulk inserts, and
// starts the program again on the same data, so that it builds its indexes
// over them as at any start. It returns the new server (s is stopped).
func mustSeed(tb testing.TB, s *testServer, users, courses, purchasesPerUser int) (*testServer, seeded) {
	tb.Helper()
	s.stop(tb)
	ctx := context.Background()
	emb, err := mongodb.StartEmbedded(ctx, s.DataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	client, err := mongodb.Connect(ctx, emb.URI(), time.Minute)
	if err != nil {
		emb.Stop()
		tb.Fatal(err)
	}
	defer emb.Stop()
	defer client.Disconnect(ctx)
	db := client.Database("coursehub")
	userStore := user.NewMongoStore(db, mongodb.InProcessIndexes)
	admin, _, err := userStore.ByEmail(ctx, adminEmail)
	if err != nil {
		tb.Fatalf("seed: the admin: %v", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(seedPassword), 4)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	const batch = 1000

	var out seeded
	cs := make([]course.Course, courses)
	for i := range cs {
		cs[i] = course.Course{
			Title: fmt.Sprint("Seeded course ", i), Description: "Seeded", Price: 100 + i, Published: true,
			CreatedByID: admin.ID, CreatedAt: now, UpdatedAt: now,
		}
	}
	storedCourses, err := course.NewMongoStore(db, mongodb.InProcessIndexes).InsertMany(ctx, cs)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range storedCourses {
		out.CourseIDs = append(out.CourseIDs, c.ID)
	}

	purchases := purchase.NewMongoStore(db, mongodb.InProcessIndexes)
	for i := 0; i < users; i += batch {
		us := make([]user.User, 0, batch)
		for j := i; j < min(i+batch, users); j++ {
			email := fmt.Sprintf("seed-%d@example.com", j)
			us = append(us, user.User{Email: email, Name: fmt.Sprint("Seed ", j), Role: user.RoleUser, CreatedAt: now, UpdatedAt: now})
			out.Emails = append(out.Emails, email)
		}
		stored, err := userStore.InsertMany(ctx, us, string(hash))
		if err != nil {
			tb.Fatal(err)
		}
		var ps []purchase.Purchase
		for j, u := range stored {
			for k := range min(purchasesPerUser, courses) {
				c := storedCourses[(i+j+k)%courses]
				ps = append(ps, purchase.Purchase{UserID: u.ID, CourseID: c.ID, PricePaid: c.Price, PurchasedAt: now})
			}
		}
		for len(ps) > 0 {
			n := min(batch, len(ps))
			if _, err := purchases.InsertMany(ctx, ps[:n]); err != nil {
				tb.Fatal(err)
			}
			ps = ps[n:]
		}
	}
	return mustStartQuietServer(tb, map[string]string{"DATA_DIR": s.DataDir}), out
}

// BenchmarkHotPaths measures each hot path, one client at a time, on the
// embedded default seeded with 10,000 users, 1,000 courses and 50,000
// purchases, and with a tenth of that:
// go test ./cmd/server -run '^$' -bench HotPaths -benchtime 200x
func BenchmarkHotPaths(b *testing.B) {
	for _, size := range []struct {
		name                        string
		users, courses, perUserBuys int
	}{{"tenth", 1000, 100, 5}, {"full", 10000, 1000, 5}} {
		b.Run(size.name, func(b *testing.B) {
			s, data := mustSeed(b, mustStartQuietServer(b, nil), size.users, size.courses, size.perUserBuys)
			tok := s.mustLogin(b, data.Emails[0], seedPassword).AccessToken
			buyer := s.mustLogin(b, data.Emails[1], seedPassword).AccessToken
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			url := s.URL + "/graphql"
			run := func(name, token string, body func(i int) []byte) {
				b.Run(name, func(b *testing.B) {
					// One request first, so that a cache's fill (the
					// catalogue's, say) is not spread over the iterations.
					benchPost(b, client, url, token, body(1<<30))
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						benchPost(b, client, url, token, body(i))
					}
				})
			}
			fixed := func(q string) func(int) []byte { return func(int) []byte { return []byte(q) } }
			run("typename", tok, fixed(`{"query":"{ __typename }"}`))
			run("me", tok, fixed(`{"query":"{ me { id name role } }"}`))
			run("course", "", fixed(fmt.Sprintf(`{"query":"{ course(id: \"%s\") { id title price } }"}`, data.CourseIDs[len(data.CourseIDs)/2])))
			run("courses20", "", fixed(`{"query":"{ courses(first: 20) { totalCount edges { node { id title price createdBy { name } } } pageInfo { hasNextPage endCursor } } }"}`))
			run("purchasedCourses10", tok, fixed(`{"query":"{ purchasedCourses(first: 10) { totalCount edges { node { id title } } pageInfo { hasNextPage } } }"}`))
			run("purchaseCourse", buyer, func(i int) []byte {
				return fmt.Appendf(nil, `{"query":"mutation { purchaseCourse(courseId: \"%s\") { id pricePaid course { title } } }"}`, data.CourseIDs[i%len(data.CourseIDs)])
			})
			run("login", "", func(i int) []byte {
				return fmt.Appendf(nil, `{"query":"mutation { login(input: {email: \"%s\", password: \"%s\"}) { accessToken } }"}`, data.Emails[i%len(data.Emails)], seedPassword)
			})
			run("signup", "", func(i int) []byte {
				return fmt.Appendf(nil, `{"query":"mutation { signup(input: {email: \"bench-%s-%d@example.com\", password: \"%s\", name: \"B\"}) { accessToken } }"}`, size.name, i, seedPassword)
			})
		})
	}
}
