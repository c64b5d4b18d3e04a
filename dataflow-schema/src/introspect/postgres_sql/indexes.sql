-- Indexes that no constraint owns. Per key part: the column (NULL for an expression),
-- the expression, and what follows the key (collation, operator class, DESC, NULLS).
-- {…} marks a catalog column some server versions lack (`queries::LATER_CATALOG_COLUMNS`).
SELECT n.nspname::text, c.relname::text, ic.relname::text, i.indisunique, i.indisvalid, am.amname::text,
       pg_get_expr(i.indpred, i.indrelid, true), {pg_index.indnullsnotdistinct},
       coalesce(ic.reloptions, '{}')::text[],
       ARRAY(SELECT a.attname::text FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k(n)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1] ORDER BY k.n),
       parts.columns, parts.expressions, parts.options
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
CROSS JOIN LATERAL (
  SELECT array_agg(a.attname::text ORDER BY k.n) AS columns,
         array_agg(CASE WHEN i.indkey[k.n - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k.n::int, true) END ORDER BY k.n) AS expressions,
         array_agg(concat_ws(' ',
             CASE WHEN pc.oid <> coalesce(a.attcollation, 100) THEN 'COLLATE ' || quote_ident(pc.collname) END,
             CASE WHEN NOT opc.opcdefault THEN quote_ident(opc.opcname) END,
             CASE WHEN (i.indoption[k.n - 1] & 1) = 1 THEN 'DESC' END,
             CASE WHEN (i.indoption[k.n - 1] & 3) = 1 THEN 'NULLS LAST'
                  WHEN (i.indoption[k.n - 1] & 3) = 2 THEN 'NULLS FIRST' END) ORDER BY k.n) AS options
  FROM generate_series(1, i.indnkeyatts) AS k(n)
  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1] AND i.indkey[k.n - 1] <> 0
  LEFT JOIN pg_collation pc ON pc.oid = i.indcollation[k.n - 1]
  LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[k.n - 1]
) parts
WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relname NOT LIKE '\_dataflow\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                  WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
ORDER BY 1, 2, 3
