package server

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/coursehub/coursehub/graph"
	"github.com/coursehub/coursehub/internal/apperr"
	"github.com/coursehub/coursehub/internal/auth"
	"github.com/coursehub/coursehub/internal/fanout"
	"github.com/coursehub/coursehub/internal/mongodb"
	"github.com/coursehub/coursehub/internal/user"
)

// queryCacheSize is how many parsed and validated documents are kept.
const queryCacheSize = 1000

// newGraphQLHandler builds the gqlgen handler. handler.New with explicit
// transports and extensions, never NewDefaultServer, which gqlgen itself
// calls unfit for production.
func newGraphQLHandler(d Deps) *handler.Server {
	cfg := graph.Config{
		Resolvers: d.Resolver,
		Directives: graph.DirectiveRoot{
			Auth: func(ctx context.Context, obj any, next graphql.Resolver, requires *user.Role, allowOwner bool, anyOf []auth.Grant, courseArg, lessonArg *string) (any, error) {
				rule := auth.NewRule(requires, allowOwner).WithGrants(anyOf, courseArg, lessonArg)
				release := trackSubscription(ctx, rule)
				res, err := d.Resolver.Auth.Directive(ctx, obj, next, rule)
				if err != nil {
					// A refused subscription gets an error message for its
					// id (wsSubscription.responses); the socket stays open.
					release()
				}
				return res, err
			},
			Public: func(ctx context.Context, _ any, next graphql.Resolver) (any, error) { return next(ctx) },
		},
	}
	es := graph.NewExecutableSchema(cfg)
	srv := handler.New(es)
	present := presentError(d.Logger, d.Limits.Verbose)
	recoverFn := func(ctx context.Context, v any) error {
		d.Logger.ErrorContext(ctx, "panic in resolver", "panic", v,
			"request_id", requestIDFrom(ctx), "path", fieldPath(ctx), "stack", string(debug.Stack()))
		return apperr.New(apperr.Internal, "internal server error")
	}
	// A subscription group's own execution (internal/fanout): the
	// executor's dispatch with nothing of a request, and the loaders.
	groupExec := executor.New(es)
	groupExec.SetErrorPresenter(present)
	groupExec.SetRecoverFunc(recoverFn)
	dispatchGroup := func(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
		return groupExec.DispatchOperation(d.Resolver.WithLoaders(ctx), oc)
	}
	streams := streamer{auth: d.Resolver.Auth, checkEvery: d.WebsocketCheckEvery, timeout: d.RequestTimeout, stopping: d.Stopping, present: present, logger: d.Logger}
	srv.AddTransport(websocketTransport(d.Resolver.Auth, d.DB, d.WebsocketCheckEvery, d.Logger))
	// The streams come before POST and GET, which take every other request;
	// single connection mode first, since its requests carry a token.
	srv.AddTransport(sseSingleTransport{streamer: streams, hub: newSSEHub()})
	srv.AddTransport(sseTransport{streams})
	srv.AddTransport(multipartTransport{streams})
	srv.AddTransport(postTransport{})
	srv.AddTransport(getTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	srv.SetParserTokenLimit(d.MaxTokens)
	srv.SetDisableSuggestion(!d.Suggestions)
	if d.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionOff{})
	}
	// The limits come first: their size check runs before the APQ cache
	// could store an over-long document, and their measure of the parsed
	// operation (after any allow-list or cache lookup) is of what will run.
	srv.Use(limitExtension{d.Limits})
	switch {
	case d.TrustedDocuments != nil:
		srv.Use(trustedDocuments{byHash: d.TrustedDocuments})
	case d.APQCacheSize > 0:
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](d.APQCacheSize)})
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc != nil {
			name := oc.OperationName
			if name == "" && oc.Operation != nil {
				name = oc.Operation.Name
			}
			setOperationName(ctx, name)
		}
		// A subscription on a socket can be ended alone, and ends with an
		// error message when it fails (wsSubscription.responses).
		subscription := oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Subscription
		onSocket := func(h graphql.ResponseHandler) graphql.ResponseHandler { return h }
		if subscription && wsConnFrom(ctx) != nil {
			var sub *wsSubscription
			ctx, sub = startWsSubscription(ctx)
			onSocket = func(h graphql.ResponseHandler) graphql.ResponseHandler { return sub.responses(h, present) }
		}
		if err := databaseGate(d.DB, oc); err != nil {
			return onSocket(graphql.OneShot(&graphql.Response{Errors: gqlerror.List{present(ctx, err)}}))
		}
		if wsConnFrom(ctx) != nil {
			// A socket's operations each check the session afresh, as
			// every HTTP request does; the connection keeps only who it is.
			ctx = d.Resolver.Auth.ForOperation(ctx)
		}
		if subscription {
			run := func(ctx context.Context) graphql.ResponseHandler { return next(d.Resolver.WithLoaders(ctx)) }
			// Subscribers of one operation share its execution when the
			// resolvers' event source is a fan-out (run.go wires one).
			if fo, ok := d.Resolver.Events.(*fanout.Fanout); ok {
				return onSocket(fo.Subscribe(ctx, oc, run, dispatchGroup))
			}
			return onSocket(run(ctx))
		}
		// A query or mutation stops waiting for the database the moment it
		// is found gone; a subscription outlives outages.
		ctx, cancel := context.WithCancelCause(ctx)
		stop := context.AfterFunc(d.DB.UpContext(), func() { cancel(mongodb.ErrUnavailable) })
		respond := next(d.Resolver.WithLoaders(ctx))
		return func(ctx context.Context) *graphql.Response {
			defer cancel(nil)
			defer stop()
			return respond(ctx)
		}
	})
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverFn)
	return srv
}

// errDatabaseUnavailable refuses operations while the database is down.
var errDatabaseUnavailable = apperr.Unavailable("the database is unavailable; try again shortly", retryAfterSeconds, nil)

// databaseGate refuses an operation, before any resolver runs, while the
// database is known to be unavailable: waiting for the driver's timeout
// (DB_TIMEOUT) would only hold the client and a goroutine. Introspection
// alone needs no database and goes through, so the IDE keeps working.
// Errors: SERVICE_UNAVAILABLE.
func databaseGate(db Database, oc *graphql.OperationContext) error {
	if db.Available() || (oc != nil && introspectionOnly(oc.Operation)) {
		return nil
	}
	return errDatabaseUnavailable
}

// introspectionOnly reports whether op selects nothing but introspection
// fields (__schema, __type, __typename) at its root.
func introspectionOnly(op *ast.OperationDefinition) bool {
	if op == nil || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !strings.HasPrefix(f.Name, "__") {
			return false
		}
	}
	return true
}

// gqlgen's own codes that are not the contract's are mapped onto it.
// PERSISTED_QUERY_NOT_FOUND keeps its message, "PersistedQueryNotFound",
// which is what Apollo Client and urql look for to resend the full query.
var codeAliases = map[string]apperr.Code{
	"GRAPHQL_PARSE_FAILED":      apperr.GraphQLParseFailed,
	"GRAPHQL_VALIDATION_FAILED": apperr.GraphQLValidationFailed,
	"COMPLEXITY_LIMIT_EXCEEDED": apperr.GraphQLValidationFailed,
	"PERSISTED_QUERY_NOT_FOUND": apperr.GraphQLValidationFailed,
}

// tokenLimit matches the parser's refusal, which names the limit.
var tokenLimit = regexp.MustCompile(`^exceeded token limit`)

// valueEchoes are the gqlgen and gqlparser messages that quote what the
// caller sent (a password typed as a literal of the wrong type, a 100 KB
// operationName), with what we say instead: the same sentence without it.
// Names written in the document itself (fields, arguments, types,
// variables, fragments) are still quoted: the grammar keeps them to
// letters, digits and underscores, the document limits bound their length,
// and the messages are useless without them.
var valueEchoes = []struct {
	re   *regexp.Regexp
	with string
}{
	// gqlgen's executor, on operationName (a JSON string, not a document
	// name: any length, any characters). Checked first: such a name could
	// look like any of the sentences below.
	{regexp.MustCompile(`^operation  not found$`), "the document has several operations: operationName must name the one to run"},
	{regexp.MustCompile(`^operation (?s:.+) not found$`), "the document has no operation of the given operationName"},
	{regexp.MustCompile(`^(.+?) cannot represent (.+?) value: (?s:.*)$`), "$1 cannot represent $2 value"},
	{regexp.MustCompile(`^Expected value of type "([^"]+)", found (?s:.*)$`), `Expected value of type "$1"`},
	{regexp.MustCompile(`^Value "(?s:.*)" does not exist in "([^"]+)" enum\.$`), `Value does not exist in "$1" enum`},
	// The same with suggestions on: they name the schema's values only.
	{regexp.MustCompile(`^Value "(?s:.*)" does not exist in "([^"]+)" enum\. (Did you mean the enum value [^"]*(?:"\w+"[^"]*)+\?)$`),
		`Value does not exist in "$1" enum. $2`},
	{regexp.MustCompile(`^(?s:.*) is not a valid (\w+)$`), "value is not a valid $1"},
	// gqlparser's variable check, on a float ID such as 1e300.
	{regexp.MustCompile(`^cannot use (?s:.*) as ID: integers beyond 2\^53-1 (?s:.*)$`), "cannot use a number beyond 2^53-1 as ID"},
}

// withoutValues rewrites a message that would quote a submitted value.
func withoutValues(msg string) string {
	for _, e := range valueEchoes {
		if e.re.MatchString(msg) {
			return e.re.ReplaceAllString(msg, e.with)
		}
	}
	return msg
}

// errRequestTimeout is the message of a field cut off by REQUEST_TIMEOUT.
const errRequestTimeout = "the request took too long and was stopped; try again"

// presentError is the one place where errors become what clients see: every
// error gets a contract code in extensions.code; anything not coded is logged
// with the request id and field path and shown only as INTERNAL_SERVER_ERROR.
func presentError(logger *slog.Logger, verbose bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		if ae, ok := apperr.As(err); ok && ae.Code != apperr.Internal {
			out.Message = ae.Message
			out.Extensions = map[string]any{"code": string(ae.Code)}
			if ae.Field != "" {
				out.Extensions["field"] = ae.Field
			}
			if ae.RetryAfterSeconds > 0 {
				out.Extensions["retryAfter"] = ae.RetryAfterSeconds
			}
			return out
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil {
			// Raised by the parser, validator or executor themselves.
			code, _ := ge.Extensions["code"].(string)
			if c, ok := codeAliases[code]; ok {
				out.Extensions = map[string]any{"code": string(c)}
				out.Message = withoutValues(out.Message)
				if !verbose && tokenLimit.MatchString(out.Message) {
					out.Message = "operation refused: it is too large or too complex"
				}
				return out
			}
		}
		// A request past its own deadline is answered as that, even when
		// the database was found gone at the same moment (a hung database
		// fails the driver's reads when the deadline passes).
		timedOut := false
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			timedOut = true
		}
		if lost := errors.Is(context.Cause(ctx), mongodb.ErrUnavailable); !timedOut && (lost || (mongodb.IsUnavailable(err) && ctx.Err() == nil)) {
			// The database, not the request, ran out of time or went away
			// (lost: while the operation waited for it). A request past
			// its own deadline, or whose client left, is not the
			// database's fault and stays internal.
			logger.WarnContext(ctx, "database unavailable", "err", err,
				"request_id", requestIDFrom(ctx), "path", fieldPath(ctx))
			return &gqlerror.Error{
				Message:   errDatabaseUnavailable.Message,
				Path:      out.Path,
				Locations: out.Locations,
				Extensions: map[string]any{
					"code": string(apperr.ServiceUnavailable), "retryAfter": errDatabaseUnavailable.RetryAfterSeconds,
				},
			}
		}
		message := apperr.MessageOf(err)
		switch {
		case timedOut:
			// Not a fault of ours to page anyone about: the request ran
			// past REQUEST_TIMEOUT. Said as what it is, still with the
			// contract's catch-all code.
			message = errRequestTimeout
			logger.WarnContext(ctx, "request ran past REQUEST_TIMEOUT", "err", err,
				"request_id", requestIDFrom(ctx), "path", fieldPath(ctx))
		case errors.Is(ctx.Err(), context.Canceled):
			// The client went away; nobody reads this answer.
			logger.InfoContext(ctx, "client went away before the answer", "err", err,
				"request_id", requestIDFrom(ctx), "path", fieldPath(ctx))
		default:
			logger.ErrorContext(ctx, "internal error", "err", err,
				"request_id", requestIDFrom(ctx), "path", fieldPath(ctx))
		}
		return &gqlerror.Error{
			Message:    message,
			Path:       out.Path,
			Locations:  out.Locations,
			Extensions: map[string]any{"code": string(apperr.Internal)},
		}
	}
}

func fieldPath(ctx context.Context) string {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		return fc.Path().String()
	}
	return ""
}
