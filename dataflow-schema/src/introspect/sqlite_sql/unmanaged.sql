-- Rows: one description per object outside dataflow's scope (views, triggers).
SELECT type || ' ' || name FROM sqlite_schema WHERE type IN ('view', 'trigger') ORDER BY type, name
