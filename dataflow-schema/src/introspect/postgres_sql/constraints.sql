-- Primary keys, unique, check, foreign-key and exclusion constraints. The definition is
-- read only for check and exclusion constraints (the rest is structured). {…} marks a
-- catalog column some server versions lack (see `queries::LATER_CATALOG_COLUMNS`).
SELECT n.nspname::text, c.relname::text, con.conname::text, con.contype::text,
       CASE WHEN con.contype IN ('c', 'x') THEN pg_get_constraintdef(con.oid, true) END,
       con.convalidated, con.condeferrable, con.condeferred, con.connoinherit,
       con.confmatchtype = 'f',
       coalesce({pg_index.indnullsnotdistinct}, false), {pg_constraint.conenforced}, {pg_constraint.conperiod},
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord),
       con.confdeltype::text, con.confupdtype::text
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
LEFT JOIN pg_index i ON i.indexrelid = con.conindid
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'c', 'f', 'x')
  AND c.relkind = 'r' AND NOT c.relispartition AND c.relname NOT LIKE '\_dataflow\_%'
ORDER BY 1, 2, 3
