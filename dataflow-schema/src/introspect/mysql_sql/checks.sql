-- Rows: CheckRow. The placeholder after the join is ` AND cc.TABLE_NAME = tc.TABLE_NAME` on
-- MariaDB, which names a column-level check after its column (its names are per table).
SELECT CAST(tc.TABLE_NAME AS CHAR), CAST(cc.CONSTRAINT_NAME AS CHAR),
       CAST(cc.CHECK_CLAUSE AS CHAR)
FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc
  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME{same_table}
WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND tc.TABLE_SCHEMA = DATABASE()
  AND tc.TABLE_NAME NOT LIKE '\_dataflow\_%'
ORDER BY tc.TABLE_NAME, cc.CONSTRAINT_NAME
