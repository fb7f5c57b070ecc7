-- +goose Up
-- Received webhooks are listed (GET /inbound), newest first, for one source or all, and
-- paged with a cursor (received_at, id): an index for each. verification is the scheme
-- whose signature check the message passed; '' for messages stored before it was kept.

ALTER TABLE inbound_messages ADD COLUMN verification TEXT NOT NULL DEFAULT '';
CREATE INDEX inbound_messages_source_received ON inbound_messages (source, received_at, id);
CREATE INDEX inbound_messages_received ON inbound_messages (received_at, id);

-- +goose Down
DROP INDEX inbound_messages_received;
DROP INDEX inbound_messages_source_received;
ALTER TABLE inbound_messages DROP COLUMN verification;
