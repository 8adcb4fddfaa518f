// node-postgres (pg 8, pure JavaScript protocol, text format) through pgro in transaction
// pooling mode. Run by pgro_client_env with NODE_PATH set by tests/clients/CMakeLists.txt:
// PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.
//
// Tried, and expected to work (one function each below):
//   - every fixture type through pgro equal (util.inspect) to the same query direct;
//     rowMode 'array'; binary result format ({binary: true}) for the types pg parses
//   - parameters of JS types (numbers, NaN/Infinity, strings, Buffer, Date, arrays, objects
//     as JSON, null)
//   - named queries ({name, text, values}) reused 60 times (Parse once per server
//     connection, then Bind/Execute), on another server connection (other clients hold the
//     first), and the same name with different text on two clients
//   - transactions: BEGIN / SAVEPOINT / error / ROLLBACK TO / COMMIT, one backend per
//     transaction; errors and recovery (22012, 42P01, 42601); writes refused with 25006
//   - cancel: pg's Client#cancel(client, query) opens a new connection and sends a
//     CancelRequest with the processID/secretKey pgro issued -> 57014 in < 5 s; and
//     statement_timeout / application_name / options sent as startup parameters
//   - pg-cursor (Execute with a row limit + Flush, portal suspended): 100k rows in batches,
//     checksum; a large plain result (100k rows), checksum
//   - pg.Pool with max 20: 200 queries at once, all results right (pgro's pool is 4)
// Not tried: COPY (node-pg needs pg-copy-streams, not packaged), TLS (pgro has no TLS
// yet; pg does not ask for TLS unless told to), LISTEN/NOTIFY (no session under
// transaction pooling), pg-native (needs libpq bindings).
'use strict';

const util = require('util');
const crypto = require('crypto');
const { Client, Pool } = require('pg');
let Cursor = null;
try {
  Cursor = require('pg-cursor');
} catch (e) {
  Cursor = null;
}

const env = process.env;
const POOL_SIZE = Number(env.PGRO_POOL_SIZE || 4);
// In session mode a client keeps one server connection for its whole session.
const SESSION_MODE = env.PGRO_POOL_MODE === 'session';
const DIRECT = {
  host: env.PGRO_DIRECT_HOST,
  port: Number(env.PGRO_DIRECT_PORT),
  user: env.PGRO_DIRECT_USER,
  password: env.PGRO_DIRECT_PASSWORD,
  database: env.PGRO_DIRECT_DATABASE,
};
const passed = [];
const failed = [];

function check(cond, message) {
  if (!cond) throw new Error('assertion failed: ' + message);
}

async function proxy(extra = {}) {
  const c = new Client(extra);  // PG* environment: pgro
  await c.connect();
  return c;
}

async function direct(extra = {}) {
  const c = new Client({ ...DIRECT, ...extra });
  await c.connect();
  return c;
}

const show = (v) => util.inspect(v, { depth: null, maxArrayLength: null, breakLength: Infinity });

async function bothRows(config) {
  const out = [];
  for (const connect of [proxy, direct]) {
    const c = await connect();
    try {
      const r = await c.query(config);
      out.push({ rows: show(r.rows), fields: show(r.fields.map((f) => [f.name, f.dataTypeID])), raw: r.rows });
    } finally {
      await c.end();
    }
  }
  return out;
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

async function holdOthers(n) {
  const holders = [];
  for (let i = 0; i < n; i++) {
    const h = await proxy();
    await h.query('BEGIN');
    await h.query('SELECT 1');
    holders.push(h);
  }
  return holders;
}

async function typesRoundTrip() {
  const [p, d] = await bothRows('SELECT * FROM typed ORDER BY id');
  check(p.fields === d.fields, `fields ${p.fields} vs ${d.fields}`);
  check(p.rows === d.rows, `rows differ:\n proxy  ${p.rows}\n direct ${d.rows}`);
  const r = p.raw;
  check(r.length === 5 && Number.isNaN(r[1].c_float8) && r[2].c_float8 === Infinity && r[3].c_float8 === -Infinity,
    'float8 NaN/Infinity');
  check(r[1].c_bytea.equals(Buffer.from([0, 0xff, 0x10])), 'bytea');
  check(show(r[1].c_int_arr) === show([1, null, 3]) && show(r[1].c_text_arr) === show(['a b', null, 'c,d', '"q"']),
    'arrays');
  check(r[2].c_numeric === 'NaN' && r[1].c_bigint === '9223372036854775807', 'numeric/bigint as strings');
  const [pa, da] = await bothRows({ text: 'SELECT * FROM typed ORDER BY id', rowMode: 'array' });
  check(pa.rows === da.rows, 'rowMode array');
  const binSql = 'SELECT id, c_int, c_bigint, c_float8, c_text, c_bool, c_timestamptz FROM typed ORDER BY id';
  const [pb, db] = await bothRows({ text: binSql, binary: true });
  check(pb.rows === db.rows, `binary format:\n proxy  ${pb.rows}\n direct ${db.rows}`);
}

async function parameters() {
  const values = [42, -2147483648, '9223372036854775807', '12345678901234567890.123456789', NaN, Infinity, -1.5,
    "it's \"quoted\" \\ tab\t\u00e9\u2713", '', Buffer.from([0, 1, 0xff, 39]), true, false,
    new Date(Date.UTC(2024, 1, 29, 1, 2, 3, 456)), [1, null, 3], ['a', 'b,c'], { k: [1, 'two', null] }, null];
  const casts = ['int', 'int', 'bigint', 'numeric', 'float8', 'float8', 'float8', 'text', 'text', 'bytea', 'bool',
    'bool', 'timestamptz', 'int[]', 'text[]', 'jsonb', 'text'];
  const text = 'SELECT ' + casts.map((c, i) => `$${i + 1}::${c}`).join(', ');
  const [p, d] = await bothRows({ text, values });
  check(p.rows === d.rows, `\n proxy  ${p.rows}\n direct ${d.rows}`);
  const [pn, dn] = await bothRows({ text: 'SELECT id FROM big WHERE id = ANY($1) AND grp = $2 ORDER BY id',
    values: [[1, 101, 201, 202], 1] });
  check(pn.rows === dn.rows && pn.raw.length === 3, 'ANY($1)');
  const c = await proxy();
  const big = 'y'.repeat(2000000);
  const r = await c.query('SELECT length($1) AS n, app.add_one($2) AS f', [big, 41]);
  check(r.rows[0].n === 2000000 && r.rows[0].f === 42, '2 MB parameter, function');
  await c.end();
}

async function namedQueries() {
  const c = await proxy();
  const q = (i) => ({ name: 'q1', text: 'SELECT count(*)::int AS n, $1::int AS i FROM big WHERE grp = $2', values: [i, i % 100] });
  for (let i = 0; i < 60; i++) {
    const r = await c.query(q(i));
    check(r.rows[0].n === 1000 && r.rows[0].i === i, `run ${i}: ${show(r.rows)}`);
  }
  await c.query('BEGIN');
  for (let i = 0; i < 10; i++) check((await c.query(q(i))).rows[0].i === i, 'in transaction');
  await c.query('COMMIT');
  // Move to another backend: the statement must be prepared there by pgro.
  const pidQ = { name: 'pid_q', text: "SELECT pg_backend_pid() AS pid, $1::text || 'x' AS v", values: ['a'] };
  const pid1 = (await c.query(pidQ)).rows[0].pid;
  const holders = await holdOthers(SESSION_MODE ? 3 : POOL_SIZE - 1);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await c.query({ ...pidQ, values: [`b${i}`] });
      check(r.rows[0].v === `b${i}x`, `on another backend: ${show(r.rows)}`);
      if (SESSION_MODE) check(r.rows[0].pid === pid1, `session left its backend (${pid1} -> ${r.rows[0].pid})`);
      else check(r.rows[0].pid !== pid1, `did not move backend (${pid1})`);
    }
  } finally {
    for (const h of holders) await h.end();
  }
  // Same statement name, different text, two clients at once.
  const other = await proxy();
  for (let i = 0; i < 10; i++) {
    const [a, b] = await Promise.all([
      c.query({ name: 'shared', text: "SELECT 'first:' || $1::text AS v", values: [i] }),
      other.query({ name: 'shared', text: "SELECT 'second:' || $1::text || ':' || count(*) AS v FROM typed", values: [i] }),
    ]);
    check(a.rows[0].v === `first:${i}` && b.rows[0].v === `second:${i}:5`, `${a.rows[0].v} ${b.rows[0].v}`);
  }
  // A named query that errors, then is reused.
  const div = (x) => ({ name: 'div', text: 'SELECT 100 / $1::int AS v', values: [x] });
  check((await c.query(div(4))).rows[0].v === 25, 'div 4');
  await expectCode('22012', c.query(div(0)), 'div 0');
  check((await c.query(div(5))).rows[0].v === 20, 'div reuse after error');
  await other.end();
  await c.end();
}

async function transactions() {
  const c = await proxy();
  await c.query('BEGIN');
  const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
  await c.query('SELECT count(*) FROM big');
  check((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p === pid, 'one backend per transaction');
  await c.query('SAVEPOINT s1');
  await expectCode('22012', c.query('SELECT 1/0'), 'division by zero');
  await expectCode('25P02', c.query('SELECT 1'), 'aborted transaction');
  await c.query('ROLLBACK TO SAVEPOINT s1');
  check((await c.query('SELECT count(*)::int AS n FROM app.events')).rows[0].n === 50, 'after rollback to');
  await c.query('COMMIT');
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  check((await c.query('SHOW transaction_isolation')).rows[0].transaction_isolation === 'repeatable read', 'iso');
  await c.query('ROLLBACK');
  for (const [sql, code] of [['SELECT 1/0', '22012'], ['SELECT * FROM no_such_table', '42P01'], ['SELEKT 1', '42601'],
    ["INSERT INTO big VALUES (100001, 1, 'x', 1)", '25006'], ['DELETE FROM typed', '25006']]) {
    const e = await expectCode(code, c.query(sql), sql);
    if (code === '25006') check(e.message.includes('Write operations are not permitted'), e.message);
    check((await c.query('SELECT count(*)::int AS n FROM typed')).rows[0].n === 5, `after ${sql}`);
  }
  await expectCode('25006', c.query({ text: 'INSERT INTO big VALUES ($1, 1, $2, 1)', values: [100002, 'x'] }),
    'parameterised insert');
  check((await c.query('SELECT count(*)::int AS n FROM big')).rows[0].n === 100000, 'nothing written');
  await c.end();
}

async function cancelAndStartupParams() {
  const c = await proxy();
  const start = Date.now();
  const running = c.query('SELECT pg_sleep(10)');
  await new Promise((r) => setTimeout(r, 700));
  const canceller = new Client();  // a second Client only to send the CancelRequest
  canceller.cancel(c, c.activeQuery);
  await expectCode('57014', running, 'cancelled pg_sleep');
  const secs = (Date.now() - start) / 1000;
  check(secs < 5, `cancel took ${secs}s`);
  check(typeof c.processID === 'number' && c.secretKey !== undefined, 'BackendKeyData received');
  check((await c.query("SELECT 'alive' AS a")).rows[0].a === 'alive', 'usable after cancel');
  await c.end();

  const t = await proxy({ statement_timeout: 300, application_name: 'node-suite', options: '-c search_path=app' });
  const r = await t.query("SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS an, " +
    '(SELECT count(*)::int FROM events) AS n');
  check(r.rows[0].st === '300ms' && r.rows[0].an === 'node-suite' && r.rows[0].n === 50, show(r.rows));
  await expectCode('57014', t.query('SELECT pg_sleep(3)'), 'statement_timeout');
  await t.end();
}

async function bigExpected() {
  const d = await direct();
  const r = await d.query("SELECT count(*)::int AS n, sum(id)::text AS ids, sum(amount)::text AS amount, " +
    "md5(string_agg(label, ',' ORDER BY id)) AS md5 FROM big");
  await d.end();
  return show(r.rows[0]);
}

function checksum(rows, acc) {
  for (const r of rows) {
    acc.n += 1;
    acc.ids += BigInt(r.id);
    // amount is numeric(12,2): sum in cents exactly.
    const [whole, frac = ''] = r.amount.split('.');
    acc.cents += BigInt(whole) * 100n + BigInt((frac + '00').slice(0, 2));
    acc.labels.push(r.label);
  }
  return acc;
}

function summary(acc) {
  const amount = `${acc.cents / 100n}.${String(acc.cents % 100n).padStart(2, '0')}`;
  return show({ n: acc.n, ids: acc.ids.toString(), amount,
    md5: crypto.createHash('md5').update(acc.labels.join(',')).digest('hex') });
}

async function largeResultAndCursor() {
  const expected = await bigExpected();
  const c = await proxy();
  const all = await c.query('SELECT * FROM big ORDER BY id');
  const got = summary(checksum(all.rows, { n: 0, ids: 0n, cents: 0n, labels: [] }));
  check(got === expected, `large result ${got} vs ${expected}`);
  if (!Cursor) {
    console.log('       (pg-cursor not available: cursor not tried)');
  } else {
    const cursor = c.query(new Cursor('SELECT * FROM big WHERE id > $1 ORDER BY id', [0]));
    const acc = { n: 0, ids: 0n, cents: 0n, labels: [] };
    let batches = 0;
    for (;;) {
      const rows = await cursor.read(5000);
      if (rows.length === 0) break;
      batches++;
      checksum(rows, acc);
    }
    await cursor.close();
    check(summary(acc) === expected && batches === 20, `cursor ${summary(acc)} in ${batches} batches`);
    // A cursor closed early, then the connection is reused.
    const early = c.query(new Cursor('SELECT id FROM big ORDER BY id'));
    check((await early.read(10)).length === 10, 'early read');
    await early.close();
    check((await c.query('SELECT 7 AS v')).rows[0].v === 7, 'usable after early close');
  }
  await c.end();
}

async function poolOf20() {
  const pool = new Pool({ max: 20 });
  const start = Date.now();
  const jobs = [];
  for (let i = 0; i < 200; i++) {
    jobs.push(pool.query({ text: 'SELECT $1::int AS i, count(*)::int AS n FROM big WHERE grp = $2', values: [i, i % 100] })
      .then((r) => check(r.rows[0].i === i && r.rows[0].n === 1000, `job ${i}: ${show(r.rows)}`)));
  }
  const clients = [];
  for (let i = 0; i < 20; i++) clients.push(pool.connect());
  const held = await Promise.all(clients);  // all 20 at once, each with its own pgro connection
  await Promise.all(held.map(async (cl, i) => {
    await cl.query('BEGIN');
    check((await cl.query({ name: 'pooled', text: 'SELECT $1::int AS v', values: [i] })).rows[0].v === i, 'pooled');
    await cl.query('COMMIT');
    cl.release();
  }));
  await Promise.all(jobs);
  check(pool.totalCount === 20, `pool size ${pool.totalCount}`);
  await pool.end();
  console.log(`       (pg.Pool max 20 over pgro POOL_SIZE=${POOL_SIZE}: ${(Date.now() - start) / 1000}s)`);
}

async function main() {
  console.log(`== node ${process.version}, pg ${require('pg/package.json').version}`);
  const tests = [typesRoundTrip, parameters, namedQueries, transactions, cancelAndStartupParams,
    largeResultAndCursor, poolOf20];
  for (const t of tests) {
    const start = Date.now();
    try {
      await t();
      passed.push(t.name);
      console.log(`ok     ${t.name} (${(Date.now() - start) / 1000}s)`);
    } catch (e) {
      failed.push(t.name);
      console.error(`FAILED ${t.name}\n${e.stack}`);
    }
  }
  console.log(`node-pg suite: ${passed.length} passed, ${failed.length} failed`);
  if (failed.length) console.error('failed: ' + failed.join(', '));
  process.exit(failed.length ? 1 : 0);
}

main();
