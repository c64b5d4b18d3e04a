-- The requested namespaces that exist. $1 = namespace names.
SELECT n.nspname::text FROM pg_namespace n WHERE n.nspname = ANY ($1::text[]) ORDER BY 1
