package auth

// Grant is a relation of the caller to the course a field is about, as
// @auth(anyOf:) names it. The GraphQL enum Grant binds to it.
type Grant string

// The grants.
const (
	// GrantOwner: the caller is the course's instructor (its creator).
	GrantOwner Grant = "OWNER"
	// GrantPurchaser: the caller bought the course.
	GrantPurchaser Grant = "PURCHASER"
	// GrantPreview: the field's lesson is a preview (no session needed).
	GrantPreview Grant = "PREVIEW"
	// GrantAdmin: the caller is an admin.
	GrantAdmin Grant = "ADMIN"
)
