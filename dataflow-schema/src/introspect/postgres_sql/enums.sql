-- Enum types with their values in sort order (not the engine's trashed _dataflow_* types).
SELECT n.nspname::text, t.typname::text,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = ANY ($1::text[])
WHERE t.typtype = 'e' AND t.typname NOT LIKE '\_dataflow\_%'
ORDER BY 1, 2
