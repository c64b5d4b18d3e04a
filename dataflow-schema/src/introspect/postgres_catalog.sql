-- dataflow: the whole PostgreSQL catalog read of the given namespaces, in ONE query that
-- returns one JSON document, so introspection costs one round trip whatever the table
-- count. $1 = namespace names (text[]). Tables named _dataflow_* are the engine's own
-- and are left out. Row shape: see `introspect/postgres.rs` (Catalog).
WITH nsp AS (
    SELECT n.oid, n.nspname FROM pg_namespace n WHERE n.nspname = ANY ($1::text[])
),
rels AS (
    SELECT c.oid, n.nspname, c.relname, c.reltuples, c.relpages, c.reltoastrelid
    FROM pg_class c
    JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r'
      AND NOT c.relispartition
      AND c.relname NOT LIKE '\_dataflow\_%'
),
comments AS (
    -- Table and column comments in one pass (obj_description() would query per call).
    SELECT d.objoid, d.objsubid, d.description
    FROM pg_description d JOIN rels r ON r.oid = d.objoid
    WHERE d.classoid = 'pg_class'::regclass
),
owned_sequences AS (
    -- Columns that own a sequence (serial): one pass over pg_depend.
    SELECT dep.refobjid AS relid, dep.refobjsubid AS attnum, dep.objid AS seqid
    FROM pg_depend dep
    JOIN rels r ON r.oid = dep.refobjid
    JOIN pg_class seq ON seq.oid = dep.objid AND seq.relkind = 'S'
    WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
      AND dep.deptype = 'a' AND dep.refobjsubid > 0
)
SELECT json_build_object(
  'namespaces', (SELECT coalesce(json_agg(nspname ORDER BY nspname), '[]') FROM nsp),
  'tables', (
    SELECT coalesce(json_agg(json_build_array(  -- positional: TableRow's field order
        /* schema */ r.nspname,
        /* name */ r.relname,
        /* rows */ r.reltuples,
        -- Size from the statistics, like the row estimate (no file-system calls): heap,
        -- toast and index pages.
        /* bytes */ (r.relpages + coalesce(t.relpages, 0) + coalesce(ix.pages, 0))::bigint
                 * current_setting('block_size')::bigint,
        /* comment */ cm.description
      ) ORDER BY r.nspname, r.relname), '[]')
    FROM rels r
    LEFT JOIN pg_class t ON t.oid = r.reltoastrelid
    LEFT JOIN (SELECT i.indrelid, sum(ic.relpages) AS pages
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid GROUP BY i.indrelid) ix
           ON ix.indrelid = r.oid
    LEFT JOIN comments cm ON cm.objoid = r.oid AND cm.objsubid = 0
  ),
  'columns', (
    SELECT coalesce(json_agg(json_build_array(  -- positional: ColumnRow's field order
        /* schema */ r.nspname,
        /* table */ r.relname,
        /* name */ a.attname,
        /* type */ format_type(a.atttypid, a.atttypmod),
        /* enum_schema */ CASE WHEN t.typtype = 'e' THEN tn.nspname WHEN et.typtype = 'e' THEN etn.nspname END,
        /* enum_name */ CASE WHEN t.typtype = 'e' THEN t.typname WHEN et.typtype = 'e' THEN et.typname END,
        /* enum_array */ et.typtype = 'e',
        /* not_null */ a.attnotnull,
        /* default */ pg_get_expr(d.adbin, d.adrelid),
        /* identity */ nullif(a.attidentity, ''),
        /* generated */ nullif(a.attgenerated, ''),
        /* collation */ CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
        /* comment */ cm.description,
        /* owns_sequence */ os.seqid IS NOT NULL AND d.adbin IS NOT NULL
              AND pg_get_expr(d.adbin, d.adrelid) = 'nextval(''' || (os.seqid::regclass)::text || '''::regclass)'
      ) ORDER BY r.nspname, r.relname, a.attnum), '[]')
    FROM rels r
    JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    JOIN pg_namespace tn ON tn.oid = t.typnamespace
    LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
    LEFT JOIN pg_namespace etn ON etn.oid = et.typnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    LEFT JOIN comments cm ON cm.objoid = r.oid AND cm.objsubid = a.attnum
    LEFT JOIN owned_sequences os ON os.relid = r.oid AND os.attnum = a.attnum
  ),
  'constraints', (
    SELECT coalesce(json_agg(json_build_array(  -- positional: ConstraintRow's field order
        /* schema */ r.nspname,
        /* table */ r.relname,
        /* name */ con.conname,
        /* kind */ con.contype,
        /* definition */ CASE WHEN con.contype IN ('c', 'x') THEN pg_get_constraintdef(con.oid, true) END,
        /* validated */ con.convalidated,
        /* deferrable */ con.condeferrable,
        /* deferred */ con.condeferred,
        /* no_inherit */ con.connoinherit,
        /* match_full */ con.confmatchtype = 'f',
        /* nulls_not_distinct */ coalesce((SELECT ci.indnullsnotdistinct FROM pg_index ci WHERE ci.indexrelid = con.conindid), false),
        /* columns */ (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
                    FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num),
        /* ref_schema */ fn.nspname,
        /* ref_table */ fc.relname,
        /* ref_columns */ (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
                        FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num),
        /* on_delete */ con.confdeltype,
        /* on_update */ con.confupdtype
      ) ORDER BY r.nspname, r.relname, con.conname), '[]')
    FROM pg_constraint con
    JOIN rels r ON r.oid = con.conrelid
    LEFT JOIN pg_class fc ON fc.oid = con.confrelid
    LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE con.contype IN ('p', 'u', 'c', 'f', 'x')
  ),
  'indexes', (
    SELECT coalesce(json_agg(json_build_array(  -- positional: IndexRow's field order
        /* schema */ r.nspname,
        /* table */ r.relname,
        /* name */ ic.relname,
        /* unique */ i.indisunique,
        /* valid */ i.indisvalid,
        /* method */ am.amname,
        /* predicate */ pg_get_expr(i.indpred, i.indrelid, true),
        /* nulls_not_distinct */ i.indnullsnotdistinct,
        /* with */ coalesce(to_json(ic.reloptions), '[]'),
        /* include */ (SELECT coalesce(json_agg(a.attname ORDER BY k.n), '[]')
                    FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k(n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1]),
        /* parts */ (SELECT json_agg(json_build_object(
                      'column', a.attname,
                      'expression', CASE WHEN i.indkey[k.n - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k.n::int, true) END,
                      -- What follows the key: collation, operator class, order, NULLS placement.
                      'options', concat_ws(' ',
                          CASE WHEN pc.oid <> coalesce(a.attcollation, 100) THEN 'COLLATE ' || quote_ident(pc.collname) END,
                          CASE WHEN NOT opc.opcdefault THEN quote_ident(opc.opcname) END,
                          CASE WHEN (i.indoption[k.n - 1] & 1) = 1 THEN 'DESC' END,
                          CASE WHEN (i.indoption[k.n - 1] & 3) = 1 THEN 'NULLS LAST'
                               WHEN (i.indoption[k.n - 1] & 3) = 2 THEN 'NULLS FIRST' END)
                    ) ORDER BY k.n)
                  FROM generate_series(1, i.indnkeyatts) AS k(n)
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1] AND i.indkey[k.n - 1] <> 0
                  LEFT JOIN pg_collation pc ON pc.oid = i.indcollation[k.n - 1]
                  LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[k.n - 1])
      ) ORDER BY r.nspname, r.relname, ic.relname), '[]')
    FROM pg_index i
    JOIN rels r ON r.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    WHERE NOT EXISTS (SELECT 1 FROM pg_constraint con
                      WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
  ),
  'enums', (
    SELECT coalesce(json_agg(json_build_object(
        'schema', n.nspname,
        'name', t.typname,
        'values', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
      ) ORDER BY n.nspname, t.typname), '[]')
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
    WHERE t.typtype = 'e'
  ),
  'sequences', (
    SELECT coalesce(json_agg(json_build_object(
        'schema', n.nspname,
        'name', c.relname,
        'start', s.seqstart,
        'increment', s.seqincrement
      ) ORDER BY n.nspname, c.relname), '[]')
    FROM pg_sequence s
    JOIN pg_class c ON c.oid = s.seqrelid
    JOIN nsp n ON n.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep
                      WHERE dep.objid = c.oid AND dep.classid = 'pg_class'::regclass
                        AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0)
  ),
  'unmanaged', (
    SELECT coalesce(json_agg(o.description ORDER BY o.description), '[]') FROM (
      SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view '
                            WHEN 'f' THEN 'foreign table ' ELSE 'partitioned table ' END
             || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS description
      FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm', 'f', 'p')
      UNION ALL
      SELECT 'partition ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
      FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relispartition
      UNION ALL
      SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
      FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
      UNION ALL
      SELECT 'trigger ' || quote_ident(tg.tgname) || ' on ' || quote_ident(r.nspname) || '.' || quote_ident(r.relname)
      FROM pg_trigger tg JOIN rels r ON r.oid = tg.tgrelid WHERE NOT tg.tgisinternal
      UNION ALL
      SELECT 'policy ' || quote_ident(pol.polname) || ' on ' || quote_ident(r.nspname) || '.' || quote_ident(r.relname)
      FROM pg_policy pol JOIN rels r ON r.oid = pol.polrelid
      UNION ALL
      SELECT 'extension ' || quote_ident(e.extname)
      FROM pg_extension e JOIN nsp n ON n.oid = e.extnamespace

    ) o
  )
)::text AS catalog
