package integration

import (
	"context"
	"errors"
	"net/http"

	"github.com/junctionhq/junction/internal/wsclient"
)

// socketStage is the innermost stage of a websocket integration's operations, in the
// place of the auth stage: it sends the attempt's message on the connection the
// operations share (made with the integration's credentials when it was opened) and
// waits for the received message that matches it. Every stage outside works as for an
// HTTP call: the timeout bounds the wait for the reply, the breaker counts a lost
// connection or a timeout as a failure, the retry sends the message again. A reply whose
// error path holds a value is the upstream refusing the request: status 400, its body
// the reply, as an upstream's 4xx answer is a result and not Junction's failure.
type socketStage struct {
	c  *client
	op *operation
}

// replyHeader is the header of every reply: a reply is JSON, since it was matched by a
// JSONPath.
var replyHeader = http.Header{"Content-Type": headerJSON}

func (s *socketStage) wrap(handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		x.sent++
		reply, err := s.c.socket.caller.Call(ctx, &wsclient.Request{Message: x.body, Reply: x.reply})
		if ce, lost := errors.AsType[*wsclient.ConnectionError](err); lost && ctx.Err() == nil {
			return nil, &Error{Kind: KindUnreachable, Integration: s.c.name, Operation: s.op.name, Detail: "websocket: " + ce.Error(), Err: err}
		}
		if err != nil {
			return nil, err // the timeout stage says which deadline ended it
		}
		res := &Result{Status: http.StatusOK, Header: replyHeader.Clone(), Body: reply}
		if _, refused := x.reply.Refusal(reply); refused {
			res.Status = http.StatusBadRequest
			res.Body = s.c.scrubBody(reply)
		}
		return res, nil
	}
}

// prepareSocket renders a websocket operation's message with params: the exchange's
// body is the message, its reply what answers it.
func (c *client) prepareSocket(op *operation, params map[string]any) (*exchange, error) {
	req, problems := c.socket.request(op.send, params)
	if problems != nil {
		return nil, invalidParams(c.name, op.name, problems)
	}
	return &exchange{op: op, method: op.method, url: c.base, header: http.Header{}, body: req.Message, reply: req.Reply}, nil
}
