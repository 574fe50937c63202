-- Indexes a DBA would add for bench/insight_segment.sql on SQLite and PostgreSQL, beyond the
-- Regulars schema's own (orders_member (merchant_id, member_id, occurred_at), member_consents'
-- primary key (merchant_id, member_id, channel), order_items' (merchant_id, order_id, line)):
-- a covering index for the per-member spend and recency aggregate, the category lookup, and the
-- members' region. DuckDB gets none: it scans columns, and its ART indexes do not serve scans.
CREATE INDEX bench_orders_member_cover
  ON orders (merchant_id, member_id, occurred_at, total_minor, refunded_minor);
CREATE INDEX bench_order_items_category ON order_items (merchant_id, category, order_id);
CREATE INDEX bench_members_region ON members (merchant_id, region);
