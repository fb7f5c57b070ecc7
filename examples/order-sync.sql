-- Tables for examples/order-sync.cai: psql -h 127.0.0.1 -U postgres test -f examples/order-sync.sql
CREATE TABLE IF NOT EXISTS high_value_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);
CREATE TABLE IF NOT EXISTS regular_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);
