// Postgres.js (npm `postgres`, pinned in package-lock.json; pure JavaScript protocol,
// pipelined, named prepared statements by default) through pgro. Run by pgro_client_env in
// transaction and session pooling: PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.
// Postgres.js is an ES module only and ES modules ignore NODE_PATH, so the suite imports it
// from POSTGRES_JS_MODULES (the node_modules tests/clients/postgres-js/install_deps.sh
// filled).
//
// Tried, and expected to work (one function each below):
//   - prepared statements (prepare: true, the default: one named statement per query text
//     and connection) used 200 times with two statement shapes, pipelined (Promise.all) and
//     one by one; prepare: false (what its README says for poolers in transaction mode:
//     Parse "" + Describe + Flush, then Bind + Execute + Sync, seen on the wire);
//     sql.unsafe with parameters; a statement that errors, then reused
//   - the fixture types through pgro equal (util.inspect and raw Buffers) to direct;
//     parameters of JS types
//   - sql.begin with sql.savepoint (an error and a write inside it, rolled back to it) and a
//     nested sql.begin (a savepoint); 'isolation level repeatable read read only';
//     sql.begin('read write') (BEGIN read write: the transaction stays read-only through pgro)
//   - 100k rows through a cursor (.cursor(5000): named portal, Execute with a row limit),
//     .forEach, and one plain result, checksummed
//   - errors then recovery (22012, 42P01, 42601, 22P02); writes refused with 25006
//   - query.cancel() (CancelRequest -> 57014), .signal(AbortSignal.timeout()), query_timeout
//     and statement_timeout as a connection parameter
//   - metadata: .describe(), result.columns/statement, array types and domains fetched for a
//     type it does not know, catalog queries equal to direct
//   - 20 reserved connections at once (prepare: true and prepare: false), each asking for
//     rows that depend on its own parameters, every row checked; and 200 pipelined queries
//     over a pool of max 20
// Not tried: COPY (writable streams: COPY FROM is a write; COPY TO covered by other suites),
// sql.listen / sql.subscribe (no session under transaction pooling; logical replication).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { pathToFileURL } from 'node:url';

const env = process.env;
const { default: postgres } = await import(
  pathToFileURL(path.join(env.POSTGRES_JS_MODULES, 'postgres', 'src', 'index.js')).href);
const version = JSON.parse(fs.readFileSync(path.join(env.POSTGRES_JS_MODULES, 'postgres', 'package.json'))).version;

const PROXY = {
  host: env.PGHOST, port: Number(env.PGPORT), username: env.PGUSER, password: env.PGPASSWORD,
  database: env.PGDATABASE,
};
const DIRECT = {
  host: env.PGRO_DIRECT_HOST, port: Number(env.PGRO_DIRECT_PORT), username: env.PGRO_DIRECT_USER,
  password: env.PGRO_DIRECT_PASSWORD, database: env.PGRO_DIRECT_DATABASE,
};
const passed = [];
const failed = [];

function check(cond, message) {
  if (!cond) throw new Error('assertion failed: ' + message);
}

const show = (v) => util.inspect(v, { depth: null, maxArrayLength: null, breakLength: Infinity });

// A pool of Postgres.js connections to pgro (or, with direct: true, to PostgreSQL itself).
function connect(options = {}, direct = false) {
  return postgres({ ...(direct ? DIRECT : PROXY), ssl: false, max: 1, onnotice: () => {}, ...options });
}

async function withSql(options, fn, direct = false) {
  const sql = connect(options, direct);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function expectCode(code, promise, what) {
  try {
    await promise;
  } catch (e) {
    check(e.code === code, `${what}: expected ${code}, got ${e.code} ${e.message}`);
    return e;
  }
  throw new Error(`${what}: expected error ${code}, got success`);
}

async function preparedStatements() {
  for (const prepare of [true, false]) {
    await withSql({ prepare }, async (sql) => {
      for (let i = 0; i < 200; i++) {
        const [r] = await sql`SELECT count(*)::int AS n, ${i}::int AS i, min(id) AS first FROM big WHERE grp = ${i % 100}`;
        check(r.n === 1000 && r.i === i && r.first === (i % 100 || 100), `prepare=${prepare} run ${i}: ${show(r)}`);
        const [s] = await sql`SELECT ${String(i)}::text || '-a' AS a`;
        check(s.a === `${i}-a`, `prepare=${prepare} second shape: ${show(s)}`);
      }
      // Pipelined: 100 queries sent before the first answer.
      const rs = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        sql`SELECT ${i}::int AS i, ${'p' + i}::text AS t`));
      rs.forEach(([r], i) => check(r.i === i && r.t === 'p' + i, `pipelined ${i}: ${show(r)}`));
      const u = await sql.unsafe('SELECT $1::int * 2 AS v, label FROM big WHERE id = $1', [21], { prepare });
      check(u[0].v === 42 && u[0].label === 'row-21', `unsafe: ${show(u)}`);
      await expectCode('22012', sql`SELECT 100 / ${0}::int AS v`, 'div 0');
      const [d] = await sql`SELECT 100 / ${5}::int AS v`;
      check(d.v === 20, `reuse after error: ${show(d)}`);
    });
  }
}

async function bothRows(query, args = []) {
  const out = [];
  for (const direct of [false, true]) {
    out.push(await withSql({}, async (sql) => {
      const rows = await sql.unsafe(query, args);
      const raw = await sql.unsafe(query, args).raw();
      return { rows: show(rows), raw: show(raw), columns: show(rows.columns.map((c) => [c.name, c.type])), values: rows };
    }, direct));
  }
  return out;
}

async function typesRoundTrip() {
  for (const [q, args] of [['SELECT * FROM typed ORDER BY id', []],
    ['SELECT * FROM typed WHERE id > $1 ORDER BY id', [0]],
    ["SELECT 'NaN'::numeric, '-Infinity'::float4, 1e308::float8, 'infinity'::timestamptz, '{{1,2},{3,4}}'::int[]," +
      " 'x'::char(3), 12::oid, '1.2.3.4/32'::inet, '(1,2)'::point, B'1010'::bit(4), '1 day'::interval * $1", [3]]]) {
    const [p, d] = await bothRows(q, args);
    check(p.columns === d.columns, `${q} columns ${p.columns} vs ${d.columns}`);
    check(p.rows === d.rows, `${q}:\n proxy  ${p.rows}\n direct ${d.rows}`);
    check(p.raw === d.raw, `${q} raw:\n proxy  ${p.raw}\n direct ${d.raw}`);
  }
  const [p] = await bothRows('SELECT * FROM typed WHERE id = 2');
  const r = p.values[0];
  check(Number.isNaN(r.c_float8) && r.c_bigint === '9223372036854775807' && r.c_bytea.equals(Buffer.from([0, 0xff, 0x10])),
    `row 2: ${show(r)}`);
  check(show(r.c_int_arr) === show([1, null, 3]) && show(r.c_text_arr) === show(['a b', null, 'c,d', '"q"']), 'arrays');
  await withSql({}, async (sql) => {
    const values = [42, -2147483648, '9223372036854775807', '12345678901234567890.123456789', NaN, -1.5,
      "it's \"quoted\" \\ tab\t\u00e9\u2713", '', Buffer.from([0, 1, 0xff, 39]), true,
      new Date(Date.UTC(2024, 1, 29, 1, 2, 3, 456)), [1, null, 3], ['a', 'b,c'], { k: [1, 'two', null] }, null];
    const casts = ['int', 'int', 'bigint', 'numeric', 'float8', 'float8', 'text', 'text', 'bytea', 'bool',
      'timestamptz', 'int[]', 'text[]', 'jsonb', 'text'];
    const text = 'SELECT ' + casts.map((c, i) => `$${i + 1}::${c} AS c${i}`).join(', ');
    const [got] = await sql.unsafe(text, values);
    const [want] = await withSql({}, (d) => d.unsafe(text, values), true);
    check(show(got) === show(want), `parameters:\n proxy  ${show(got)}\n direct ${show(want)}`);
    check(got.c8.equals(values[8]) && got.c6 === values[6] && got.c10.getTime() === values[10].getTime(),
      `values ${show(got)}`);
    const [big] = await sql`SELECT length(${'y'.repeat(2000000)}) AS n`;
    check(big.n === 2000000, '2 MB parameter');
  });
}

async function transactionSavepoint() {
  await withSql({}, async (sql) => {
    const result = await sql.begin(async (tx) => {
      const [{ pid }] = await tx`SELECT pg_backend_pid() AS pid`;
      const [{ n }] = await tx`SELECT count(*)::int AS n FROM big WHERE grp = ${3}`;
      const [{ pid: pid2 }] = await tx`SELECT pg_backend_pid() AS pid`;
      check(pid === pid2 && n === 1000, `one backend per transaction: ${pid} ${pid2}`);
      await expectCode('22012', tx.savepoint((sp) => sp`SELECT 1/0`), 'error inside savepoint');
      await expectCode('25006', tx.savepoint('w', (sp) => sp`DELETE FROM big WHERE id = ${1}`), 'write inside savepoint');
      const [{ e }] = await tx`SELECT count(*)::int AS e FROM app.events WHERE kind = ${'kind-1'}`;
      check(e === 17, `after rollback to savepoint: ${e}`);
      await tx.begin(async (inner) => {  // a nested begin is a savepoint
        const [{ v }] = await inner`SELECT 3 AS v`;
        check(v === 3, 'nested begin');
      });
      await expectCode('42P01', tx.begin((inner) => inner`SELECT * FROM no_such_table`), 'nested begin error');
      const [{ v }] = await tx`SELECT 'after' AS v`;
      check(v === 'after', 'after nested rollback');
      return 'committed';
    });
    check(result === 'committed', `begin returned ${result}`);
    await sql.begin('isolation level repeatable read read only', async (tx) => {
      const [{ iso }] = await tx`SELECT current_setting('transaction_isolation') AS iso`;
      check(iso === 'repeatable read', `isolation ${iso}`);
    });
  });
}

// sql.begin('read write', ...), as in Postgres.js's README: pgro accepts it and the
// transaction stays read-only.
async function beginReadWrite() {
  await withSql({}, async (sql) => {
    await sql.begin('read write', async (tx) => {
      const [{ ro }] = await tx`SELECT current_setting('transaction_read_only') AS ro`;
      check(ro === 'on', `transaction through pgro is read-only, got transaction_read_only=${ro}`);
      await expectCode('25006', tx.savepoint((sp) => sp`INSERT INTO app.events (kind) VALUES (${'k'})`), 'write');
      const [{ v }] = await tx`SELECT 'after' AS v`;
      check(v === 'after', 'after rollback to savepoint');
    });
  });
}

async function bigExpected() {
  return withSql({}, async (d) => {
    const [r] = await d`SELECT count(*)::int AS n, sum(id)::text AS ids, sum(amount)::text AS amount,
      md5(string_agg(label, ',' ORDER BY id)) AS md5 FROM big`;
    return show({ ...r });
  }, true);
}

class Checksum {
  n = 0;
  ids = 0n;
  cents = 0n;
  labels = [];

  add(r) {
    this.n += 1;
    this.ids += BigInt(r.id);
    const [whole, frac = ''] = r.amount.split('.');
    this.cents += BigInt(whole) * 100n + BigInt((frac + '00').slice(0, 2));
    this.labels.push(r.label);
  }

  summary() {
    return show({ n: this.n, ids: this.ids.toString(), amount: `${this.cents / 100n}.${String(this.cents % 100n).padStart(2, '0')}`,
      md5: crypto.createHash('md5').update(this.labels.join(',')).digest('hex') });
  }
}

async function cursorAndStreams() {
  const expected = await bigExpected();
  await withSql({}, async (sql) => {
    const viaCursor = new Checksum();
    let batches = 0;
    for await (const rows of sql`SELECT * FROM big WHERE id > ${0} ORDER BY id`.cursor(5000)) {
      batches++;
      rows.forEach((r) => viaCursor.add(r));
    }
    check(viaCursor.summary() === expected && batches === 20, `cursor ${viaCursor.summary()} in ${batches} batches`);
    const viaForEach = new Checksum();
    await sql`SELECT * FROM big ORDER BY id`.forEach((r) => viaForEach.add(r));
    check(viaForEach.summary() === expected, `forEach ${viaForEach.summary()}`);
    const all = new Checksum();
    (await sql`SELECT * FROM big ORDER BY id`).forEach((r) => all.add(r));
    check(all.summary() === expected, `plain result ${all.summary()}`);
    // A cursor closed early, then the connection is reused.
    for await (const rows of sql`SELECT id FROM big ORDER BY id`.cursor(10)) {
      check(rows.length === 10, 'early batch');
      break;
    }
    const [{ v }] = await sql`SELECT 7 AS v`;
    check(v === 7, 'usable after early close');
  });
}

async function errorThenRecovery() {
  for (const prepare of [true, false]) {
    await withSql({ prepare }, async (sql) => {
      for (const [q, args, code] of [['SELECT 1/0', [], '22012'], ['SELECT * FROM no_such_table', [], '42P01'],
        ['SELEKT 1', [], '42601'], ['SELECT $1::text::int', ['x'], '22P02'], ['SELECT 1/$1::int', [0], '22012']]) {
        await expectCode(code, sql.unsafe(q, args), q);
        const [{ n }] = await sql`SELECT count(*)::int AS n FROM typed WHERE id <= ${4}`;
        check(n === 4, `after ${q}: ${n}`);
      }
    });
  }
}

async function writesRefused() {
  await withSql({}, async (sql) => {
    for (const [q, args] of [["INSERT INTO big VALUES (100001, 1, 'x', 1)", []], ['DELETE FROM typed', []],
      ['UPDATE big SET label = $1 WHERE id = $2', ['y', 1]], ['INSERT INTO app.events (kind) VALUES ($1)', ['k']],
      ['CREATE TABLE t_new (x int)', []]]) {
      const e = await expectCode('25006', sql.unsafe(q, args), q);
      check(e.message.includes('not permitted') || e.message.includes('read-only'), e.message);
    }
  });
  const counts = await withSql({}, (d) => d`SELECT (SELECT count(*)::int FROM big) AS b,
    (SELECT count(*)::int FROM app.events) AS e`, true);
  check(counts[0].b === 100000 && counts[0].e === 50, `written: ${show(counts)}`);
}

async function sleepingBackends() {
  return withSql({}, async (d) => {
    for (let i = 0; i < 30; i++) {
      const [{ n }] = await d`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active'
        AND query LIKE 'SELECT pg_sleep(%'`;
      if (n === 0) return 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    return -1;
  }, true);
}

async function cancelAndTimeouts() {
  await withSql({}, async (sql) => {
    let start = Date.now();
    const q = sql`SELECT pg_sleep(${10})`.execute();
    setTimeout(() => q.cancel(), 700);
    await expectCode('57014', q, 'query.cancel()');
    check(Date.now() - start < 5000, `cancel took ${Date.now() - start} ms`);
    check(await sleepingBackends() === 0, 'backend still sleeping after cancel');
    start = Date.now();
    await expectCode('57014', sql`SELECT pg_sleep(10)`.signal(AbortSignal.timeout(500)), 'AbortSignal.timeout');
    check(Date.now() - start < 5000, `signal took ${Date.now() - start} ms`);
    const [{ v }] = await sql`SELECT 'alive' AS v`;
    check(v === 'alive', 'usable after cancel');
  });
  await withSql({ query_timeout: 0.5 }, async (sql) => {
    const start = Date.now();
    const e = await expectCode('QUERY_TIMEOUT', sql`SELECT pg_sleep(10)`, 'query_timeout');
    check(e.cause?.code === '57014', `query_timeout cause ${show(e.cause)}`);
    check(Date.now() - start < 5000, `query_timeout took ${Date.now() - start} ms`);
    check(await sleepingBackends() === 0, 'backend still sleeping after query_timeout');
  });
  await withSql({ connection: { statement_timeout: 300, application_name: 'postgres-js-suite' } }, async (sql) => {
    const [r] = await sql`SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS an`;
    check(r.st === '300ms' && r.an === 'postgres-js-suite', show(r));
    await expectCode('57014', sql`SELECT pg_sleep(3)`, 'statement_timeout');
  });
}

async function metadata() {
  const describe = (sql) => sql`SELECT id, label, amount, ${'x'}::uuid AS u, ${[1]}::int[] AS a FROM big WHERE id = ${1}`
    .describe();
  const [p, d] = [await withSql({}, describe), await withSql({}, describe, true)];
  check(show(p.types) === show(d.types) && show(p.columns.map((c) => [c.name, c.type, c.table, c.number])) ===
    show(d.columns.map((c) => [c.name, c.type, c.table, c.number])), `describe:\n proxy  ${show(p)}\n direct ${show(d)}`);
  check(show(p.types) === show([2950, 1007, 23]), `parameter types ${show(p.types)}`);
  // A type Postgres.js does not know (the row type of `typed`): the pool reads array types and
  // domains from pg_catalog first. (Not eager_types: true, which hangs about one pool in ten
  // with Postgres.js 4.2.0 directly against PostgreSQL 15 too.)
  await withSql({}, async (sql) => {
    const r = await sql`SELECT t FROM typed t ORDER BY id`;
    const want = await withSql({}, (x) => x`SELECT t FROM typed t ORDER BY id`, true);
    check(show(r) === show(want), `composite:\n ${show(r)}\n ${show(want)}`);
    check(r.statement && r.statement.columns.length === 1 && r.columns[0].type === want.columns[0].type,
      `statement ${show(r.statement)}`);
  });
  for (const [q, args] of [
    ['SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY($1) ORDER BY 1, 2',
      [['public', 'app']]],
    ['SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1' +
      ' AND table_name = $2 ORDER BY ordinal_position', ['public', 'typed']],
    ['SELECT b.oid, b.typarray FROM pg_catalog.pg_type a LEFT JOIN pg_catalog.pg_type b ON b.oid = a.typelem' +
      " WHERE a.typcategory = 'A' AND b.typname = ANY($1) GROUP BY b.oid, b.typarray ORDER BY b.oid",
    [['int4', 'text', 'jsonb', 'typed']]]]) {
    const [pr, dr] = await bothRows(q, args);
    check(pr.values.length > 0 && pr.rows === dr.rows, `${q}:\n proxy  ${pr.rows}\n direct ${dr.rows}`);
  }
}

// Rows that depend on (g, r) only; returns the number of rows checked.
async function askAndCheck(sql, who, g, r, problems) {
  const grp = (g * 7 + r) % 100;
  const limit = 1000 * (1 + (g + r) % 5);
  // The statement text is this client's own too (the literal owner column): another client's
  // statement bound with these parameters shows as a wrong owner.
  const rows = await sql`SELECT id, grp, label, ${g}::int AS who, ${sql.unsafe(String(g))} AS owner FROM big
    WHERE grp = ${grp} AND id <= ${limit} ORDER BY id`;
  const want = [];
  for (let id = grp; id <= limit; id += 100) if (id > 0) want.push(id);
  rows.forEach((row, i) => {
    const id = want[i];
    if (row.id !== id || row.grp !== grp || row.label !== `row-${id}` || row.who !== g || row.owner !== g) {
      problems.push(`${who} round ${r}: asked grp=${grp} id<=${limit} who=${g} owner=${g}, got ${show({ ...row })}`);
    }
  });
  if (rows.length !== want.length) problems.push(`${who} round ${r}: ${rows.length} rows, want ${want.length}`);
  const lo = g * 1000 + r * 10 + 1;
  const prefix = `${who}-r${r}`;
  const rows2 = await sql`SELECT ${prefix}::text || ':' || id AS tag, amount FROM big
    WHERE id BETWEEN ${lo} AND ${lo + 9} ORDER BY id`;
  rows2.forEach((row, i) => {
    const id = lo + i;
    const amount = `${Math.floor(id * 125 / 100)}.${String(id * 125 % 100).padStart(2, '0')}`;
    if (row.tag !== `${prefix}:${id}` || row.amount !== amount) {
      problems.push(`${who} round ${r}: asked ${prefix} id=${id}, got ${show({ ...row })}`);
    }
  });
  if (rows2.length !== 10) problems.push(`${who} round ${r}: second shape ${rows2.length} rows, want 10`);
  return rows.length + rows2.length;
}

async function twentyConcurrentConnections() {
  const problems = [];
  let checked = 0;
  for (const prepare of [true, false]) {
    const sql = connect({ max: 20, prepare });
    try {
      const reserved = await Promise.all(Array.from({ length: 20 }, () => sql.reserve()));
      const counts = await Promise.all(reserved.map(async (conn, g) => {
        let n = 0;
        try {
          for (let r = 0; r < 25; r++) n += await askAndCheck(conn, `conn${g}/prepare=${prepare}`, g, r, problems);
        } catch (e) {
          problems.push(`conn${g}/prepare=${prepare}: ${e.code} ${e.message}`);
        } finally {
          conn.release();
        }
        return n;
      }));
      checked += counts.reduce((a, b) => a + b, 0);
      // The pool itself: 200 queries at once over its 20 connections, pipelined.
      const jobs = Array.from({ length: 200 }, (_, i) =>
        sql`SELECT ${i}::int AS i, count(*)::int AS n FROM big WHERE grp = ${i % 100}`.then(([row]) => {
          checked++;
          if (row.i !== i || row.n !== 1000) problems.push(`pool job ${i}: ${show({ ...row })}`);
        }, (e) => problems.push(`pool job ${i}: ${e.code} ${e.message}`)));
      await Promise.all(jobs);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  console.log(`       (20 reserved connections x2 and 200 pooled queries x2: ${checked} rows checked,` +
    ` ${problems.length} wrong rows or errors)`);
  check(problems.length === 0, `${problems.length} wrong rows or errors:\n  ${problems.slice(0, 15).join('\n  ')}`);
}

console.log(`== Postgres.js ${version} through pgro (${env.PGRO_POOL_MODE} pooling, POOL_SIZE=${env.PGRO_POOL_SIZE})`);
for (const t of [preparedStatements, typesRoundTrip, transactionSavepoint, beginReadWrite, cursorAndStreams, errorThenRecovery,
  writesRefused, cancelAndTimeouts, metadata, twentyConcurrentConnections]) {
  const start = Date.now();
  let timer;
  try {
    await Promise.race([t(), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('did not finish in 60 s')), 60000);
    })]);
    passed.push(t.name);
    console.log(`ok     ${t.name} (${(Date.now() - start) / 1000}s)`);
  } catch (e) {
    failed.push(t.name);
    console.error(`FAILED ${t.name}\n${e.stack}`);
  } finally {
    clearTimeout(timer);
  }
}
console.log(`postgres-js suite: ${passed.length} passed, ${failed.length} failed`);
if (failed.length) console.error('failed: ' + failed.join(', '));
process.exit(failed.length ? 1 : 0);
