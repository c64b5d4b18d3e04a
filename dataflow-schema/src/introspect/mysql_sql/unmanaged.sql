-- Rows: one description per object outside dataflow's scope (views, triggers).
SELECT CAST(CONCAT('view ', TABLE_NAME) AS CHAR)
FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL SELECT CAST(CONCAT('trigger ', TRIGGER_NAME) AS CHAR)
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1
