-- Rows: TableRow (without the row count). The engine's own tables are hidden.
SELECT name, sql FROM sqlite_schema
WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND name NOT LIKE '\_dataflow\_%' ESCAPE '\'
ORDER BY name
