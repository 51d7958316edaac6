// Package apperr is the one error vocabulary of coursehub. Every error a client
// can see carries one of the contract's codes (shared/api-contract.md); anything
// that is not an *Error is, by definition, internal.
//
// Domain packages return *Error values (often through the constructors below),
// wrap them freely with fmt.Errorf("...: %w", err), and the GraphQL error
// presenter turns them into extensions.code in one place.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a contract error code, sent to clients as extensions.code.
type Code string

// The contract's codes. Adding one is a contract change.
const (
	Unauthenticated         Code = "UNAUTHENTICATED"
	Forbidden               Code = "FORBIDDEN"
	BadUserInput            Code = "BAD_USER_INPUT"
	NotFound                Code = "NOT_FOUND"
	Conflict                Code = "CONFLICT"
	RateLimited             Code = "RATE_LIMITED"
	GraphQLParseFailed      Code = "GRAPHQL_PARSE_FAILED"
	GraphQLValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	// ServiceUnavailable says the database cannot be reached right now: the
	// client should retry after RetryAfterSeconds. It is ours, not the
	// contract's (docs/api.md).
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	Internal           Code = "INTERNAL_SERVER_ERROR"
)

// internalMessage is all a client learns about an unexpected error.
const internalMessage = "internal server error"

// Error is an error that is safe to show to a client: its Message never
// contains a submitted value or an internal detail.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, when there is one (e.g. "email").
	Field string
	// RetryAfterSeconds is set on RATE_LIMITED and SERVICE_UNAVAILABLE errors.
	RetryAfterSeconds int
	// Err is the underlying cause, kept for logs; it is never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with the given code and client-facing message.
func New(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Input returns a BAD_USER_INPUT error about one input field.
func Input(field, message string) *Error {
	return &Error{Code: BadUserInput, Message: message, Field: field}
}

// Unavailable returns a SERVICE_UNAVAILABLE error that asks the client to
// retry after retryAfter seconds (at least one); cause is kept for logs.
func Unavailable(message string, retryAfter int, cause error) *Error {
	return &Error{Code: ServiceUnavailable, Message: message, RetryAfterSeconds: max(retryAfter, 1), Err: cause}
}

// CodeOf returns the contract code of err: the code of the first *Error in its
// chain, or INTERNAL_SERVER_ERROR when there is none.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-facing message of err; internal errors get a
// generic message that reveals nothing.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return internalMessage
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code Code) bool { return CodeOf(err) == code }
