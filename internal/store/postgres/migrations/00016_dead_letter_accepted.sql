-- +goose Up
-- Which sinks accepted a flow's dead-lettered message before another failed, so a replay
-- writes only to the others: a JSON array with one array of sink names per message the
-- flow's steps made from the original (one, unless a step split it).
ALTER TABLE flow_dead_letters ADD COLUMN accepted jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(accepted) = 'array');

-- +goose Down
ALTER TABLE flow_dead_letters DROP COLUMN accepted;
