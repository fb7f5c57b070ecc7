-- +goose Up
-- PostgreSQL moves its delivery queue into a table of its own here (see its 00019).
-- SQLite keeps the queue in deliveries: one writer at a time, and an update there
-- costs far less than the round trips a second table would add. The migration exists so
-- both backends list the same schema versions.

-- +goose Down
