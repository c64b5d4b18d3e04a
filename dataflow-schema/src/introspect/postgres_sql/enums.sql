-- Enum types with their values in sort order.
SELECT n.nspname::text, t.typname::text,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = ANY ($1::text[])
WHERE t.typtype = 'e'
ORDER BY 1, 2
