-- Columns: type as format_type prints it, enum type (or array-of-enum element), identity,
-- generated expression, collation when not the type's, comment, whether the column
-- owns a sequence (with a nextval() default, that is a serial column), and its NOT NULL
-- constraint's name and validity (PostgreSQL 18 keeps them in pg_constraint; older
-- servers have no such rows, and the join finds none).
SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       CASE WHEN t.typtype = 'e' THEN tn.nspname WHEN et.typtype = 'e' THEN etn.nspname END::text,
       CASE WHEN t.typtype = 'e' THEN t.typname WHEN et.typtype = 'e' THEN et.typname END::text,
       coalesce(et.typtype = 'e', false),
       a.attnotnull,
       pg_get_expr(ad.adbin, ad.adrelid),
       nullif(a.attidentity, '')::text,
       nullif(a.attgenerated, '')::text,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END::text,
       d.description,
       os.seqid IS NOT NULL,
       nn.conname::text, nn.convalidated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
LEFT JOIN (SELECT dep.refobjid, dep.refobjsubid, dep.objid AS seqid
           FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
           WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
             AND dep.deptype = 'a' AND dep.refobjsubid > 0) os
       ON os.refobjid = c.oid AND os.refobjsubid = a.attnum
LEFT JOIN pg_constraint nn ON nn.conrelid = c.oid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum
WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relname NOT LIKE '\_dataflow\_%'
  AND a.attname NOT LIKE '\_dataflow\_%'  -- the engine's shadow columns, mid-change
ORDER BY 1, 2, a.attnum
