package integration

import (
	"context"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
)

// contractStage checks a successful answer of an operation: GraphQL `errors` fail the
// call (GraphQL reports failures with HTTP 200), an XML answer is decoded into JSON
// (xml.go), and the body is compared with the declared `returns` shape (B14). It sits outside the retry, so it judges the final
// answer once, and inside the cache, so a GraphQL failure is never stored and a cache
// hit is not checked again. The proxy has no declaration to check against.
type contractStage struct {
	c   *client
	op  *operation
	xml format.XML // decodes XML answers (xml.go), with the shape's lists as arrays
}

// newContractStage: only for operations (not the proxy) of GraphQL, with a `returns`
// shape the contract checks, or with a codec (body_type: avro or protobuf) whose
// answers it decodes.
func newContractStage(c *client, op *operation) stage {
	if op.method == "" || (op.graphql == nil && !checksContract(op.returns) && op.codec == nil) {
		return nil
	}
	return &contractStage{c: c, op: op, xml: format.XML{Arrays: listNames(op.returns)}}
}

// checksContract says whether a declared `returns` shape is one the contract checks.
func checksContract(returns *config.Type) bool {
	return returns != nil && returns.Kind != config.KindBinary && returns.Kind != config.KindVoid
}

func (s *contractStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		res, err := next(ctx, x)
		if err != nil || !s.op.success(res.Status) {
			return res, err
		}
		if s.op.graphql != nil {
			if errs, ok := graphqlErrors(res.Body); ok {
				return nil, &Error{Kind: KindGraphQL, Integration: s.c.name, Operation: s.op.name, Detail: "the GraphQL response has errors", GraphQL: errs, Attempts: res.Attempts}
			}
		}
		switch {
		case s.op.graphql != nil:
		case s.op.codec != nil && isCodecAnswer(res.Header, s.op.codec):
			if err := decodeAnswer(res, s.op.codec); err != nil {
				res.ContractMismatches = []string{err.Error()}
			}
		case isXML(res.Header) && checksContract(s.op.returns):
			if err := decodeAnswer(res, s.xml); err != nil {
				res.ContractMismatches = []string{err.Error()}
			}
		}
		if res.ContractMismatches == nil {
			res.ContractMismatches = checkContract(s.op.returns, res.Body)
		}
		if len(res.ContractMismatches) > 0 {
			s.op.metrics.contractMismatch()
			s.c.env.logger.Warn("response does not match the declared returns", "integration", s.c.name, "operation", s.op.name, "mismatches", res.ContractMismatches)
		}
		return res, nil
	}
}
