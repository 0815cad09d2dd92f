-- Hostile statements for TestHostileStatements (hostile_test.go) and the
-- seeds of FuzzGate. A line "-- <expect>: <what>" starts an entry; the
-- lines up to the next such line are its statement, byte for byte.
-- <expect> is one of
--   refused   the gate refuses it (errors.Is(err, ErrRefused))
--   harmless  it may fail or run, but reads and writes nothing outside the
--             point's files and the spill directory, connects nowhere and
--             changes no setting
--   stopped   it runs into the session's time limit and says so
--   ok        a legitimate statement that must run
-- Placeholders: {{SECRET}} a file outside the cache whose content must never
-- show, {{OUTSIDE}} a directory outside the cache, {{OTHER}} a cached file
-- this point does not name, {{ALLOWED}} one of the point's own files,
-- {{CACHE}} the cache directory, {{SPILL}} the session's spill directory,
-- {{PORT}} a local TCP port nothing may connect to.
--
-- ==== file reads through every table function that opens files
-- refused: read_csv
SELECT * FROM read_csv('{{SECRET}}')
-- refused: read_csv_auto
SELECT * FROM read_csv_auto('{{SECRET}}', header = false)
-- refused: read_csv with a list of files
SELECT * FROM read_csv(['{{ALLOWED}}', '{{SECRET}}'])
-- refused: read_json
SELECT * FROM read_json('{{SECRET}}')
-- refused: read_json_auto
SELECT * FROM read_json_auto('{{SECRET}}')
-- refused: read_json_objects
SELECT * FROM read_json_objects('{{SECRET}}')
-- refused: read_json_objects_auto
SELECT * FROM read_json_objects_auto('{{SECRET}}')
-- refused: read_ndjson
SELECT * FROM read_ndjson('{{SECRET}}')
-- refused: read_ndjson_auto
SELECT * FROM read_ndjson_auto('{{SECRET}}')
-- refused: read_ndjson_objects
SELECT * FROM read_ndjson_objects('{{SECRET}}')
-- refused: read_parquet
SELECT * FROM read_parquet('{{OTHER}}')
-- refused: parquet_scan
SELECT * FROM parquet_scan('{{OTHER}}')
-- refused: parquet_metadata
SELECT * FROM parquet_metadata('{{OTHER}}')
-- refused: parquet_schema
SELECT * FROM parquet_schema('{{OTHER}}')
-- refused: parquet_file_metadata
SELECT * FROM parquet_file_metadata('{{OTHER}}')
-- refused: parquet_kv_metadata
SELECT * FROM parquet_kv_metadata('{{OTHER}}')
-- refused: parquet_full_metadata
SELECT * FROM parquet_full_metadata('{{OTHER}}')
-- refused: parquet_bloom_probe
SELECT * FROM parquet_bloom_probe('{{OTHER}}', 's', 'x')
-- refused: read_text
SELECT * FROM read_text('{{SECRET}}')
-- refused: read_text of /etc/passwd
SELECT content FROM read_text('/etc/passwd')
-- refused: read_blob
SELECT * FROM read_blob('{{SECRET}}')
-- refused: glob
SELECT * FROM glob('{{OUTSIDE}}/*')
-- refused: glob of the cache
SELECT * FROM glob('{{CACHE}}/**')
-- refused: sniff_csv
SELECT * FROM sniff_csv('{{SECRET}}')
-- refused: read_duckdb
SELECT * FROM read_duckdb('{{OUTSIDE}}/x.duckdb')
-- refused: read_xlsx (no such extension loaded)
SELECT * FROM read_xlsx('{{SECRET}}')
-- refused: iceberg_scan (no such extension loaded)
SELECT * FROM iceberg_scan('{{OUTSIDE}}')
-- refused: delta_scan (no such extension loaded)
SELECT * FROM delta_scan('{{OUTSIDE}}')
-- refused: a point's own file read directly is still a file read
SELECT * FROM read_parquet('{{ALLOWED}}')
-- refused: schema-qualified file reader
SELECT * FROM system.main.read_text('{{SECRET}}')
-- refused: quoted upper-case file reader
SELECT * FROM "READ_TEXT"('{{SECRET}}')
-- refused: file reader in a subquery
SELECT (SELECT count(*) FROM read_text('{{SECRET}}')) AS n
-- refused: file reader in a CTE
WITH s AS (SELECT * FROM read_blob('{{SECRET}}')) SELECT * FROM s
-- refused: file reader in a lateral join
SELECT * FROM range(1) r, LATERAL (SELECT * FROM read_text('{{SECRET}}')) t
-- refused: file reader under DESCRIBE
DESCRIBE SELECT * FROM read_text('{{SECRET}}')
-- refused: file reader under SUMMARIZE
SUMMARIZE SELECT * FROM read_text('{{SECRET}}')
-- refused: file reader in a UNION
SELECT 'x' AS content UNION ALL SELECT content FROM read_text('{{SECRET}}')
-- refused: a reader hidden by the FROM-first syntax
FROM read_text('{{SECRET}}')
-- harmless: replacement scan of a file name
SELECT * FROM '{{SECRET}}'
-- harmless: replacement scan of another cached object
SELECT * FROM '{{OTHER}}'
-- harmless: replacement scan with a glob
SELECT * FROM '{{CACHE}}/objects/*/*.parquet'
-- harmless: replacement scan of a path leaving the spill directory
SELECT * FROM '{{SPILL}}/../../objects/zz/other.parquet'
-- harmless: replacement scan of /etc/passwd as CSV
FROM '/etc/passwd.csv'
-- harmless: replacement scan over HTTP
SELECT * FROM 'http://127.0.0.1:{{PORT}}/x.parquet'
-- refused: read_csv over HTTP
SELECT * FROM read_csv('http://127.0.0.1:{{PORT}}/x.csv')
-- refused: read_parquet over S3
SELECT * FROM read_parquet('s3://127.0.0.1:{{PORT}}/x.parquet')
-- harmless: replacement scan over HTTPS
SELECT * FROM 'https://127.0.0.1:{{PORT}}/x.csv'
-- harmless: replacement scan of hf://
SELECT * FROM 'hf://datasets/x/y.parquet'
-- ==== writes
-- refused: COPY TO
COPY (SELECT 1) TO '{{OUTSIDE}}/copy.csv'
-- refused: COPY TO parquet in the CWD
COPY (SELECT 1 AS a) TO 'hostile-copy.parquet' (FORMAT parquet)
-- refused: COPY FROM
COPY binlake.point FROM '{{SECRET}}'
-- refused: COPY FROM DATABASE
COPY FROM DATABASE memory TO memory
-- refused: EXPORT DATABASE
EXPORT DATABASE '{{OUTSIDE}}/export'
-- refused: IMPORT DATABASE
IMPORT DATABASE '{{OUTSIDE}}'
-- refused: CREATE TABLE AS
CREATE TABLE t AS SELECT 1
-- refused: CREATE TEMP TABLE
CREATE TEMP TABLE t AS SELECT * FROM read_text('{{SECRET}}')
-- refused: CREATE OR REPLACE VIEW over a lake view
CREATE OR REPLACE VIEW shop."all types" AS SELECT 1
-- refused: CREATE MACRO
CREATE MACRO read_parquet(x) AS TABLE SELECT 1
-- refused: CREATE FUNCTION
CREATE FUNCTION f() AS 1
-- refused: CREATE SEQUENCE
CREATE SEQUENCE s
-- refused: CREATE TYPE
CREATE TYPE e AS ENUM ('a')
-- refused: CREATE INDEX
CREATE INDEX i ON binlake.point (seq)
-- refused: CREATE SECRET
CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')
-- refused: CREATE PERSISTENT SECRET
CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')
-- refused: DROP SECRET
DROP SECRET s
-- refused: INSERT
INSERT INTO binlake.point VALUES (1, 1)
-- refused: UPDATE
UPDATE binlake.point SET seq = 0
-- refused: DELETE
DELETE FROM binlake.point
-- refused: TRUNCATE
TRUNCATE binlake.point
-- refused: DROP VIEW
DROP VIEW shop."all types"
-- refused: DROP SCHEMA
DROP SCHEMA shop CASCADE
-- refused: ALTER
ALTER TABLE binlake.point RENAME TO p
-- refused: COMMENT ON
COMMENT ON TABLE binlake.point IS 'x'
-- refused: MERGE
MERGE INTO binlake.point USING (SELECT 1 AS seq) s ON s.seq = point.seq WHEN MATCHED THEN DELETE
-- refused: INSERT … RETURNING in a CTE
WITH x AS (INSERT INTO binlake.point VALUES (1, 1) RETURNING *) SELECT * FROM x
-- refused: CHECKPOINT
CHECKPOINT
-- refused: FORCE CHECKPOINT
FORCE CHECKPOINT
-- refused: checkpoint table function
SELECT * FROM checkpoint()
-- refused: force_checkpoint table function
SELECT * FROM force_checkpoint('memory')
-- refused: VACUUM
VACUUM
-- refused: ANALYZE
ANALYZE
-- ==== ATTACH, DETACH, USE
-- refused: ATTACH a file
ATTACH '{{OUTSIDE}}/attached.duckdb' AS x
-- refused: ATTACH :memory:
ATTACH ':memory:' AS m
-- refused: ATTACH read-only another cached object
ATTACH '{{OTHER}}' AS o (READ_ONLY)
-- refused: ATTACH postgres
ATTACH 'host=127.0.0.1 port={{PORT}}' AS pg (TYPE postgres)
-- refused: ATTACH sqlite
ATTACH '{{SECRET}}' (TYPE sqlite)
-- refused: DETACH
DETACH memory
-- refused: USE
USE system
-- ==== extensions
-- refused: INSTALL
INSTALL httpfs
-- refused: FORCE INSTALL from a local repository
FORCE INSTALL httpfs FROM 'http://127.0.0.1:{{PORT}}'
-- refused: INSTALL from a file
INSTALL '{{OUTSIDE}}/evil.duckdb_extension'
-- refused: LOAD
LOAD httpfs
-- refused: LOAD a file
LOAD '{{OUTSIDE}}/evil.duckdb_extension'
-- refused: UPDATE EXTENSIONS
UPDATE EXTENSIONS
-- refused: duckdb_extensions lists the extension directory
SELECT * FROM duckdb_extensions()
-- ==== settings
-- refused: SET
SET threads = 64
-- refused: SET enable_external_access
SET enable_external_access = true
-- refused: SET allowed_paths
SET allowed_paths = ['/']
-- refused: SET lock_configuration
SET lock_configuration = false
-- refused: SET GLOBAL
SET GLOBAL memory_limit = '100TB'
-- refused: SET SESSION search_path
SET SESSION search_path = 'system'
-- refused: RESET
RESET memory_limit
-- refused: RESET ALL
RESET ALL
-- refused: SET VARIABLE
SET VARIABLE v = 'x'
-- refused: RESET VARIABLE
RESET VARIABLE v
-- refused: PRAGMA
PRAGMA enable_profiling
-- refused: PRAGMA with an argument
PRAGMA memory_limit = '100TB'
-- refused: PRAGMA show_tables
PRAGMA show_tables
-- refused: CALL
CALL pragma_version()
-- refused: CALL enable_logging
CALL enable_logging(storage = 'file', storage_path = '{{OUTSIDE}}/logs')
-- refused: enable_logging as a table function
SELECT * FROM enable_logging(storage = 'file', storage_path = '{{OUTSIDE}}/logs')
-- refused: enable_logging in memory
SELECT * FROM enable_logging()
-- refused: disable_logging
SELECT * FROM disable_logging()
-- refused: truncate_duckdb_logs
SELECT * FROM truncate_duckdb_logs()
-- refused: write_log
SELECT write_log('x')
-- refused: enable_profiling as a table function
SELECT * FROM enable_profiling()
-- refused: disable_profiling
SELECT * FROM disable_profiling()
-- refused: enable_peg_parser switches the parser the gate relies on
SELECT * FROM enable_peg_parser()
-- refused: disable_peg_parser
SELECT * FROM disable_peg_parser()
-- refused: check_peg_parser
SELECT * FROM check_peg_parser('SELECT 1')
-- harmless: set_config does not exist, and would be a setting
SELECT set_config('threads', '9', false)
-- harmless: current_setting reads
SELECT current_setting('allowed_paths'), current_setting('enable_external_access'), current_setting('lock_configuration')
-- harmless: current_setting of a secret that does not exist
SELECT current_setting('s3_secret_access_key')
-- harmless: duckdb_secrets
SELECT * FROM duckdb_secrets()
-- refused: which_secret is not among the allowed table functions
SELECT * FROM which_secret('s3://x/y', 's3')
-- harmless: getenv is the shell's, not the engine's
SELECT getenv('HOME')
-- harmless: getvariable
SELECT getvariable('x')
-- harmless: duckdb_settings
SELECT count(*) FROM duckdb_settings()
-- ==== prepared statements, transactions
-- refused: PREPARE
PREPARE p AS SELECT * FROM read_text('{{SECRET}}')
-- refused: EXECUTE
EXECUTE p
-- refused: DEALLOCATE
DEALLOCATE p
-- refused: BEGIN
BEGIN TRANSACTION
-- refused: COMMIT
COMMIT
-- refused: ROLLBACK
ROLLBACK
-- refused: ABORT
ABORT
-- refused: EXPLAIN
EXPLAIN SELECT 1
-- refused: EXPLAIN ANALYZE
EXPLAIN ANALYZE SELECT * FROM read_text('{{SECRET}}')
-- ==== strings that run SQL
-- refused: query() runs a string
SELECT * FROM query('SELECT * FROM read_text(''{{SECRET}}'')')
-- refused: query() with a COPY
SELECT * FROM query('COPY (SELECT 1) TO ''{{OUTSIDE}}/q.csv''')
-- refused: query() built by concatenation
SELECT * FROM query('SELECT * FROM read_' || 'text(''{{SECRET}}'')')
-- refused: query_table
SELECT * FROM query_table('binlake.point')
-- refused: query_table with a list
SELECT * FROM query_table(['binlake.point', 'shop."all types"'], true)
-- refused: json_execute_serialized_sql
SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM read_text(''{{SECRET}}'')'))
-- refused: PRAGMA json_execute_serialized_sql
PRAGMA json_execute_serialized_sql('x')
-- refused: json_serialize_plan plans a string
SELECT json_serialize_plan('SELECT * FROM enable_peg_parser()')
-- harmless: json_serialize_sql only parses
SELECT json_serialize_sql('COPY (SELECT 1) TO ''{{OUTSIDE}}/j.csv''')
-- refused: arrow_scan takes pointers
SELECT * FROM arrow_scan(1, 2, 3)
-- refused: arrow_scan_dumb takes pointers
SELECT * FROM arrow_scan_dumb(NULL, NULL, NULL)
-- refused: an internal scan
SELECT * FROM seq_scan()
-- ==== several statements in every disguise
-- refused: two SELECTs
SELECT 1; SELECT 2
-- refused: SELECT then COPY
SELECT 1; COPY (SELECT 1) TO '{{OUTSIDE}}/multi.csv'
-- refused: COPY then SELECT
COPY (SELECT 1) TO '{{OUTSIDE}}/multi2.csv'; SELECT 1
-- refused: SET then SELECT
SET enable_external_access = true; SELECT 1
-- refused: a SELECT after a line comment
SELECT 1 -- comment
; ATTACH '{{OUTSIDE}}/c.duckdb'
-- refused: a statement after a block comment holding a semicolon
SELECT 1 /* ; */; COPY (SELECT 1) TO '{{OUTSIDE}}/block.csv'
-- refused: a nested block comment
SELECT 1 /* /* ; */ */; COPY (SELECT 1) TO '{{OUTSIDE}}/nested.csv'
-- refused: an unterminated block comment hiding nothing
SELECT 1; /* COPY (SELECT 1) TO '{{OUTSIDE}}/unterminated.csv'
-- ok: a semicolon inside a string
SELECT ';COPY (SELECT 1) TO ''{{OUTSIDE}}/str.csv'';' AS s
-- ok: a semicolon inside a quoted identifier
SELECT 1 AS "a;COPY (SELECT 1) TO '{{OUTSIDE}}/ident.csv'"
-- ok: a semicolon inside a dollar-quoted string
SELECT $$;COPY (SELECT 1) TO '{{OUTSIDE}}/dollar.csv';$$ AS s
-- ok: a semicolon inside a tagged dollar-quoted string
SELECT $tag$ $$; COPY (SELECT 1) TO '{{OUTSIDE}}/tag.csv'; $$ $tag$ AS s
-- ok: an escape string with a quote and a semicolon
SELECT E'\'; COPY (SELECT 1) TO ''{{OUTSIDE}}/e.csv''; --' AS s
-- refused: a statement after a dollar-quoted string
SELECT $$x$$; COPY (SELECT 1) TO '{{OUTSIDE}}/afterdollar.csv'
-- ok: trailing semicolons
SELECT 1;;;
-- refused: leading empty statements then a write
;;COPY (SELECT 1) TO '{{OUTSIDE}}/lead.csv'
-- refused: a write in a line comment's continuation
SELECT 1 -- \
; COPY (SELECT 1) TO '{{OUTSIDE}}/cont.csv'
-- refused: CR as the line end of a comment
SELECT 1 -- x; COPY (SELECT 1) TO '{{OUTSIDE}}/cr.csv'
-- refused: a no-break space before the semicolon
SELECT 1 ; COPY (SELECT 1) TO '{{OUTSIDE}}/nbsp.csv'
-- refused: an ideographic space between statements
SELECT 1;　COPY (SELECT 1) TO '{{OUTSIDE}}/ideo.csv'
-- refused: a fullwidth semicolon
SELECT 1；COPY (SELECT 1) TO '{{OUTSIDE}}/fullwidth.csv'
-- refused: a Greek question mark (looks like a semicolon)
SELECT 1; COPY (SELECT 1) TO '{{OUTSIDE}}/greek.csv'
-- ok: a byte order mark before a SELECT
﻿SELECT 1 AS bom
-- refused: a byte order mark before a COPY
﻿COPY (SELECT 1) TO '{{OUTSIDE}}/bom.csv'
-- refused: a zero-width space inside a keyword
SEL​ECT 1; COPY (SELECT 1) TO '{{OUTSIDE}}/zwsp.csv'
-- refused: a right-to-left override
SELECT '‮'; COPY (SELECT 1) TO '{{OUTSIDE}}/rtl.csv'
-- ok: unicode identifiers and strings
SELECT 'ü€😀' AS "ü€😀"
-- refused: a lower-case, mixed-case COPY
cOpY (select 1) tO '{{OUTSIDE}}/case.csv'
-- refused: a parenthesised COPY
(COPY (SELECT 1) TO '{{OUTSIDE}}/paren.csv')
-- refused: a PIVOT statement creates types
PIVOT binlake.point ON version USING sum(seq)
-- refused: a SELECT with a trailing garbage statement
SELECT 1; garbage
-- ==== runaway and heavy queries
-- stopped: a huge cross join
SELECT count(*) FROM range(1000000000) a, range(1000000000) b
-- stopped: generate_series cross join
SELECT sum(a.generate_series * b.generate_series) FROM generate_series(1, 100000000) a, generate_series(1, 100000000) b
-- stopped: a recursive CTE that never ends
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r
-- stopped: a recursive CTE with USING KEY
WITH RECURSIVE r(n) USING KEY (n) AS (SELECT 1 UNION SELECT n + 1 FROM r) SELECT count(*) FROM r
-- stopped: sleep_ms
SELECT sleep_ms(600000)
-- harmless: a sort larger than the memory limit spills or fails
SELECT count(*) FROM (SELECT range AS a, md5(range::VARCHAR) AS b FROM range(20000000) ORDER BY b)
-- harmless: a hash aggregate larger than the memory limit
SELECT count(*) FROM (SELECT md5(range::VARCHAR) AS k, count(*) FROM range(20000000) GROUP BY k)
-- harmless: a string_agg of many rows
SELECT length(string_agg(md5(range::VARCHAR), ',')) FROM range(5000000)
-- ==== the lake's own objects stay readable
-- ok: a lake view
SELECT count(*) FROM shop."all types"
-- ok: a lake table macro
SELECT count(*) FROM shop."all types"(4)
-- ok: a lake change feed macro
SELECT count(*) FROM shop."all types_changes"(0, 4)
-- ok: allowed built-ins
SELECT count(*) FROM range(10) a, generate_series(1, 3) b, unnest([1, 2]) c
-- ok: SUMMARIZE a lake view
SUMMARIZE shop."all types"
-- ok: DESCRIBE a lake view
DESCRIBE shop."all types"
-- ok: SHOW TABLES
SHOW TABLES
-- ok: catalog functions
SELECT count(*) FROM duckdb_tables(), duckdb_views() LIMIT 1
-- ok: the session's point
SELECT * FROM binlake.point
-- refused: a lake-looking macro name in the wrong schema
SELECT * FROM binlake.enable_peg_parser()
-- refused: a macro of the point qualified by another catalog
SELECT * FROM system.shop."all types"(4)
