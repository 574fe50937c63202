-- The insight benchmark's segment (bench/insight_segment.json) as a second hand-written query:
-- the same meaning as bench/insight_segment.sql, shaped for index lookups instead of one
-- aggregate over all orders. The cheap member filters (region, LINE consent) go first, then
-- per-member probes of the covering index on orders (bench/insight_peer_indexes.sql): no
-- counted order in the last 60 days, the 365-day spend, and a "tea" item in any order.
-- (With the spend condition true a member has a counted order in the last 365 days, so "no
-- counted order after now - 60 days" is exactly "days_since_last_order >= 60".)
-- bench/insight_bench.cpp and bench/insight_duckdb.mjs run every query file they are given
-- and the benchmark keeps each engine's fastest.
SELECT COUNT(*) AS members
FROM members m
WHERE m.merchant_id = {merchant_id}
  AND m.merged_into IS NULL AND m.erased_at IS NULL
  AND m.region IN ('台北市', '新北市')
  AND EXISTS (SELECT 1 FROM member_consents c
              WHERE c.merchant_id = m.merchant_id AND c.member_id = m.id
                AND c.channel = 'line' AND c.granted = 1)
  AND NOT EXISTS (SELECT 1 FROM orders o
                  WHERE o.merchant_id = m.merchant_id AND o.member_id = m.id
                    AND o.occurred_at > {before_60d} AND o.total_minor > o.refunded_minor)
  AND (SELECT SUM(o.total_minor - o.refunded_minor) FROM orders o
       WHERE o.merchant_id = m.merchant_id AND o.member_id = m.id
         AND o.occurred_at >= {since_365d}) > 500000
  AND EXISTS (SELECT 1 FROM orders o
              JOIN order_items i ON i.merchant_id = o.merchant_id AND i.order_id = o.id
              WHERE o.merchant_id = m.merchant_id AND o.member_id = m.id
                AND i.category = 'tea');
