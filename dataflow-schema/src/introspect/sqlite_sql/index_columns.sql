-- Rows: IndexColumnRow.
SELECT il.name, ix.name, ix."desc", ix.coll
FROM sqlite_schema m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) ix
WHERE m.type = 'table' AND ix.key = 1 AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND m.name NOT LIKE '\_dataflow\_%' ESCAPE '\'
ORDER BY il.name, ix.seqno
