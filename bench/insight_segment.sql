-- The insight benchmark's segment (bench/insight_segment.json) as one query, written the way a
-- DBA would for SQLite, PostgreSQL and DuckDB alike (the same text runs on all three):
--   spent more than NT$5,000 net in the last 365 days, no order in the last 60 days, ever bought
--   a "tea" item, lives in 台北市 or 新北市, and has granted LINE marketing consent.
-- Meaning as in src/insight/segment_sql.h: an order counts for the last order when its net is
-- above zero; every order (refunded or not) counts as a purchase for the category; a window of N
-- days keeps orders at or after now - N days. bench/insight_bench.cpp and
-- bench/insight_duckdb.mjs replace {merchant_id}, {since_365d} and {before_60d} (micros) before
-- running it. Indexes it is written for: bench/insight_peer_indexes.sql.
WITH spend AS (
  SELECT member_id,
         SUM(CASE WHEN occurred_at >= {since_365d} THEN total_minor - refunded_minor ELSE 0 END)
           AS spend_365d,
         MAX(CASE WHEN total_minor - refunded_minor > 0 THEN occurred_at END) AS last_order_at
  FROM orders
  WHERE merchant_id = {merchant_id} AND member_id IS NOT NULL
  GROUP BY member_id
),
tea AS (
  SELECT DISTINCT o.member_id
  FROM order_items i
  JOIN orders o ON o.merchant_id = i.merchant_id AND o.id = i.order_id
  WHERE i.merchant_id = {merchant_id} AND i.category = 'tea' AND o.member_id IS NOT NULL
)
SELECT COUNT(*) AS members
FROM members m
JOIN spend s ON s.member_id = m.id
WHERE m.merchant_id = {merchant_id}
  AND m.merged_into IS NULL AND m.erased_at IS NULL
  AND m.region IN ('台北市', '新北市')
  AND s.spend_365d > 500000
  AND s.last_order_at <= {before_60d}
  AND m.id IN (SELECT member_id FROM tea)
  AND EXISTS (SELECT 1 FROM member_consents c
              WHERE c.merchant_id = m.merchant_id AND c.member_id = m.id
                AND c.channel = 'line' AND c.granted = 1);
