// Package amqp is the rabbitmq connector: flows read from a RabbitMQ queue with manual
// acknowledgements and write to an exchange with publisher confirms, so a message is
// acknowledged only after the flow is done with it and a write succeeds only after
// RabbitMQ has taken every message. The connector declares its exchanges, queue and
// bindings itself (idempotently) whenever it connects, and reconnects when the
// connection drops.
//
// Options (connector block, or a flow's source or sink block on top of it):
//
//	url                 amqp://user:pass@host:5672/vhost (required; env(NAME) allowed)
//	exchanges           [{ name, type: direct|topic|fanout|headers (topic), durable (true) }]
//	queue               "name", or { name, durable (true), arguments: { x-…: … } };
//	                    durations in arguments are sent as milliseconds
//	bindings            [{ exchange, routing_key }]: bind the queue to exchanges
//
// Source (the queue is required):
//
//	prefetch            unacknowledged messages RabbitMQ sends ahead (default and cap:
//	                    the flow's in-flight limit)
//	batch_size          caps prefetch too (seed 002's name for it)
//	poll_interval       how long to wait before reconnecting after the connection drops
//	                    (default 2s); deliveries are pushed, never polled
//	visibility_timeout  a delivery not settled within it is handed back to RabbitMQ
//	                    (requeued) by the connector, so a stuck message is delivered
//	                    again; its late Ack or Nack then fails (default 0: off)
//
// Sink:
//
//	exchange            exchange to publish to (default "": the default exchange, which
//	                    routes by queue name)
//	routing_key         default: the message's routing_key header, else the queue's name
//	                    when publishing to the default exchange
//	persistent          delivery mode 2, so messages survive a broker restart (true)
//	mandatory           a message no queue is bound for is an error instead of being
//	                    dropped by RabbitMQ (false)
//
// Deliveries carry the headers routing_key, exchange, message_id, content_type and
// redelivered (when set), plus the message's AMQP headers as strings. The sink sends a
// message's message_id and content_type headers as those properties and its other
// headers as AMQP headers.
package amqp
