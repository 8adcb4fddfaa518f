// Go's lib/pq (Debian golang-github-lib-pq-dev 1.10, database/sql) through pgro. Run by
// pgro_client_env in transaction and session pooling: PG* point at pgro, PGRO_DIRECT_* at
// PostgreSQL itself. Built in GOPATH mode by tests/clients/CMakeLists.txt (no module
// downloads).
//
// Tried, and expected to work (one function each below):
//   - db.Query/QueryRow/Exec with arguments, 200 times on one connection: lib/pq sends
//     Parse "" + Describe S "" + Sync, then Bind "" + Execute + Sync (the unnamed statement
//     across two Syncs; results of int/bytea/uuid columns in binary format)
//   - db.Prepare (named statement "1", "2", ...) reused 100 times, inside transactions too,
//     and after an error; binary_parameters=yes (Parse+Bind+Execute in one round trip)
//   - the fixture types through pgro equal to the same fetched directly, by the simple query
//     path (text) and the prepared path (binary ints/bytea); parameters of Go types
//   - db.Begin() (lib/pq sends BEGIN READ WRITE) with a savepoint, an error inside it and
//     ROLLBACK TO; the transaction stays read-only through pgro; BeginTx read-only and
//     REPEATABLE READ
//   - 100k rows streamed by rows.Next (simple and prepared path) and by a cursor
//     (DECLARE/FETCH in a transaction), checksummed against PostgreSQL
//   - errors then recovery on the same connection (22012, 42P01, 42601, 22P02)
//   - writes refused with 25006 (simple, with arguments, inside a transaction)
//   - context timeout: lib/pq sends a CancelRequest -> the backend stops in < 5 s; and
//     statement_timeout as a startup parameter
//   - metadata: rows.ColumnTypes() and catalog queries (information_schema, pg_catalog)
//     equal to direct
//   - 20 connections at once, each asking for rows that depend on its own parameters
//     (unnamed and named statements), every row checked
//
// Not tried: COPY FROM (pq.CopyIn: writes), LISTEN (pq.Listener: no session under
// transaction pooling), TLS (pgro has no TLS in these suites).
package main

import (
	"context"
	"crypto/md5"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

var (
	passed, failed []string
	poolMode       = os.Getenv("PGRO_POOL_MODE")
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

// dsn for pgro (PG*) or PostgreSQL (PGRO_DIRECT_*). lib/pq defaults to sslmode=require; pgro
// and the test server have no TLS here.
func dsn(direct bool, extra string) string {
	prefix, db := "PG", "PGDATABASE"
	if direct {
		prefix, db = "PGRO_DIRECT_", "PGRO_DIRECT_DATABASE"
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable %s",
		quote(os.Getenv(prefix+"HOST")), quote(os.Getenv(prefix+"PORT")),
		quote(os.Getenv(prefix+"USER")), quote(os.Getenv(prefix+"PASSWORD")),
		quote(os.Getenv(db)), extra)
}

func open(direct bool, extra string, maxConns int) *sql.DB {
	db, err := sql.Open("postgres", dsn(direct, extra))
	must(err, "sql.Open")
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	return db
}

func proxy(maxConns int) *sql.DB  { return open(false, "", maxConns) }
func direct(maxConns int) *sql.DB { return open(true, "", maxConns) }

func sqlState(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return string(pqErr.Code)
	}
	return ""
}

func expectCode(code string, err error, what string) {
	check(err != nil, "%s: expected SQLSTATE %s, got success", what, code)
	check(sqlState(err) == code, "%s: expected SQLSTATE %s, got %s (%v)", what, code, sqlState(err), err)
}

// allRows runs a query and prints every row's values, scanned into interface{}, with %#v.
func allRows(db *sql.DB, what string, args ...interface{}) []string {
	rows, err := db.Query(what, args...)
	must(err, what)
	defer rows.Close()
	cols, err := rows.Columns()
	must(err, what+": columns")
	var out []string
	for rows.Next() {
		vals := make([]interface{}, len(cols))
		ptrs := make([]interface{}, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(rows.Scan(ptrs...), what+": scan")
		out = append(out, fmt.Sprintf("%#v", vals))
	}
	must(rows.Err(), what+": rows")
	return out
}

func unnamedStatementManyTimes() {
	db := proxy(1)
	defer db.Close()
	for i := 0; i < 200; i++ {
		var n, got, first int
		err := db.QueryRow("SELECT count(*), $1::int, min(id) FROM big WHERE grp = $2", i, i%100).Scan(&n, &got, &first)
		must(err, fmt.Sprintf("run %d", i))
		want := i % 100
		if want == 0 {
			want = 100
		}
		check(n == 1000 && got == i && first == want, "run %d: count %d, echo %d, min(id) %d", i, n, got, first)
	}
	// Two statement shapes alternating: a stale unnamed statement shows as a wrong column count.
	for i := 0; i < 50; i++ {
		var a, b string
		must(db.QueryRow("SELECT $1::text || '-a'", strconv.Itoa(i)).Scan(&a), "shape a")
		must(db.QueryRow("SELECT $1::text || '-b', $2::int", strconv.Itoa(i), i).Scan(&b, new(int)),
			"shape b")
		check(a == fmt.Sprintf("%d-a", i) && b == fmt.Sprintf("%d-b", i), "shapes: %q %q", a, b)
	}
	res, err := db.Exec("SELECT id FROM big WHERE grp = $1 AND id <= $2", 7, 1000)
	must(err, "Exec with arguments")
	n, err := res.RowsAffected()
	must(err, "RowsAffected")
	check(n == 10, "Exec SELECT rows affected %d, want 10", n)
}

func namedPreparedStatements() {
	db := proxy(1)
	defer db.Close()
	stmt, err := db.Prepare("SELECT count(*), $1::text || ':' || $2::int FROM big WHERE grp = $2")
	must(err, "Prepare")
	for i := 0; i < 100; i++ {
		var n int
		var v string
		must(stmt.QueryRow("s", i%100).Scan(&n, &v), fmt.Sprintf("run %d", i))
		check(n == 1000 && v == fmt.Sprintf("s:%d", i%100), "run %d: %d %q", i, n, v)
	}
	for i := 0; i < 10; i++ {
		tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
		must(err, "BeginTx read only")
		var n int
		var v string
		must(tx.Stmt(stmt).QueryRow("t", i).Scan(&n, &v), "statement in transaction")
		check(n == 1000 && v == fmt.Sprintf("t:%d", i), "in transaction: %d %q", n, v)
		must(tx.Commit(), "Commit")
	}
	div, err := db.Prepare("SELECT 100 / $1::int")
	must(err, "Prepare div")
	var v int
	must(div.QueryRow(4).Scan(&v), "div 4")
	expectCode("22012", div.QueryRow(0).Scan(&v), "div 0")
	must(div.QueryRow(5).Scan(&v), "div reused after error")
	check(v == 20, "div 5 = %d", v)
	must(stmt.Close(), "stmt.Close")
	must(div.Close(), "div.Close")

	bin := open(false, "binary_parameters=yes", 1)
	defer bin.Close()
	for i := 0; i < 100; i++ {
		var b []byte
		var n int64
		payload := []byte{0, byte(i), 0xff, '\''}
		must(bin.QueryRow("SELECT $1::bytea || '\\x01'::bytea, $2::int8 * 2", payload, int64(i)<<33).Scan(&b, &n),
			"binary_parameters")
		check(reflect.DeepEqual(b, append(payload, 1)) && n == int64(i)<<34, "binary_parameters run %d: %x %d", i, b, n)
	}
}

func typesRoundTrip() {
	p, d := proxy(1), direct(1)
	defer p.Close()
	defer d.Close()
	for _, q := range []struct {
		what string
		sql  string
		args []interface{}
	}{
		{"simple query (text)", "SELECT * FROM typed ORDER BY id", nil},
		{"prepared (binary ints, bytea, uuid)", "SELECT * FROM typed WHERE id > $1 ORDER BY id", []interface{}{0}},
	} {
		pr := allRows(p, q.sql, q.args...)
		dr := allRows(d, q.sql, q.args...)
		check(len(pr) == 5, "%s: %d rows", q.what, len(pr))
		for i := range pr {
			check(pr[i] == dr[i], "%s row %d:\n proxy  %s\n direct %s", q.what, i, pr[i], dr[i])
		}
	}
	var big int64
	var f8 float64
	var bytea []byte
	var arr []sql.NullInt64
	var texts []sql.NullString
	must(p.QueryRow("SELECT c_bigint, c_float8, c_bytea, c_int_arr, c_text_arr FROM typed WHERE id = $1", 2).
		Scan(&big, &f8, &bytea, pq.Array(&arr), pq.Array(&texts)), "row 2")
	check(big == math.MaxInt64 && math.IsNaN(f8) && reflect.DeepEqual(bytea, []byte{0, 0xff, 0x10}),
		"row 2: %d %v %x", big, f8, bytea)
	check(len(arr) == 3 && arr[0].Int64 == 1 && !arr[1].Valid && arr[2].Int64 == 3, "int array %v", arr)
	check(len(texts) == 4 && texts[0].String == "a b" && !texts[1].Valid && texts[3].String == `"q"`, "text array %v",
		texts)

	when := time.Date(2024, 2, 29, 1, 2, 3, 456789000, time.UTC)
	args := []interface{}{int64(42), int64(math.MinInt64), 1.5, math.Inf(1), "it's \"quoted\" \\ tab\t\u00e9\u2713", "",
		[]byte{0, 1, 0xff}, true, when, nil, pq.Array([]int64{1, 2, 3}), pq.Array([]string{"a", "b,c", ""}),
		"12345678901234567890.123456789", `{"k": [1, "two", null]}`}
	casts := []string{"int8", "int8", "float8", "float8", "text", "text", "bytea", "bool", "timestamptz", "text",
		"int8[]", "text[]", "numeric", "jsonb"}
	var parts []string
	for i, c := range casts {
		parts = append(parts, fmt.Sprintf("$%d::%s", i+1, c))
	}
	q := "SELECT " + strings.Join(parts, ", ")
	pr := allRows(p, q, args...)
	dr := allRows(d, q, args...)
	check(len(pr) == 1 && pr[0] == dr[0], "parameters:\n proxy  %v\n direct %v", pr, dr)
	var gotWhen time.Time
	var gotText string
	must(p.QueryRow("SELECT $1::timestamptz, $2::text", when, args[4]).Scan(&gotWhen, &gotText), "scan back")
	check(gotWhen.Equal(when) && gotText == args[4], "round trip %v %q", gotWhen, gotText)
}

func transactionSavepoint() {
	db := proxy(1)
	defer db.Close()
	tx, err := db.Begin() // lib/pq: BEGIN READ WRITE
	must(err, "db.Begin() (BEGIN READ WRITE)")
	defer tx.Rollback()
	var pid1, pid2 int
	must(tx.QueryRow("SELECT pg_backend_pid()").Scan(&pid1), "pid")
	var n int
	must(tx.QueryRow("SELECT count(*) FROM big WHERE grp = $1", 3).Scan(&n), "count in transaction")
	must(tx.QueryRow("SELECT pg_backend_pid()").Scan(&pid2), "pid again")
	check(pid1 == pid2 && n == 1000, "one backend per transaction: %d %d", pid1, pid2)
	var ro string
	must(tx.QueryRow("SHOW transaction_read_only").Scan(&ro), "SHOW transaction_read_only")
	check(ro == "on", "transaction through pgro is read-only, got transaction_read_only=%s", ro)
	_, err = tx.Exec("SAVEPOINT s1")
	must(err, "SAVEPOINT")
	_, err = tx.Exec("SELECT 1/0")
	expectCode("22012", err, "division by zero in transaction")
	expectCode("25P02", tx.QueryRow("SELECT 1").Scan(&n), "aborted transaction")
	_, err = tx.Exec("ROLLBACK TO SAVEPOINT s1")
	must(err, "ROLLBACK TO SAVEPOINT")
	_, err = tx.Exec("INSERT INTO big VALUES ($1, 1, 'x', 1)", 100001)
	expectCode("25006", err, "write in transaction")
	_, err = tx.Exec("ROLLBACK TO SAVEPOINT s1")
	must(err, "ROLLBACK TO SAVEPOINT after write")
	must(tx.QueryRow("SELECT count(*) FROM app.events WHERE kind = $1", "kind-1").Scan(&n), "after rollback to")
	check(n == 17, "events kind-1: %d", n)
	_, err = tx.Exec("RELEASE SAVEPOINT s1")
	must(err, "RELEASE")
	must(tx.Commit(), "Commit")

	// sql.LevelSerializable without ReadOnly: lib/pq sends BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE.
	tx, err = db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelSerializable})
	must(err, "BeginTx serializable (READ WRITE)")
	var iso string
	must(tx.QueryRow("SHOW transaction_isolation").Scan(&iso), "SHOW transaction_isolation")
	check(iso == "serializable", "isolation %s", iso)
	must(tx.Rollback(), "Rollback")
}

func readOnlyTransactionOptions() {
	db := proxy(1)
	defer db.Close()
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	must(err, "BeginTx repeatable read, read only")
	var iso string
	must(tx.QueryRow("SHOW transaction_isolation").Scan(&iso), "SHOW")
	check(iso == "repeatable read", "isolation %s", iso)
	_, err = tx.Exec("SAVEPOINT a")
	must(err, "SAVEPOINT")
	_, err = tx.Exec("SELECT * FROM no_such_table")
	expectCode("42P01", err, "missing table")
	_, err = tx.Exec("ROLLBACK TO SAVEPOINT a")
	must(err, "ROLLBACK TO")
	var n int
	must(tx.QueryRow("SELECT count(*) FROM typed").Scan(&n), "after rollback to")
	check(n == 5, "typed %d", n)
	must(tx.Commit(), "Commit")
}

type checksum struct {
	n, ids, cents int64
	labels        []string
}

func (c *checksum) add(id int64, label, amount string) {
	c.n++
	c.ids += id
	whole, frac, _ := strings.Cut(amount, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	must(err, "amount "+amount)
	f, err := strconv.ParseInt((frac + "00")[:2], 10, 64)
	must(err, "amount "+amount)
	c.cents += w*100 + f
	c.labels = append(c.labels, label)
}

func (c *checksum) String() string {
	return fmt.Sprintf("n=%d ids=%d amount=%d.%02d md5=%x", c.n, c.ids, c.cents/100, c.cents%100,
		md5.Sum([]byte(strings.Join(c.labels, ","))))
}

func bigExpected() string {
	d := direct(1)
	defer d.Close()
	var n, ids int64
	var amount, sum string
	must(d.QueryRow("SELECT count(*), sum(id), sum(amount)::text, md5(string_agg(label, ',' ORDER BY id)) FROM big").
		Scan(&n, &ids, &amount, &sum), "expected checksum")
	return fmt.Sprintf("n=%d ids=%d amount=%s md5=%s", n, ids, amount, sum)
}

func streamed100kRows() {
	expected := bigExpected()
	db := proxy(1)
	defer db.Close()
	for _, q := range []struct {
		sql  string
		args []interface{}
	}{{"SELECT id, label, amount FROM big ORDER BY id", nil},
		{"SELECT id, label, amount FROM big WHERE id > $1 ORDER BY id", []interface{}{0}}} {
		rows, err := db.Query(q.sql, q.args...)
		must(err, q.sql)
		var c checksum
		for rows.Next() {
			var id int64
			var label, amount string
			must(rows.Scan(&id, &label, &amount), "scan")
			c.add(id, label, amount)
		}
		must(rows.Err(), "rows")
		rows.Close()
		check(c.String() == expected, "%s:\n got  %s\n want %s", q.sql, c.String(), expected)
	}
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	must(err, "BeginTx")
	defer tx.Rollback()
	_, err = tx.Exec("DECLARE big_cur NO SCROLL CURSOR FOR SELECT id, label, amount FROM big ORDER BY id")
	must(err, "DECLARE")
	var c checksum
	batches := 0
	for {
		rows, err := tx.Query("FETCH 10000 FROM big_cur")
		must(err, "FETCH")
		got := 0
		for rows.Next() {
			var id int64
			var label, amount string
			must(rows.Scan(&id, &label, &amount), "scan")
			c.add(id, label, amount)
			got++
		}
		must(rows.Err(), "FETCH rows")
		rows.Close()
		if got == 0 {
			break
		}
		batches++
	}
	_, err = tx.Exec("CLOSE big_cur")
	must(err, "CLOSE")
	must(tx.Commit(), "Commit")
	check(c.String() == expected && batches == 10, "cursor in %d batches:\n got  %s\n want %s", batches, c.String(),
		expected)
}

func errorThenRecovery() {
	db := proxy(1)
	defer db.Close()
	var n int
	for _, e := range []struct {
		code, sql string
		args      []interface{}
	}{{"22012", "SELECT 1/0", nil}, {"42P01", "SELECT * FROM no_such_table", nil}, {"42601", "SELEKT 1", nil},
		{"22P02", "SELECT $1::int", []interface{}{"x"}}, {"22012", "SELECT 1/$1::int", []interface{}{0}},
		{"42P01", "SELECT * FROM no_such_table WHERE id = $1", []interface{}{1}}} {
		_, err := db.Exec(e.sql, e.args...)
		expectCode(e.code, err, e.sql)
		must(db.QueryRow("SELECT count(*) FROM typed WHERE id <= $1", 4).Scan(&n), "after "+e.sql)
		check(n == 4, "after %s: %d", e.sql, n)
		must(db.QueryRow("SELECT count(*) FROM typed").Scan(&n), "simple after "+e.sql)
		check(n == 5, "after %s: %d", e.sql, n)
	}
}

func writesRefused() {
	db := proxy(1)
	defer db.Close()
	for _, w := range []struct {
		sql  string
		args []interface{}
	}{{"INSERT INTO big VALUES (100001, 1, 'x', 1)", nil}, {"DELETE FROM typed", nil},
		{"UPDATE big SET label = $1 WHERE id = $2", []interface{}{"y", 1}},
		{"INSERT INTO app.events (kind) VALUES ($1)", []interface{}{"k"}}, {"CREATE TABLE t_new (x int)", nil}} {
		_, err := db.Exec(w.sql, w.args...)
		expectCode("25006", err, w.sql)
	}
	d := direct(1)
	defer d.Close()
	var n, m int
	must(d.QueryRow("SELECT (SELECT count(*) FROM big), (SELECT count(*) FROM app.events)").Scan(&n, &m), "direct")
	check(n == 100000 && m == 50, "written: big %d, events %d", n, m)
}

func cancelOnContext() {
	db := proxy(2)
	defer db.Close()
	d := direct(1)
	defer d.Close()
	for _, q := range []struct {
		sql  string
		args []interface{}
	}{{"SELECT pg_sleep(10)", nil}, {"SELECT pg_sleep($1)", []interface{}{10}}} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		_, err := db.ExecContext(ctx, q.sql, q.args...)
		cancel()
		elapsed := time.Since(start)
		check(err != nil, "%s: no error after context timeout", q.sql)
		check(sqlState(err) == "57014" || errors.Is(err, context.DeadlineExceeded),
			"%s: expected 57014 or context deadline, got %v", q.sql, err)
		check(elapsed < 5*time.Second, "%s: cancel took %v", q.sql, elapsed)
		// The CancelRequest reached PostgreSQL: no backend is still sleeping.
		var sleeping int
		for i := 0; i < 20; i++ {
			must(d.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(%'").
				Scan(&sleeping), "pg_stat_activity")
			if sleeping == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		check(sleeping == 0, "%s: %d backends still sleeping after cancel", q.sql, sleeping)
		var v string
		must(db.QueryRow("SELECT 'alive'").Scan(&v), "usable after cancel")
	}
	st := open(false, "statement_timeout=300", 1)
	defer st.Close()
	var setting string
	must(st.QueryRow("SHOW statement_timeout").Scan(&setting), "SHOW statement_timeout")
	check(setting == "300ms", "statement_timeout %s", setting)
	_, err := st.Exec("SELECT pg_sleep($1)", 3)
	expectCode("57014", err, "statement_timeout")
}

func metadataAndCatalog() {
	p, d := proxy(1), direct(1)
	defer p.Close()
	defer d.Close()
	describe := func(db *sql.DB) string {
		rows, err := db.Query("SELECT * FROM typed WHERE id = $1", 1)
		must(err, "typed")
		defer rows.Close()
		types, err := rows.ColumnTypes()
		must(err, "ColumnTypes")
		var out []string
		for _, t := range types {
			length, hasLength := t.Length()
			prec, scale, hasPrec := t.DecimalSize()
			out = append(out, fmt.Sprintf("%s:%s:%v:%d:%v:%d:%d:%v", t.Name(), t.DatabaseTypeName(), t.ScanType(),
				length, hasLength, prec, scale, hasPrec))
		}
		return strings.Join(out, " ")
	}
	pm, dm := describe(p), describe(d)
	check(pm == dm, "ColumnTypes:\n proxy  %s\n direct %s", pm, dm)
	check(strings.Contains(pm, "c_jsonb:JSONB") && strings.Contains(pm, "c_int_arr:_INT4"), "type names %s", pm)
	for _, q := range []struct {
		sql  string
		args []interface{}
	}{
		{"SELECT table_schema, table_name, table_type FROM information_schema.tables" +
			" WHERE table_schema IN ('public', 'app') ORDER BY 1, 2", nil},
		{"SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale" +
			" FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
			[]interface{}{"public", "big"}},
		{"SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull" +
			" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace" +
			" WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
			[]interface{}{"app"}},
		{"SELECT p.proname, pg_get_function_result(p.oid), pg_get_function_arguments(p.oid)" +
			" FROM pg_proc p WHERE p.pronamespace = 'app'::regnamespace", nil},
		{"SELECT obj_description('public.big'::regclass, 'pg_class'), current_database() = $1, current_schemas(false)",
			[]interface{}{os.Getenv("PGDATABASE")}},
	} {
		pr := allRows(p, q.sql, q.args...)
		dr := allRows(d, q.sql, q.args...)
		check(len(pr) > 0 && reflect.DeepEqual(pr, dr), "%s:\n proxy  %v\n direct %v", q.sql, pr, dr)
	}
	var version string
	must(p.QueryRow("SHOW server_version").Scan(&version), "server_version")
	check(strings.HasPrefix(version, "15"), "server_version %s", version)
}

// Each of 20 connections asks for rows that depend on its own parameters and checks every
// row: a statement or portal of another client shows as a wrong row.
func twentyConcurrentConnections() {
	const clients, rounds = 20, 25
	db := proxy(clients)
	defer db.Close()
	ctx := context.Background()
	conns := make([]*sql.Conn, clients)
	for g := range conns {
		c, err := db.Conn(ctx)
		must(err, "db.Conn")
		conns[g] = c
		var one int
		must(c.QueryRowContext(ctx, "SELECT 1").Scan(&one), "connect")
	}
	var mu sync.Mutex
	var problems []string
	wrongRows, checkedRows := 0, 0
	report := func(g int, format string, args ...interface{}) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 15 {
			problems = append(problems, fmt.Sprintf("conn %d: ", g)+fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int, c *sql.Conn) {
			defer wg.Done()
			defer c.Close()
			named, err := c.PrepareContext(ctx, "SELECT $1::text || ':' || id, amount::text FROM big"+
				" WHERE id BETWEEN $2 AND $3 ORDER BY id")
			if err != nil {
				report(g, "Prepare: %v", err)
				return
			}
			defer named.Close()
			<-start
			wrong, checked := 0, 0
			for r := 0; r < rounds; r++ {
				// Unnamed statement (Parse/Describe/Sync, then Bind/Execute/Sync): grp and limit are this
				// connection's own, and so is the statement text (the literal owner column), so
				// another client's statement bound with these parameters shows as a wrong owner.
				grp, limit := (g*7+r)%100, 1000*(1+(g+r)%5)
				rows, err := c.QueryContext(ctx, fmt.Sprintf("SELECT id, grp, label, $1::int AS who, %d AS owner"+
					" FROM big WHERE grp = $2 AND id <= $3 ORDER BY id", g), g, grp, limit)
				if err != nil {
					report(g, "round %d unnamed: %v", r, err)
					wrong++
					continue
				}
				want := 0
				for id := grp; id <= limit; id += 100 {
					if id > 0 {
						want++
					}
				}
				next := grp
				if next == 0 {
					next = 100
				}
				got := 0
				for rows.Next() {
					var id, rgrp, who, owner int
					var label string
					if err := rows.Scan(&id, &rgrp, &label, &who, &owner); err != nil {
						report(g, "round %d unnamed scan: %v", r, err)
						wrong++
						break
					}
					got++
					checked++
					if id != next || rgrp != grp || label != fmt.Sprintf("row-%d", id) || who != g || owner != g {
						wrong++
						report(g, "round %d asked grp=%d id<=%d who=%d owner=%d, got row (%d, %d, %q, %d, %d)", r, grp,
							limit, g, g, id, rgrp, label, who, owner)
					}
					next += 100
				}
				if err := rows.Err(); err != nil {
					report(g, "round %d unnamed rows: %v", r, err)
					wrong++
				}
				rows.Close()
				if got != want {
					wrong++
					report(g, "round %d unnamed: %d rows, want %d", r, got, want)
				}
				// Named statement with text results of another shape.
				lo := g*1000 + r*10 + 1
				prefix := fmt.Sprintf("c%d-r%d", g, r)
				rows, err = named.QueryContext(ctx, prefix, lo, lo+9)
				if err != nil {
					report(g, "round %d named: %v", r, err)
					wrong++
					continue
				}
				id := lo
				for rows.Next() {
					var tag, amount string
					if err := rows.Scan(&tag, &amount); err != nil {
						report(g, "round %d named scan: %v", r, err)
						wrong++
						break
					}
					checked++
					wantAmount := fmt.Sprintf("%d.%02d", id*125/100, id*125%100)
					if tag != fmt.Sprintf("%s:%d", prefix, id) || amount != wantAmount {
						wrong++
						report(g, "round %d named: asked %s id=%d, got (%q, %q)", r, prefix, id, tag, amount)
					}
					id++
				}
				if err := rows.Err(); err != nil {
					report(g, "round %d named rows: %v", r, err)
					wrong++
				}
				rows.Close()
				if id != lo+10 {
					wrong++
					report(g, "round %d named: %d rows, want 10", r, id-lo)
				}
			}
			mu.Lock()
			wrongRows += wrong
			checkedRows += checked
			mu.Unlock()
		}(g, conns[g])
	}
	close(start)
	wg.Wait()
	fmt.Printf("       (20 connections: %d rows checked, %d wrong)\n", checkedRows, wrongRows)
	check(wrongRows == 0 && len(problems) == 0, "%d wrong rows or errors:\n  %s", wrongRows,
		strings.Join(problems, "\n  "))
	check(checkedRows == clients*rounds*10+sumExpectedUnnamed(clients, rounds), "rows checked %d", checkedRows)
}

func sumExpectedUnnamed(clients, rounds int) int {
	total := 0
	for g := 0; g < clients; g++ {
		for r := 0; r < rounds; r++ {
			grp, limit := (g*7+r)%100, 1000*(1+(g+r)%5)
			for id := grp; id <= limit; id += 100 {
				if id > 0 {
					total++
				}
			}
		}
	}
	return total
}

func main() {
	fmt.Printf("== lib/pq through pgro (%s pooling, POOL_SIZE=%s)\n", poolMode, os.Getenv("PGRO_POOL_SIZE"))
	run("unnamed_statement_many_times", unnamedStatementManyTimes)
	run("named_prepared_statements", namedPreparedStatements)
	run("types_round_trip", typesRoundTrip)
	run("transaction_savepoint_begin_read_write", transactionSavepoint)
	run("read_only_transaction_options", readOnlyTransactionOptions)
	run("streamed_100k_rows_and_cursor", streamed100kRows)
	run("error_then_recovery", errorThenRecovery)
	run("writes_refused_25006", writesRefused)
	run("cancel_on_context_timeout", cancelOnContext)
	run("metadata_and_catalog", metadataAndCatalog)
	run("twenty_concurrent_connections", twentyConcurrentConnections)
	fmt.Printf("lib-pq suite: %d passed, %d failed\n", len(passed), len(failed))
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "failed: %s\n", strings.Join(failed, ", "))
		os.Exit(1)
	}
}
