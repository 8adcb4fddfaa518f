// Go's pgx v4 (Debian golang-github-jackc-pgx-v4-dev 4.15, pgconn 1.x, binary format) through
// pgro. Run by pgro_client_env in transaction and session pooling: PG* point at pgro,
// PGRO_DIRECT_* at PostgreSQL itself. Built in GOPATH mode by tests/clients/CMakeLists.txt
// (no module downloads).
//
// Tried, and expected to work (one function each below):
//   - the statement cache in its three settings, each used many times with two statement
//     shapes: statement_cache_mode=prepare (default: named lrupsc_* statements, Bind by
//     name), statement_cache_mode=describe (Parse "" + Describe + Sync once, then
//     Parse/Bind/Describe/Execute each time) and statement_cache_capacity=0 (Parse "" +
//     Describe + Sync, then Bind "" + Execute + Sync: the unnamed statement across Syncs);
//     conn.Prepare by name; prefer_simple_protocol and the QuerySimpleProtocol option;
//     SendBatch (many queries, one Sync)
//   - every fixture type in binary format: raw wire bytes and decoded values through pgro
//     equal to direct; parameters of Go types encoded in binary
//   - conn.Begin / nested tx.Begin (SAVEPOINT sp_1) with an error and a write rolled back to
//     the savepoint; BeginTx with AccessMode ReadWrite (BEGIN ... READ WRITE: the transaction
//     stays read-only through pgro), ReadOnly, RepeatableRead
//   - 100k rows streamed (binary int4/text/numeric), checksummed; COPY big TO STDOUT equal
//     to direct
//   - errors then recovery (22012, 42P01, 42601, 22P02), writes refused with 25006
//   - context timeout (pgconn closes the connection and sends a CancelRequest: the backend
//     stops) and PgConn.CancelRequest from another goroutine (57014, connection usable)
//   - DISCARD ALL / DEALLOCATE ALL / DISCARD PLANS drop this client's statements and
//     settings, as on PostgreSQL, and nothing of another client's
//   - metadata: FieldDescriptions (table OID, attribute number, type OID/size/modifier,
//     format) and StatementDescription parameter OIDs equal to direct; catalog queries
//   - 20 connections at once (five each in the four statement modes) and a pgxpool of 20,
//     each asking for rows that depend on its own parameters, every row checked
//
// Not tried: CopyFrom (a write), LISTEN/NOTIFY (no session under transaction pooling),
// large objects (writes).
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgtype"
	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

var (
	passed, failed []string
	poolMode       = os.Getenv("PGRO_POOL_MODE")
	bg             = context.Background()
)

// checkFailure carries a failed check through panic to run(), so a check reads top to bottom.
type checkFailure struct{ msg string }

func check(cond bool, format string, args ...interface{}) {
	if !cond {
		panic(checkFailure{fmt.Sprintf(format, args...)})
	}
}

func must(err error, what string) {
	if err != nil {
		panic(checkFailure{fmt.Sprintf("%s: %v", what, err)})
	}
}

func run(name string, fn func()) {
	start := time.Now()
	ok := func() (ok bool) {
		defer func() {
			if r := recover(); r != nil {
				if f, isCheck := r.(checkFailure); isCheck {
					fmt.Fprintf(os.Stderr, "FAILED %s\n  %s\n", name, f.msg)
				} else {
					fmt.Fprintf(os.Stderr, "FAILED %s\n  panic: %v\n", name, r)
				}
				ok = false
			}
		}()
		fn()
		return true
	}()
	if ok {
		passed = append(passed, name)
		fmt.Printf("ok     %s (%.2fs)\n", name, time.Since(start).Seconds())
	} else {
		failed = append(failed, name)
	}
}

func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func connString(direct bool, extra string) string {
	prefix, db := "PG", "PGDATABASE"
	if direct {
		prefix, db = "PGRO_DIRECT_", "PGRO_DIRECT_DATABASE"
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable %s",
		quote(os.Getenv(prefix+"HOST")), quote(os.Getenv(prefix+"PORT")),
		quote(os.Getenv(prefix+"USER")), quote(os.Getenv(prefix+"PASSWORD")),
		quote(os.Getenv(db)), extra)
}

func connect(direct bool, extra string) *pgx.Conn {
	conn, err := pgx.Connect(bg, connString(direct, extra))
	must(err, "connect "+extra)
	return conn
}

func proxy(extra string) *pgx.Conn { return connect(false, extra) }
func direct() *pgx.Conn            { return connect(true, "") }

// The four ways pgx v4 runs a query with arguments.
var statementModes = []struct{ name, params string }{
	{"prepare", ""},
	{"describe", "statement_cache_mode=describe"},
	{"unnamed", "statement_cache_capacity=0"},
	{"simple", "prefer_simple_protocol=true"},
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func expectCode(code string, err error, what string) {
	check(err != nil, "%s: expected SQLSTATE %s, got success", what, code)
	check(sqlState(err) == code, "%s: expected SQLSTATE %s, got %s (%v)", what, code, sqlState(err), err)
}

// allRows returns each row's raw wire values (hex) and decoded values (%v).
func allRows(conn *pgx.Conn, sql string, args ...interface{}) (raw, decoded []string) {
	rows, err := conn.Query(bg, sql, args...)
	must(err, sql)
	defer rows.Close()
	for rows.Next() {
		raw = append(raw, fmt.Sprintf("%x", rows.RawValues()))
		vals, err := rows.Values()
		must(err, sql+": Values")
		decoded = append(decoded, fmt.Sprintf("%v", vals))
	}
	must(rows.Err(), sql)
	return raw, decoded
}

func statementCacheModes() {
	for _, m := range statementModes {
		conn := proxy(m.params)
		for i := 0; i < 150; i++ {
			var n, echo, first int
			must(conn.QueryRow(bg, "SELECT count(*)::int, $1::int, min(id) FROM big WHERE grp = $2", i, i%100).
				Scan(&n, &echo, &first), fmt.Sprintf("%s run %d", m.name, i))
			want := i % 100
			if want == 0 {
				want = 100
			}
			check(n == 1000 && echo == i && first == want, "%s run %d: %d %d %d", m.name, i, n, echo, first)
			var a string
			var b float64
			must(conn.QueryRow(bg, "SELECT $1::text || '-a', $2::float8 / 2", fmt.Sprint(i), float64(i)).Scan(&a, &b),
				m.name+" second shape")
			check(a == fmt.Sprintf("%d-a", i) && b == float64(i)/2, "%s second shape: %q %v", m.name, a, b)
		}
		// A cached statement that errors, then is reused.
		var v int
		expectCode("22012", conn.QueryRow(bg, "SELECT 100 / $1::int", 0).Scan(&v), m.name+" div 0")
		must(conn.QueryRow(bg, "SELECT 100 / $1::int", 5).Scan(&v), m.name+" reuse after error")
		check(v == 20, "%s div %d", m.name, v)
		must(conn.Close(bg), "close")
	}
	conn := proxy("")
	defer conn.Close(bg)
	sd, err := conn.Prepare(bg, "by_name", "SELECT $1::int * 3, label FROM big WHERE id = $1")
	must(err, "Prepare by_name")
	check(len(sd.ParamOIDs) == 1 && sd.ParamOIDs[0] == pgtype.Int4OID && len(sd.Fields) == 2, "description %+v", sd)
	for i := 1; i <= 60; i++ {
		var v int
		var label string
		must(conn.QueryRow(bg, "by_name", i).Scan(&v, &label), "by_name")
		check(v == 3*i && label == fmt.Sprintf("row-%d", i), "by_name %d: %d %q", i, v, label)
	}
	for i := 0; i < 20; i++ {
		var s string
		must(conn.QueryRow(bg, "SELECT $1::text || '!'", pgx.QuerySimpleProtocol(true), "it's").Scan(&s), "simple option")
		check(s == "it's!", "simple option %q", s)
	}
	must(conn.Deallocate(bg, "by_name"), "Deallocate")
	var v int
	must(conn.QueryRow(bg, "SELECT 1").Scan(&v), "after Deallocate")

	batch := &pgx.Batch{}
	for i := 0; i < 50; i++ {
		batch.Queue("SELECT $1::int, count(*)::int FROM big WHERE grp = $2", i, i)
	}
	results := conn.SendBatch(bg, batch)
	for i := 0; i < 50; i++ {
		var echo, n int
		must(results.QueryRow().Scan(&echo, &n), "batch row")
		check(echo == i && n == 1000, "batch %d: %d %d", i, echo, n)
	}
	must(results.Close(), "batch close")
}

func typesBinaryRoundTrip() {
	p, d := proxy(""), direct()
	defer p.Close(bg)
	defer d.Close(bg)
	for _, q := range []struct {
		sql  string
		args []interface{}
	}{{"SELECT * FROM typed ORDER BY id", nil}, {"SELECT * FROM typed WHERE id > $1 ORDER BY id", []interface{}{0}},
		{"SELECT 'NaN'::numeric, '-Infinity'::float4, 1e308::float8, 'infinity'::timestamptz, '{{1,2},{3,4}}'::int[]," +
			" 'x'::char(3), 12::oid, '1.2.3.4/32'::inet, '(1,2)'::point, B'1010'::bit(4), '1 day'::interval * $1",
			[]interface{}{int32(3)}}} {
		pr, pv := allRows(p, q.sql, q.args...)
		dr, dv := allRows(d, q.sql, q.args...)
		check(len(pr) > 0 && reflect.DeepEqual(pr, dr), "%s raw:\n proxy  %v\n direct %v", q.sql, pr, dr)
		check(reflect.DeepEqual(pv, dv), "%s decoded:\n proxy  %v\n direct %v", q.sql, pv, dv)
	}
	rows, err := p.Query(bg, "SELECT * FROM typed ORDER BY id")
	must(err, "typed")
	binary := map[string]bool{}
	for _, f := range rows.FieldDescriptions() {
		binary[string(f.Name)] = f.Format == pgx.BinaryFormatCode
	}
	rows.Close()
	for _, name := range []string{"c_int", "c_bigint", "c_numeric", "c_float8", "c_bytea", "c_bool", "c_date",
		"c_timestamptz", "c_interval", "c_uuid", "c_int_arr", "c_text_arr"} {
		check(binary[name], "column %s not fetched in binary format: %v", name, binary)
	}
	var big int64
	var f8 float64
	var bytea []byte
	var ints []*int32
	var texts []*string
	var uuid [16]byte
	var js map[string]interface{}
	must(p.QueryRow(bg, "SELECT c_bigint, c_float8, c_bytea, c_int_arr, c_text_arr, c_uuid, c_jsonb FROM typed"+
		" WHERE id = $1", 2).Scan(&big, &f8, &bytea, &ints, &texts, &uuid, &js), "row 2")
	check(big == math.MaxInt64 && math.IsNaN(f8) && bytes.Equal(bytea, []byte{0, 0xff, 0x10}), "row 2 %d %v %x",
		big, f8, bytea)
	check(len(ints) == 3 && ints[1] == nil && *ints[2] == 3 && len(texts) == 4 && texts[1] == nil && *texts[3] == `"q"` && uuid == [16]byte{} && js["b"] == 1.0,
		"row 2 arrays/uuid/json %v %v %v", texts, uuid, js)

	when := time.Date(2024, 2, 29, 1, 2, 3, 456789000, time.UTC)
	args := []interface{}{int16(-7), int32(math.MinInt32), int64(math.MaxInt64), float32(1.5), math.Inf(-1),
		"it's \"quoted\" \\ tab\t\u00e9\u2713", []byte{0, 1, 0xff}, true, when, time.Duration(90 * time.Second),
		[]int64{1, 2, 3}, []string{"a", "b,c", ""}, map[string]interface{}{"k": []interface{}{1.0, "two", nil}},
		[16]byte{1, 2, 3}, nil}
	casts := []string{"int2", "int4", "int8", "float4", "float8", "text", "bytea", "bool", "timestamptz", "interval",
		"int8[]", "text[]", "jsonb", "uuid", "text"}
	var parts []string
	for i, c := range casts {
		parts = append(parts, fmt.Sprintf("$%d::%s", i+1, c))
	}
	sql := "SELECT " + strings.Join(parts, ", ")
	pr, pv := allRows(p, sql, args...)
	dr, dv := allRows(d, sql, args...)
	check(len(pr) == 1 && reflect.DeepEqual(pr, dr) && reflect.DeepEqual(pv, dv), "parameters:\n proxy  %v\n direct %v",
		pv, dv)
	var gotWhen time.Time
	var gotText string
	var gotBytes []byte
	must(p.QueryRow(bg, "SELECT $1::timestamptz, $2::text, $3::bytea", when, args[5], args[6]).
		Scan(&gotWhen, &gotText, &gotBytes), "scan back")
	check(gotWhen.Equal(when) && gotText == args[5] && bytes.Equal(gotBytes, []byte{0, 1, 0xff}), "round trip %v %q %x",
		gotWhen, gotText, gotBytes)
}

func transactionSavepoint() {
	conn := proxy("")
	defer conn.Close(bg)
	tx, err := conn.Begin(bg)
	must(err, "Begin")
	defer tx.Rollback(bg)
	var pid1, pid2 uint32
	must(tx.QueryRow(bg, "SELECT pg_backend_pid()").Scan(&pid1), "pid")
	var n int
	must(tx.QueryRow(bg, "SELECT count(*)::int FROM big WHERE grp = $1", 3).Scan(&n), "count")
	must(tx.QueryRow(bg, "SELECT pg_backend_pid()").Scan(&pid2), "pid again")
	check(pid1 == pid2 && n == 1000, "one backend per transaction %d %d", pid1, pid2)
	sp, err := tx.Begin(bg) // savepoint sp_1
	must(err, "nested Begin (SAVEPOINT)")
	_, err = sp.Exec(bg, "SELECT 1/0")
	expectCode("22012", err, "error inside savepoint")
	expectCode("25P02", sp.QueryRow(bg, "SELECT 1").Scan(&n), "aborted")
	must(sp.Rollback(bg), "ROLLBACK TO SAVEPOINT")
	must(tx.QueryRow(bg, "SELECT count(*)::int FROM app.events WHERE kind = $1", "kind-1").Scan(&n), "after rollback")
	check(n == 17, "events %d", n)
	sp, err = tx.Begin(bg)
	must(err, "second savepoint")
	_, err = sp.Exec(bg, "DELETE FROM big WHERE id = $1", 1)
	expectCode("25006", err, "write inside savepoint")
	must(sp.Rollback(bg), "ROLLBACK TO after write")
	must(tx.BeginFunc(bg, func(inner pgx.Tx) error {
		return inner.QueryRow(bg, "SELECT 2").Scan(&n)
	}), "BeginFunc (SAVEPOINT + RELEASE)")
	must(tx.Commit(bg), "Commit")
}

// BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE: accepted, and still read-only through pgro.
func beginReadWrite() {
	conn := proxy("")
	defer conn.Close(bg)
	tx, err := conn.BeginTx(bg, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadWrite})
	must(err, "BeginTx read write")
	var iso, ro string
	must(tx.QueryRow(bg, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").
		Scan(&iso, &ro), "settings")
	check(iso == "repeatable read" && ro == "on", "isolation %s, read only %s", iso, ro)
	_, err = tx.Exec(bg, "INSERT INTO big VALUES (100001, 1, 'x', 1)")
	expectCode("25006", err, "write in READ WRITE transaction")
	must(tx.Rollback(bg), "Rollback")
}

func readOnlyTransaction() {
	conn := proxy("")
	defer conn.Close(bg)
	err := conn.BeginTxFunc(bg, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly,
		DeferrableMode: pgx.Deferrable}, func(tx pgx.Tx) error {
		var iso string
		if err := tx.QueryRow(bg, "SHOW transaction_isolation").Scan(&iso); err != nil {
			return err
		}
		if iso != "serializable" {
			return fmt.Errorf("isolation %s", iso)
		}
		sp, err := tx.Begin(bg)
		if err != nil {
			return err
		}
		if _, err := sp.Exec(bg, "SELECT * FROM no_such_table"); sqlState(err) != "42P01" {
			return fmt.Errorf("expected 42P01, got %v", err)
		}
		return sp.Rollback(bg)
	})
	must(err, "BeginTxFunc serializable read only deferrable")
}

func streamed100kRows() {
	d := direct()
	var want string
	must(d.QueryRow(bg, "SELECT format('n=%s ids=%s amount=%s md5=%s', count(*), sum(id), sum(amount),"+
		" md5(string_agg(label, ',' ORDER BY id))) FROM big").Scan(&want), "expected")
	var directCopy bytes.Buffer
	_, err := d.PgConn().CopyTo(bg, &directCopy, "COPY big TO STDOUT")
	must(err, "direct COPY")
	d.Close(bg)

	conn := proxy("")
	defer conn.Close(bg)
	for _, args := range [][]interface{}{{0}, {pgx.QuerySimpleProtocol(true), 0}} {
		rows, err := conn.Query(bg, "SELECT id, label, amount FROM big WHERE id > $1 ORDER BY id", args...)
		must(err, "Query 100k")
		var n, ids int64
		cents := new(big.Int)
		var labels []string
		for rows.Next() {
			var id int32
			var label string
			var amount pgtype.Numeric
			must(rows.Scan(&id, &label, &amount), "scan")
			n++
			ids += int64(id)
			c := new(big.Int).Set(amount.Int)
			c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(amount.Exp+2)), nil))
			cents.Add(cents, c)
			labels = append(labels, label)
		}
		must(rows.Err(), "rows")
		whole, frac := new(big.Int).QuoRem(cents, big.NewInt(100), new(big.Int))
		got := fmt.Sprintf("n=%d ids=%d amount=%s.%02d md5=%x", n, ids, whole, frac.Int64(),
			md5.Sum([]byte(strings.Join(labels, ","))))
		check(got == want, "streamed %v:\n got  %s\n want %s", args, got, want)
	}
	var proxyCopy bytes.Buffer
	tag, err := conn.PgConn().CopyTo(bg, &proxyCopy, "COPY big TO STDOUT")
	must(err, "COPY TO STDOUT")
	check(tag.RowsAffected() == 100000 && bytes.Equal(proxyCopy.Bytes(), directCopy.Bytes()),
		"COPY: %d rows, %d bytes vs %d", tag.RowsAffected(), proxyCopy.Len(), directCopy.Len())
}

func errorThenRecovery() {
	for _, m := range statementModes {
		conn := proxy(m.params)
		for _, e := range []struct {
			code, sql string
			args      []interface{}
		}{{"22012", "SELECT 1/0", nil}, {"42P01", "SELECT * FROM no_such_table", nil}, {"42601", "SELEKT 1", nil},
			{"22P02", "SELECT $1::text::int", []interface{}{"x"}}, {"22012", "SELECT 1/$1::int", []interface{}{0}},
			{"42P01", "SELECT * FROM no_such_table WHERE id = $1", []interface{}{1}}} {
			_, err := conn.Exec(bg, e.sql, e.args...)
			expectCode(e.code, err, m.name+": "+e.sql)
			var n int
			must(conn.QueryRow(bg, "SELECT count(*)::int FROM typed WHERE id <= $1", 4).Scan(&n), "after "+e.sql)
			check(n == 4, "%s after %s: %d", m.name, e.sql, n)
		}
		must(conn.Close(bg), "close")
	}
}

func writesRefused() {
	for _, m := range statementModes {
		conn := proxy(m.params)
		for _, w := range []struct {
			sql  string
			args []interface{}
		}{{"INSERT INTO big VALUES (100001, 1, 'x', 1)", nil}, {"DELETE FROM typed", nil},
			{"UPDATE big SET label = $1 WHERE id = $2", []interface{}{"y", 1}},
			{"INSERT INTO app.events (kind) VALUES ($1)", []interface{}{"k"}}, {"CREATE TABLE t_new (x int)", nil}} {
			_, err := conn.Exec(bg, w.sql, w.args...)
			expectCode("25006", err, m.name+": "+w.sql)
		}
		must(conn.Close(bg), "close")
	}
	d := direct()
	defer d.Close(bg)
	var n, m int
	must(d.QueryRow(bg, "SELECT (SELECT count(*)::int FROM big), (SELECT count(*)::int FROM app.events)").Scan(&n, &m),
		"direct")
	check(n == 100000 && m == 50, "written: big %d, events %d", n, m)
}

func sleepingBackends(d *pgx.Conn) int {
	var sleeping int
	for i := 0; i < 30; i++ {
		must(d.QueryRow(bg, "SELECT count(*)::int FROM pg_stat_activity WHERE state = 'active'"+
			" AND query LIKE 'SELECT pg_sleep(%'").Scan(&sleeping), "pg_stat_activity")
		if sleeping == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return sleeping
}

func cancelAndTimeout() {
	d := direct()
	defer d.Close(bg)
	conn := proxy("")
	ctx, cancel := context.WithTimeout(bg, 500*time.Millisecond)
	start := time.Now()
	_, err := conn.Exec(ctx, "SELECT pg_sleep($1)", 10)
	cancel()
	check(err != nil && pgconn.Timeout(err), "context timeout: %v", err)
	check(time.Since(start) < 5*time.Second, "timeout took %v", time.Since(start))
	check(conn.IsClosed(), "pgx keeps a timed-out connection open")
	check(sleepingBackends(d) == 0, "backend still sleeping after the CancelRequest pgconn sent")
	conn = proxy("")
	defer conn.Close(bg)
	var v string
	must(conn.QueryRow(bg, "SELECT 'new connection'").Scan(&v), "new connection")

	// CancelRequest from another goroutine while the query runs: 57014, connection reusable.
	done := make(chan error, 1)
	start = time.Now()
	go func() {
		_, err := conn.Exec(bg, "SELECT pg_sleep(10)")
		done <- err
	}()
	time.Sleep(700 * time.Millisecond)
	must(conn.PgConn().CancelRequest(bg), "CancelRequest")
	select {
	case err = <-done:
	case <-time.After(8 * time.Second):
		check(false, "pg_sleep(10) not cancelled 8 s after CancelRequest")
	}
	expectCode("57014", err, "cancelled")
	check(time.Since(start) < 5*time.Second, "cancel took %v", time.Since(start))
	must(conn.QueryRow(bg, "SELECT 'alive'").Scan(&v), "usable after cancel")
	check(v == "alive", "after cancel %q", v)

	st := proxy("statement_timeout=300")
	defer st.Close(bg)
	_, err = st.Exec(bg, "SELECT pg_sleep($1)", 3)
	expectCode("57014", err, "statement_timeout")
}

func metadataAndCatalog() {
	p, d := proxy(""), direct()
	defer p.Close(bg)
	defer d.Close(bg)
	describe := func(conn *pgx.Conn) string {
		rows, err := conn.Query(bg, "SELECT t.*, b.label, b.amount FROM typed t JOIN big b ON b.id = t.id WHERE t.id = $1", 1)
		must(err, "query")
		out := fmt.Sprintf("%+v", rows.FieldDescriptions())
		rows.Close()
		must(rows.Err(), "rows")
		sd, err := conn.Prepare(bg, "meta", "SELECT $1::int4 + $2::int8, $3::text || $4::uuid, $5::numeric(10,2)")
		must(err, "Prepare")
		return out + fmt.Sprintf(" params %v fields %+v", sd.ParamOIDs, sd.Fields)
	}
	pm, dm := describe(p), describe(d)
	check(pm == dm, "descriptions:\n proxy  %s\n direct %s", pm, dm)
	check(strings.Contains(pm, "TableAttributeNumber:3"), "table attribute numbers missing: %s", pm)
	for _, q := range []struct {
		sql  string
		args []interface{}
	}{
		{"SELECT table_schema::text, table_name::text FROM information_schema.tables" +
			" WHERE table_schema = ANY($1) ORDER BY 1, 2", []interface{}{[]string{"public", "app"}}},
		{"SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns" +
			" WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position", []interface{}{"public", "typed"}},
		// What pgtype users run to register a type: pg_type by name, with its array type.
		{"SELECT t.oid, t.typname::text, t.typarray, t.typtype::text, t.typrelid FROM pg_type t" +
			" WHERE t.typname = ANY($1) ORDER BY t.typname", []interface{}{[]string{"typed", "big", "int4", "jsonb"}}},
		{"SELECT a.attname::text, a.atttypid, a.attnum FROM pg_attribute a WHERE a.attrelid = $1::regclass" +
			" AND a.attnum > 0 ORDER BY a.attnum", []interface{}{"app.events"}},
	} {
		pr, _ := allRows(p, q.sql, q.args...)
		dr, _ := allRows(d, q.sql, q.args...)
		check(len(pr) > 0 && reflect.DeepEqual(pr, dr), "%s:\n proxy  %v\n direct %v", q.sql, pr, dr)
	}
	check(strings.HasPrefix(p.PgConn().ParameterStatus("server_version"), "15"), "server_version %q",
		p.PgConn().ParameterStatus("server_version"))
	for _, key := range []string{"server_encoding", "client_encoding", "DateStyle", "integer_datetimes", "TimeZone"} {
		check(p.PgConn().ParameterStatus(key) == d.PgConn().ParameterStatus(key), "ParameterStatus %s: %q vs %q", key,
			p.PgConn().ParameterStatus(key), d.PgConn().ParameterStatus(key))
	}
}

// DISCARD ALL and DEALLOCATE ALL, which apps and pool hooks send to reset a connection: they
// drop this client's prepared statements and settings, as on PostgreSQL, and nothing of
// another client's.
func discardAllAndDeallocateAll() {
	conn, other := proxy(""), proxy("")
	defer conn.Close(bg)
	defer other.Close(bg)
	for _, c := range []*pgx.Conn{conn, other} {
		_, err := c.Prepare(bg, "mine", "SELECT $1::int + 1")
		must(err, "Prepare mine")
		_, err = c.Exec(bg, "SET search_path = app")
		must(err, "SET search_path")
	}
	for _, reset := range []string{"DEALLOCATE ALL", "DISCARD ALL"} {
		_, err := conn.Exec(bg, reset)
		must(err, reset)
		var v int
		// pgx still knows the name, so it sends Bind "mine": the statement is gone.
		expectCode("26000", conn.QueryRow(bg, "mine", 1).Scan(&v), "prepared statement after "+reset)
		must(other.QueryRow(bg, "mine", 1).Scan(&v), "another client's statement after "+reset)
		check(v == 2, "other client: %d", v)
		// pgx forgets the name and sends DEALLOCATE, which finds nothing to drop.
		expectCode("26000", conn.Deallocate(bg, "mine"), "Deallocate after "+reset)
		_, err = conn.Prepare(bg, "mine", "SELECT $1::int + 1")
		must(err, "Prepare again after "+reset)
	}
	var path, otherPath string
	must(conn.QueryRow(bg, "SHOW search_path").Scan(&path), "search_path")
	must(other.QueryRow(bg, "SHOW search_path").Scan(&otherPath), "other search_path")
	check(path == `"$user", public` && otherPath == "app", "after DISCARD ALL: search_path %q, other client's %q",
		path, otherPath)
	_, err := conn.Exec(bg, "DISCARD PLANS")
	must(err, "DISCARD PLANS")
	var v int
	must(conn.QueryRow(bg, "mine", 2).Scan(&v), "prepared statement after DISCARD PLANS")
	check(v == 3, "after DISCARD PLANS: %d", v)
}

// checker collects wrong rows from many goroutines.
type checker struct {
	mu             sync.Mutex
	problems       []string
	wrong, checked int
}

func (c *checker) report(who string, format string, args ...interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wrong++
	if len(c.problems) < 15 {
		c.problems = append(c.problems, who+": "+fmt.Sprintf(format, args...))
	}
}

func (c *checker) ok(n int) {
	c.mu.Lock()
	c.checked += n
	c.mu.Unlock()
}

// querier is what a pgx.Conn and a *pgxpool.Conn share.
type querier interface {
	Query(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
}

// askAndCheck asks for rows that depend on (g, r) only and checks every one of them.
func askAndCheck(q querier, c *checker, who string, g, r int) {
	grp, limit := (g*7+r)%100, 1000*(1+(g+r)%5)
	// The statement text is this client's own too (the literal owner column): another client's
	// statement bound with these parameters shows as a wrong owner.
	rows, err := q.Query(bg, fmt.Sprintf("SELECT id, grp, label, $1::int AS who, %d AS owner FROM big"+
		" WHERE grp = $2 AND id <= $3 ORDER BY id", g), g, grp, limit)
	if err != nil {
		c.report(who, "round %d: %v", r, err)
		return
	}
	next := grp
	if next == 0 {
		next = 100
	}
	got := 0
	for rows.Next() {
		var id, rgrp, rwho, owner int32
		var label string
		if err := rows.Scan(&id, &rgrp, &label, &rwho, &owner); err != nil {
			c.report(who, "round %d scan: %v", r, err)
			break
		}
		if int(id) != next || int(rgrp) != grp || label != fmt.Sprintf("row-%d", id) || int(rwho) != g ||
			int(owner) != g {
			c.report(who, "round %d asked grp=%d id<=%d who=%d owner=%d, got (%d, %d, %q, %d, %d)", r, grp, limit, g, g,
				id, rgrp, label, rwho, owner)
		}
		next += 100
		got++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		c.report(who, "round %d rows: %v", r, err)
	}
	want := 0
	for id := grp; id <= limit; id += 100 {
		if id > 0 {
			want++
		}
	}
	if got != want {
		c.report(who, "round %d: %d rows, want %d", r, got, want)
	}
	c.ok(got)

	lo := g*1000 + r*10 + 1
	prefix := fmt.Sprintf("%s-r%d", who, r)
	rows, err = q.Query(bg, "SELECT $1::text || ':' || id, amount::text FROM big WHERE id BETWEEN $2 AND $3 ORDER BY id",
		prefix, lo, lo+9)
	if err != nil {
		c.report(who, "round %d second shape: %v", r, err)
		return
	}
	id := lo
	for rows.Next() {
		var tag, amount string
		if err := rows.Scan(&tag, &amount); err != nil {
			c.report(who, "round %d second shape scan: %v", r, err)
			break
		}
		if tag != fmt.Sprintf("%s:%d", prefix, id) || amount != fmt.Sprintf("%d.%02d", id*125/100, id*125%100) {
			c.report(who, "round %d asked %s id=%d, got (%q, %q)", r, prefix, id, tag, amount)
		}
		id++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		c.report(who, "round %d second shape rows: %v", r, err)
	}
	if id != lo+10 {
		c.report(who, "round %d second shape: %d rows, want 10", r, id-lo)
	}
	c.ok(id - lo)
}

func twentyConcurrentConnections() {
	const clients, rounds = 20, 25
	var c checker
	conns := make([]*pgx.Conn, clients)
	for g := range conns {
		conns[g] = proxy(statementModes[g%len(statementModes)].params)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			defer conns[g].Close(bg)
			<-start
			who := fmt.Sprintf("conn%d/%s", g, statementModes[g%len(statementModes)].name)
			for r := 0; r < rounds; r++ {
				askAndCheck(conns[g], &c, who, g, r)
			}
		}(g)
	}
	close(start)
	wg.Wait()
	fmt.Printf("       (20 connections: %d rows checked, %d wrong)\n", c.checked, c.wrong)
	check(c.wrong == 0, "%d wrong rows or errors:\n  %s", c.wrong, strings.Join(c.problems, "\n  "))
	check(c.checked > clients*rounds*10, "rows checked %d", c.checked)
}

func pgxpoolOf20() {
	pool, err := pgxpool.Connect(bg, connString(false, "pool_max_conns=20 pool_min_conns=20"))
	must(err, "pgxpool.Connect")
	defer pool.Close()
	var c checker
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 15; r++ {
				conn, err := pool.Acquire(bg)
				if err != nil {
					c.report(fmt.Sprintf("task%d", g), "Acquire: %v", err)
					return
				}
				askAndCheck(conn, &c, fmt.Sprintf("task%d", g), g, r)
				conn.Release()
			}
		}(g)
	}
	wg.Wait()
	stat := pool.Stat()
	fmt.Printf("       (pgxpool of %d: %d acquires, %d rows checked, %d wrong)\n", stat.TotalConns(),
		stat.AcquireCount(), c.checked, c.wrong)
	check(c.wrong == 0, "%d wrong rows or errors:\n  %s", c.wrong, strings.Join(c.problems, "\n  "))
	check(stat.AcquireCount() >= 300, "acquires %d", stat.AcquireCount())
}

func main() {
	fmt.Printf("== pgx v4 through pgro (%s pooling, POOL_SIZE=%s)\n", poolMode, os.Getenv("PGRO_POOL_SIZE"))
	run("statement_cache_modes", statementCacheModes)
	run("types_binary_round_trip", typesBinaryRoundTrip)
	run("transaction_savepoint", transactionSavepoint)
	run("begin_read_write", beginReadWrite)
	run("read_only_serializable_transaction", readOnlyTransaction)
	run("streamed_100k_rows_and_copy", streamed100kRows)
	run("error_then_recovery", errorThenRecovery)
	run("writes_refused_25006", writesRefused)
	run("cancel_and_timeout", cancelAndTimeout)
	run("metadata_and_catalog", metadataAndCatalog)
	run("discard_all_and_deallocate_all", discardAllAndDeallocateAll)
	run("twenty_concurrent_connections", twentyConcurrentConnections)
	run("pgxpool_of_20", pgxpoolOf20)
	fmt.Printf("pgx suite: %d passed, %d failed\n", len(passed), len(failed))
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "failed: %s\n", strings.Join(failed, ", "))
		os.Exit(1)
	}
}
