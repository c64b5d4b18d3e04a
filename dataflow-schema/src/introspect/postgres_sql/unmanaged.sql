-- Objects dataflow does not manage, for the warning: views, materialized views, foreign
-- and partitioned tables, partitions, functions, triggers, policies, extensions.
SELECT o.description FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view '
                        WHEN 'f' THEN 'foreign table ' ELSE 'partitioned table ' END
         || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS description
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
  WHERE c.relkind IN ('v', 'm', 'f', 'p')
  UNION ALL
  SELECT 'partition ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
  WHERE c.relkind = 'r' AND c.relispartition
  UNION ALL
  SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = ANY ($1::text[])
  WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'trigger ' || quote_ident(tg.tgname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
  WHERE NOT tg.tgisinternal
  UNION ALL
  SELECT 'policy ' || quote_ident(pol.polname) || ' on ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'extension ' || quote_ident(e.extname)
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace AND n.nspname = ANY ($1::text[])
) o ORDER BY 1
