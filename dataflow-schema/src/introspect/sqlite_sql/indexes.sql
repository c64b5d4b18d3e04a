-- Rows: IndexRow.
SELECT m.name, il.name, il."unique", il.origin, il.partial, s.sql
FROM sqlite_schema m JOIN pragma_index_list(m.name) il
LEFT JOIN sqlite_schema s ON s.type = 'index' AND s.name = il.name
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND m.name NOT LIKE '\_dataflow\_%' ESCAPE '\'
ORDER BY m.name, il.name
