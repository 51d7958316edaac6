package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// trustedDocuments lets only allow-listed operations run: the documents a
// team generated with GraphQL Code Generator (persisted documents) or any
// tool that writes {"<sha256 hex>": "<document>"}. A client sends the hash
// (as documentId, or as an APQ extension) or the exact text of a listed
// document; anything else is refused before it is parsed.
type trustedDocuments struct {
	byHash map[string]string
}

var (
	_ graphql.HandlerExtension          = trustedDocuments{}
	_ graphql.OperationParameterMutator = trustedDocuments{}
)

func (trustedDocuments) ExtensionName() string                          { return "TrustedDocuments" }
func (trustedDocuments) Validate(schema graphql.ExecutableSchema) error { return nil }

func (t trustedDocuments) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash := persistedHash(p.Extensions)
	if p.Query != "" {
		if _, ok := t.byHash[documentHash(p.Query)]; ok {
			return nil
		}
		return refuseDocument("only trusted documents run on this server")
	}
	q, ok := t.byHash[hash]
	if !ok {
		return refuseDocument("unknown document id")
	}
	p.Query = q
	delete(p.Extensions, "persistedQuery")
	return nil
}

func refuseDocument(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// persistedHash reads extensions.persistedQuery.sha256Hash.
func persistedHash(ext map[string]any) string {
	pq, _ := ext["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return strings.ToLower(h)
}

// documentHash is the sha256 hex of a document, as APQ and codegen use.
func documentHash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}
