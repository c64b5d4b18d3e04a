-- Tables of the namespaces $1 (not partitions, not the engine's own _dataflow_* tables),
-- with their statistics: row estimate and size from pages (no file-system calls).
SELECT n.nspname::text, c.relname::text, c.reltuples::float8,
       ((c.relpages + coalesce(t.relpages, 0) + coalesce(ix.pages, 0))::bigint
         * current_setting('block_size')::bigint)::int8,
       d.description
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN (SELECT i.indrelid, sum(ic.relpages) AS pages
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid GROUP BY i.indrelid) ix
       ON ix.indrelid = c.oid
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relname NOT LIKE '\_dataflow\_%'
ORDER BY 1, 2
