-- Free-standing sequences (not owned by a serial or identity column).
SELECT n.nspname::text, c.relname::text, s.seqstart, s.seqincrement
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep
                  WHERE dep.objid = c.oid AND dep.classid = 'pg_class'::regclass
                    AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0)
ORDER BY 1, 2
