// Package mysql is the MySQL/MariaDB source: binlog events and snapshot reads
// decoded into tableformat rows.
//
// It implements ingest's Source and Rereader and checks a server's
// prerequisites (binlake check). It may import tableformat and ingest, whose
// interfaces it implements, never query, compaction or cmd; only connectors/
// import go-mysql, and nothing but cmd imports a connector (internal/archtest
// checks these). Read further: the initial snapshot and re-snapshots,
// docs/snapshot.md; the types, docs/types.md; why the layering:
// docs/design.md, Layering.
//
// # Decoding contract
//
// Row values reach the lake through one of two paths that must agree value
// for value (docs/design.md, Types):
//
//   - the binlog: go-mysql's replication.BinlogSyncer decodes row events; its
//     values go through DecodeBinlogValue. The syncer must be configured as
//     SyncerConfig does: decimals as strings (UseDecimal false), temporal
//     values as strings (ParseTime false) and TIMESTAMP strings rendered in UTC
//     (TimestampStringLocation = time.UTC), so no value depends on the zone of
//     the process.
//   - the initial snapshot: SELECT over the text protocol, each raw field
//     through DecodeSnapshotValue. The snapshot session must run
//     SnapshotSessionSetup first (time_zone '+00:00' so TIMESTAMP text is UTC;
//     character_set_results NULL so text arrives in the column's own charset
//     and is converted by the same code as binlog text) and select each
//     column with SnapshotSelectExpr (FLOAT text is rounded to 6 digits by
//     the server; its exact value needs CAST(… AS DOUBLE)).
//
// Zero and invalid dates ('0000-00-00', '2020-00-00', '2020-02-31' under
// ALLOW_INVALID_DATES, zero DATETIME/TIMESTAMP) decode to nil together with
// ErrZeroDate: the caller stores NULL and counts the value (docs/types.md,
// Corner cases).
//
// # What a TableMap event gives
//
// With binlog_row_metadata=FULL a TableMap event names every column, its
// wire type and type metadata (DECIMAL precision and scale, fractional
// second digits, maximum byte length of CHAR/VARCHAR/BINARY, BLOB/TEXT pack
// length, BIT width), nullability, signedness of numeric columns, the
// collation id of every character, ENUM and SET column, ENUM/SET labels and
// the primary key in key order (with prefix lengths). It does not give column
// defaults, AUTO_INCREMENT, comments, invisible-column or generated-column
// flags (MariaDB), unique keys other than the primary key, the declared
// display width or ZEROFILL, TINYTEXT vs TEXT vs MEDIUMTEXT beyond the pack
// length, or the difference between MariaDB's JSON (an alias of LONGTEXT
// with a json_valid CHECK) and LONGTEXT: ColumnsFromTableMap reports such a
// column as text; schema history from DDL or information_schema must mark
// it KindJSON. Nor does it tell MariaDB's UUID, INET6 and INET4 from
// BINARY(16) and BINARY(4): the source learns those types from DDL and
// information_schema (binarytypes.go).
package mysql
