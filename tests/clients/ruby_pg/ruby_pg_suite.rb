#!/usr/bin/ruby
# ruby-pg 1.4 (Debian ruby-pg, libpq underneath) through pgro. Run by pgro_client_env in
# transaction and session pooling (PGRO_POOL_MODE): PG* point at pgro, PGRO_DIRECT_* at
# PostgreSQL itself.
#
# Tried (one test each below): exec_params in text and binary result format and
# prepare/exec_prepared run 200 times (one name per connection, several names, a name that
# errors and is reused); every fixture type through PG::BasicTypeMapForResults in text and
# binary format and PG::BasicTypeMapForQueries parameters equal to the same direct; a
# transaction with a savepoint; 100k rows streamed in single-row mode (text and binary);
# errors then recovery; writes refused with 25006; PG::Connection#cancel from another thread
# and statement_timeout given in the startup options; describe_prepared / describe_portal,
# result metadata and the type registry's pg_type introspection equal to direct; 20 threads
# with a connection each, every row checked.
# Differs from PostgreSQL through pgro (the check is the proof):
#   - refused_statement_aborts_transaction: a statement pgro refuses itself inside BEGIN (a
#     syntax error, 42601; a write, 25006) leaves the transaction open: ReadyForQuery 'T' and
#     the next statement runs, where PostgreSQL answers 'E' and 25P02 until ROLLBACK
#     (session/session_query.cpp refuse() replies with the current tx_status_).
# Not tried: COPY (psql and psycopg cover it), LISTEN/NOTIFY, pipeline mode (ruby-pg 1.5).
require 'pg'
require 'bigdecimal'
require 'digest'

$stdout.sync = true
$stderr.sync = true
POOL_MODE = ENV.fetch('PGRO_POOL_MODE', 'transaction')
PASSED = []
FAILED = []

def proxy(**opts)
  PG.connect(host: ENV['PGHOST'], port: ENV['PGPORT'], user: ENV['PGUSER'],
             password: ENV['PGPASSWORD'], dbname: ENV['PGDATABASE'], **opts)
end

def direct(**opts)
  PG.connect(host: ENV['PGRO_DIRECT_HOST'], port: ENV['PGRO_DIRECT_PORT'],
             user: ENV['PGRO_DIRECT_USER'], password: ENV['PGRO_DIRECT_PASSWORD'],
             dbname: ENV['PGRO_DIRECT_DATABASE'], **opts)
end

class CheckFailed < StandardError; end

def check(cond, message)
  raise CheckFailed, message unless cond
end

# Runs the block, which must raise PG::Error with SQLSTATE +state+; returns the error.
def expect_state(state, what)
  yield
rescue PG::Error => e
  got = e.result&.error_field(PG::PG_DIAG_SQLSTATE)
  check(got == state, "#{what}: expected #{state}, got #{got}: #{e.message}")
  e
else
  raise CheckFailed, "#{what}: no error, expected #{state}"
end

def test(name)
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  yield
  PASSED << name
  puts format('ok     %s (%.2fs)', name, Process.clock_gettime(Process::CLOCK_MONOTONIC) - start)
rescue StandardError => e
  FAILED << name
  warn "FAILED #{name}\n#{e.class}: #{e.message}\n  #{e.backtrace.first(4).join("\n  ")}"
end

test 'prepared_statements_many_times' do
  conn = proxy
  conn.prepare('count_grp', 'SELECT count(*), $1::int FROM big WHERE grp = $2')
  conn.prepare('label', 'SELECT label FROM big WHERE id = $1')
  200.times do |i|
    r = conn.exec_prepared('count_grp', [i, i % 100])
    check(r.values == [['1000', i.to_s]], "count_grp run #{i}: #{r.values}")
    r = conn.exec_prepared('label', [i + 1], 1) # binary result
    check(r.getvalue(0, 0) == "row-#{i + 1}", "label run #{i}")
    conn.transaction { check(conn.exec_prepared('count_grp', [i, 1]).getvalue(0, 1) == i.to_s, 'in tx') } if i % 20 == 0
  end
  conn.prepare('div', 'SELECT 100 / $1::int')
  3.times do
    expect_state('22012', 'prepared 1/0') { conn.exec_prepared('div', [0]) }
    check(conn.exec_prepared('div', [4]).getvalue(0, 0) == '25', 'reused after error')
  end
  expect_state('42P05', 'same name twice') { conn.prepare('div', 'SELECT 1') }
  expect_state('26000', 'unknown name') { conn.exec_prepared('no_such_stmt', []) }
  conn.exec('DEALLOCATE div')
  conn.prepare('div', 'SELECT 200 / $1::int')
  check(conn.exec_prepared('div', [4]).getvalue(0, 0) == '50', 're-prepared after DEALLOCATE')
  100.times do |i|
    r = conn.exec_params('SELECT $1::int * 2, $2::text', [i, "v#{i}"], i.odd? ? 1 : 0)
    want = i.odd? ? [[i * 2].pack('l>'), "v#{i}"] : [(i * 2).to_s, "v#{i}"]
    check(r.values == [want], "exec_params run #{i}: #{r.values}")
  end
  conn.close
end

# Types ruby-pg has no decoder for (uuid, interval, json in binary, ...) come as raw strings
# (PG::TypeMapAllStrings) instead of a warning per column.
def result_type_map(conn)
  map = PG::BasicTypeMapForResults.new(conn)
  map.default_type_map = PG::TypeMapAllStrings.new
  map
end

def typed_both(sql, params = [], format = 0)
  [proxy, direct].map do |conn|
    conn.type_map_for_results = result_type_map(conn)
    conn.type_map_for_queries = PG::BasicTypeMapForQueries.new(conn)
    r = conn.exec_params(sql, params, format)
    out = [r.values.inspect, r.fields, (0...r.nfields).map { |i| [r.ftype(i), r.fmod(i), r.fformat(i)] }]
    conn.close
    [out, r.values]
  end
end

test 'types_round_trip_text_and_binary' do
  [0, 1].each do |format|
    (p, pv), (d, _) = typed_both('SELECT * FROM typed ORDER BY id', [], format)
    check(p == d, "format #{format}\n proxy  #{p}\n direct #{d}")
    check(pv.size == 5 && pv[0][1] == 42 && pv[0][2] == 9_000_000_000, "format #{format}: #{pv[0]}")
    check(pv[0][6] == "\x01\x02".b && pv[1][6] == "\x00\xff\x10".b, "bytea #{pv[1][6].inspect}")
    check(pv[1][4].nan? && pv[2][4] == Float::INFINITY && pv[0][7] == true, 'float8, bool')
    check(pv[0][9] == Time.utc(2024, 2, 29, 12, 34, 56.789012r), "timestamptz #{pv[0][9].inspect}")
    check(pv[4][1..].all?(&:nil?), 'NULL row')
    check(pv[1][14] == [1, nil, 3] && pv[1][15] == ['a b', nil, 'c,d', '"q"'], "arrays #{pv[1][14]}") if format.zero?
  end
  params = [2**62, BigDecimal('12345678901234567890.123456789'), 1.5, Float::NAN,
            "it's \"quoted\" \\ \u00e9\u2713", PG::BasicTypeMapForQueries::BinaryData.new("\x00\x01\xff'".b), true, false,
            Time.utc(2024, 2, 29, 1, 2, 3.456789r), [1, nil, 3], %w[a b,c], { 'k' => [1, 'two', nil] }, nil]
  casts = %w[bigint numeric float8 float8 text bytea bool bool timestamptz int[] text[] json text]
  sql = 'SELECT ' + casts.each_with_index.map { |c, i| "$#{i + 1}::#{c}" }.join(', ')
  [0, 1].each do |format|
    (p, pv), (d, _) = typed_both(sql, params, format)
    check(p == d, "parameters format #{format}\n proxy  #{p}\n direct #{d}")
    check(pv[0][0] == 2**62 && pv[0][5] == params[5] && pv[0][4] == params[4] &&
          pv[0][8] == params[8] && pv[0][12].nil?, "parameters #{pv[0].inspect}")
  end
end

test 'transaction_with_savepoint' do
  conn = proxy
  conn.transaction do |c|
    pid = c.exec('SELECT pg_backend_pid()').getvalue(0, 0)
    c.exec('SAVEPOINT s1')
    expect_state('42P01', 'in s1') { c.exec('SELECT * FROM no_such_table') }
    check(c.transaction_status == PG::PQTRANS_INERROR, 'in error')
    c.exec('ROLLBACK TO SAVEPOINT s1')
    check(c.exec('SELECT count(*) FROM app.events').getvalue(0, 0) == '50', 'after rollback to')
    c.exec('SAVEPOINT s2')
    check(c.exec_params('SELECT $1::text', ['x']).getvalue(0, 0) == 'x', 'in s2')
    c.exec('RELEASE SAVEPOINT s2')
    check(c.exec('SELECT pg_backend_pid()').getvalue(0, 0) == pid, 'one backend')
    check(c.exec('SHOW transaction_read_only').getvalue(0, 0) == 'on', 'read-only')
  end
  check(conn.transaction_status == PG::PQTRANS_IDLE, 'committed')
  conn.close
end

def big_expected
  conn = direct
  row = conn.exec("SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id)) FROM big").values[0]
  conn.close
  row
end

BIG = big_expected

def stream_checksum(conn, format)
  conn.send_query_params('SELECT id, grp, label, amount::text FROM big ORDER BY id', [], format)
  conn.set_single_row_mode
  count = id_sum = 0
  amount = BigDecimal('0')
  md5 = Digest::MD5.new
  single = 0
  loop do
    r = conn.get_result or break
    single += 1 if r.result_status == PG::PGRES_SINGLE_TUPLE
    r.check
    r.each_row do |id, _grp, label, amt|
      id = format.zero? ? id.to_i : id.unpack1('l>')
      md5 << ',' unless count.zero?
      count += 1
      id_sum += id
      amount += BigDecimal(amt)
      md5 << label
    end
  end
  [[count.to_s, id_sum.to_s, amount.to_s('F'), md5.hexdigest], single]
end

test 'streamed_100k_rows_single_row_mode' do
  conn = proxy
  [0, 1].each do |format|
    got, single = stream_checksum(conn, format)
    want = [BIG[0], BIG[1], BigDecimal(BIG[2]).to_s('F'), BIG[3]]
    check(got == want, "format #{format}: #{got} vs #{want}")
    check(single == 100_000, "#{single} single-row results")
  end
  check(conn.exec("SELECT 'after'").getvalue(0, 0) == 'after', 'usable after streaming')
  conn.close
end

test 'errors_and_recovery' do
  conn = proxy
  [['SELECT 1/0', '22012', PG::DivisionByZero], ['SELECT * FROM no_such_table', '42P01', PG::UndefinedTable],
   ['SELEKT 1', '42601', PG::SyntaxError], ["SELECT 'x'::int", '22P02', PG::InvalidTextRepresentation]].each do |sql, state, klass|
    e = expect_state(state, sql) { conn.exec(sql) }
    check(e.is_a?(klass), "#{sql}: #{e.class}")
    check(conn.exec('SELECT count(*) FROM typed').getvalue(0, 0) == '5', "after #{sql}")
    next if state == '42601' # pgro answers it without the server: see the next test

    conn.exec('BEGIN')
    expect_state(state, "#{sql} in a transaction") { conn.exec(sql) }
    expect_state('25P02', 'aborted transaction') { conn.exec('SELECT 1') }
    conn.exec('ROLLBACK')
    check(conn.exec_params('SELECT $1::int', [7]).getvalue(0, 0) == '7', "after rollback #{sql}")
  end
  conn.close
end

# PostgreSQL aborts a transaction block at any error: the next statement gets 25P02 until
# ROLLBACK, and ReadyForQuery says 'E'. Drivers and apps rely on it (a COMMIT after a failed
# statement rolls back). Here the errors are pgro's own refusals, answered without the server.
test 'refused_statement_aborts_transaction' do
  conn = proxy
  [['SELEKT 1', '42601'], ["INSERT INTO big VALUES (100001, 1, 'x', 1)", '25006']].each do |sql, state|
    conn.exec('BEGIN')
    expect_state(state, sql) { conn.exec(sql) }
    check(conn.transaction_status == PG::PQTRANS_INERROR,
          "after #{sql} in a transaction: transaction status #{conn.transaction_status}, PostgreSQL gives #{PG::PQTRANS_INERROR} (failed)")
    expect_state('25P02', "statement after #{sql}") { conn.exec('SELECT 1') }
    conn.exec('ROLLBACK')
  end
  conn.close
end

test 'writes_refused_25006' do
  conn = proxy
  ["INSERT INTO big VALUES (100001, 1, 'x', 1)", 'DELETE FROM app.events', 'CREATE TABLE t_new (x int)'].each do |sql|
    e = expect_state('25006', sql) { conn.exec(sql) }
    check(e.is_a?(PG::ReadOnlySqlTransaction) && e.message.include?('Write operations are not permitted'), e.message)
  end
  expect_state('25006', 'exec_params UPDATE') { conn.exec_params('UPDATE typed SET c_text = $1 WHERE id = 1', ['y']) }
  expect_state('25006', 'prepare UPDATE') { conn.prepare('upd', 'UPDATE typed SET c_text = $1') }
  check(conn.exec('SELECT count(*) FROM big').getvalue(0, 0) == '100000', 'after writes')
  conn.close
end

test 'cancel_and_timeout' do
  conn = proxy
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  worker = Thread.new do
    conn.exec('SELECT pg_sleep(10)')
    nil
  rescue PG::Error => e
    e
  end
  sleep 0.7
  check(conn.cancel.nil?, 'PG::Connection#cancel reported an error')
  check(worker.join(15), 'still running 15 s after cancel')
  check(worker.value.is_a?(PG::QueryCanceled), "got #{worker.value.inspect}")
  elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
  check(elapsed < 5, format('cancel took %.1fs', elapsed))
  check(conn.exec("SELECT 'alive'").getvalue(0, 0) == 'alive', 'usable after cancel')
  conn.close
  conn = proxy(options: '-c statement_timeout=1000')
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  expect_state('57014', 'statement_timeout') { conn.exec('SELECT pg_sleep(10)') }
  check(Process.clock_gettime(Process::CLOCK_MONOTONIC) - start < 5, 'timeout took too long')
  check(conn.exec('SHOW statement_timeout').getvalue(0, 0) == '1s', 'setting kept')
  conn.close
end

def introspect(conn)
  conn.prepare('meta', 'SELECT id, label, amount FROM big WHERE grp = $1 AND label LIKE $2')
  d = conn.describe_prepared('meta')
  conn.exec('BEGIN')
  conn.exec("DECLARE meta_cur CURSOR FOR SELECT c_uuid, c_jsonb, c_text_arr FROM typed")
  portal = conn.describe_portal('meta_cur')
  conn.exec('ROLLBACK')
  r = conn.exec('SELECT * FROM typed LIMIT 0')
  registry = result_type_map(conn) # queries pg_type
  {
    prepared: [d.nparams, (0...d.nparams).map { |i| d.paramtype(i) }, d.fields,
               (0...d.nfields).map { |i| [d.ftype(i), d.fmod(i), d.ftablecol(i)] }],
    portal: [portal.fields, (0...portal.nfields).map { |i| portal.ftype(i) }],
    typed: (0...r.nfields).map { |i| [r.fname(i), r.ftype(i), r.fmod(i), r.fsize(i), r.ftablecol(i)] },
    columns: conn.exec("SELECT table_schema, table_name, column_name, data_type, is_nullable
                        FROM information_schema.columns WHERE table_schema IN ('public', 'app')
                        ORDER BY 1, 2, ordinal_position").values,
    decoders: registry.coders.map { |c| [c.oid, c.name, c.format] }.sort,
    version: [conn.server_version / 10_000, conn.parameter_status('server_encoding'),
              conn.parameter_status('integer_datetimes')]
  }
end

test 'metadata_and_introspection' do
  pc, dc = proxy, direct
  p, d = introspect(pc), introspect(dc)
  p.each_key { |k| check(p[k] == d[k], "#{k}\n proxy  #{p[k]}\n direct #{d[k]}") }
  check(p[:prepared][0] == 2 && p[:prepared][1] == [23, 25] && p[:prepared][2] == %w[id label amount],
        "describe_prepared #{p[:prepared]}")
  check(p[:portal][0] == %w[c_uuid c_jsonb c_text_arr] && p[:portal][1] == [2950, 3802, 1009], "portal #{p[:portal]}")
  check(p[:typed].size == 16 && p[:columns].size >= 20, "columns #{p[:columns].size}")
  check(p[:decoders].size > 10 && p[:version][0] == 15, "registry #{p[:decoders].size} #{p[:version]}")
  [pc, dc].each(&:close)
end

test 'twenty_concurrent_connections' do
  conns = Array.new(20) { proxy }
  start = Queue.new
  threads = conns.each_with_index.map do |conn, i|
    Thread.new do
      start.pop
      # Every connection names its statement 'rows', and its text is its own (the literal owner
      # column): another connection's statement run with these parameters shows as a wrong owner.
      sql = "SELECT id, grp, label, $1::text, #{i} AS owner FROM big WHERE grp = $2 AND id <= $3 ORDER BY id"
      conn.prepare('rows', sql)
      5.times do |j|
        grp = (i * 7 + j) % 100
        limit = 2000 + i * 100 + j
        got = if j.even?
                conn.exec_prepared('rows', ["c#{i}", grp, limit]).values
              else
                conn.exec_params(sql, ["c#{i}", grp, limit]).values
              end
        want = (1..limit).select { |g| g % 100 == grp }.map { |g| [g.to_s, grp.to_s, "row-#{g}", "c#{i}", i.to_s] }
        check(got.size == want.size, "conn #{i} query #{j}: #{got.size} rows, want #{want.size}")
        got.zip(want).each_with_index do |(g, w), k|
          check(g == w, "conn #{i} query #{j} row #{k}: got #{g}, asked for #{w}")
        end
      end
      nil
    rescue StandardError => e
      "#{i}: #{e.class}: #{e.message}"
    end
  end
  20.times { start << true }
  errors = threads.map { |t| t.join(90) ? t.value : 'thread still running after 90 s' }.compact
  conns.each(&:close)
  check(errors.empty?, errors.join("\n"))
end

puts "ruby_pg suite (#{POOL_MODE} pooling): #{PASSED.size} passed, #{FAILED.size} failed"
warn "failed: #{FAILED.join(', ')}" unless FAILED.empty?
exit(FAILED.empty? ? 0 : 1)
