package user_test

import (
	"testing"

	"github.com/coursehub/coursehub/internal/user"
)

// Roles are ordered USER < INSTRUCTOR < ADMIN: a rule for INSTRUCTOR
// admits admins, and an unknown role satisfies nothing.
func TestRoleOrder(t *testing.T) {
	roles := []user.Role{user.RoleUser, user.RoleInstructor, user.RoleAdmin}
	for i, r := range roles {
		if !r.Valid() {
			t.Errorf("%s is not valid", r)
		}
		for j, min := range roles {
			if got, want := r.Satisfies(min), i >= j; got != want {
				t.Errorf("%s.Satisfies(%s) = %v, want %v", r, min, got, want)
			}
		}
	}
	if bad := user.Role("OWNER"); bad.Valid() || bad.Satisfies(user.RoleUser) {
		t.Errorf("an unknown role counts")
	}
}
