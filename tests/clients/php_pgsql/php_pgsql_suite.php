<?php
// PHP 8.2 pgsql and PDO_PGSQL (Debian php-cli, php-pgsql; libpq underneath) through pgro.
// Run by pgro_client_env in transaction and session pooling (PGRO_POOL_MODE): PG* point at
// pgro, PGRO_DIRECT_* at PostgreSQL itself.
//
// The two prepared paths: pgsql's pg_prepare/pg_execute (a statement name the application
// chooses, text parameters), and PDO with ATTR_EMULATE_PREPARES false (PDO prepares
// pdo_stmt_XXXXXXXX on the server, sends PDO::PARAM_LOB parameters in binary format, drops
// the statement with the SQL `DEALLOCATE pdo_stmt_...` when the PDOStatement is freed).
// PDO's scrollable cursors (ATTR_CURSOR => CURSOR_SCROLL) run
// `DECLARE pdo_crsr_XXXXXXXX SCROLL CURSOR WITH HOLD FOR ...`.
//
// Tried (one test each below): pg_prepare/pg_execute and PDO native prepares run 200 times,
// statements freed and re-prepared; every fixture type through pgsql (text) and PDO (native
// types, bytea as a stream, binary LOB parameter) equal to the same direct; a PDO transaction
// with a savepoint; 100k rows through a DECLARE/FETCH cursor (pgsql) and through PDO; a PDO
// scroll cursor (WITH HOLD);
// errors then recovery; writes refused with 25006 in both APIs; pg_cancel_query of an async
// query and statement_timeout; pg_meta_data, pg_field_* and PDO getColumnMeta equal to
// direct; 20 forked processes with a connection each, every row checked.
// pdo_scroll_cursor_with_hold failed on main 098feea with 0A000 "DECLARE ... WITH HOLD is not
// supported by pgro" (issue 11 item 6); passes since ac87ec0.
// Not tried: pg_copy_to (COPY is covered by psql/psycopg), LISTEN (pg_get_notify),
// persistent connections (pg_pconnect: no different on the wire).

declare(strict_types=1);

$POOL_MODE = getenv('PGRO_POOL_MODE') ?: 'transaction';
$PASSED = [];
$FAILED = [];

function conninfo(bool $direct, string $extra = ''): string
{
    $p = $direct ? 'PGRO_DIRECT_' : 'PG';
    $db = $direct ? getenv('PGRO_DIRECT_DATABASE') : getenv('PGDATABASE');
    $user = $direct ? getenv('PGRO_DIRECT_USER') : getenv('PGUSER');
    return sprintf("host=%s port=%s dbname=%s user=%s password='%s' %s", getenv($p . 'HOST'),
                   getenv($p . 'PORT'), $db, $user, addslashes(getenv($p . 'PASSWORD')), $extra);
}

function pg(bool $direct = false, string $extra = ''): PgSql\Connection
{
    $c = pg_connect(conninfo($direct, $extra), PGSQL_CONNECT_FORCE_NEW);
    if ($c === false) throw new RuntimeException('pg_connect failed');
    return $c;
}

function pdo(bool $direct = false, array $attrs = []): PDO
{
    $p = $direct ? 'PGRO_DIRECT_' : 'PG';
    $db = $direct ? getenv('PGRO_DIRECT_DATABASE') : getenv('PGDATABASE');
    $user = $direct ? getenv('PGRO_DIRECT_USER') : getenv('PGUSER');
    return new PDO(sprintf('pgsql:host=%s;port=%s;dbname=%s', getenv($p . 'HOST'), getenv($p . 'PORT'), $db),
                   $user, getenv($p . 'PASSWORD'),
                   $attrs + [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                             PDO::ATTR_EMULATE_PREPARES => false]);
}

function check(bool $cond, string $message): void
{
    if (!$cond) throw new RuntimeException("assertion failed: $message");
}

function show(mixed $v): string
{
    return var_export($v, true);
}

// Runs $sql (with $params) on a pgsql connection; returns [SQLSTATE or null, rows].
function pg_run(PgSql\Connection $c, string $sql, ?array $params = null): array
{
    $sent = $params === null ? pg_send_query($c, $sql) : pg_send_query_params($c, $sql, $params);
    check($sent, "send $sql");
    $state = null;
    $rows = [];
    while (($r = pg_get_result($c)) !== false) {
        $s = pg_result_error_field($r, PGSQL_DIAG_SQLSTATE);
        if ($s !== null && $s !== false) {
            $state ??= $s;
        } else {
            $rows = array_merge($rows, pg_fetch_all($r, PGSQL_NUM));
        }
    }
    return [$state, $rows];
}

function pg_ok(PgSql\Connection $c, string $sql, ?array $params = null): array
{
    [$state, $rows] = pg_run($c, $sql, $params);
    check($state === null, "$sql failed with $state: " . pg_last_error($c));
    return $rows;
}

function pdo_expect(string $state, callable $fn, string $what): PDOException
{
    try {
        $fn();
    } catch (PDOException $e) {
        check($e->errorInfo[0] === $state, "$what: expected $state, got {$e->errorInfo[0]}: {$e->getMessage()}");
        return $e;
    }
    throw new RuntimeException("$what: no error, expected $state");
}

function test(string $name, callable $fn): void
{
    global $PASSED, $FAILED;
    $start = microtime(true);
    try {
        $fn();
        $PASSED[] = $name;
        printf("ok     %s (%.2fs)\n", $name, microtime(true) - $start);
    } catch (Throwable $e) {
        $FAILED[] = $name;
        fprintf(STDERR, "FAILED %s\n%s: %s\n  at %s:%d\n", $name, get_class($e), $e->getMessage(),
                basename($e->getFile()), $e->getLine());
    }
}

test('pg_prepare_execute_many_times', function () {
    $c = pg();
    check(pg_prepare($c, 'count_grp', 'SELECT count(*), $1::int FROM big WHERE grp = $2') !== false, 'prepare');
    check(pg_prepare($c, 'label', 'SELECT label FROM big WHERE id = $1') !== false, 'prepare label');
    for ($i = 0; $i < 200; $i++) {
        $r = pg_execute($c, 'count_grp', [$i, $i % 100]);
        check(pg_fetch_row($r) === ['1000', (string)$i], "count_grp run $i");
        $r = pg_execute($c, 'label', [$i + 1]);
        check(pg_fetch_result($r, 0, 0) === 'row-' . ($i + 1), "label run $i");
        if ($i % 50 === 0) {  // inside a transaction too
            pg_ok($c, 'BEGIN');
            check(pg_fetch_result(pg_execute($c, 'count_grp', [$i, 1]), 0, 1) === (string)$i, 'in transaction');
            pg_ok($c, 'COMMIT');
        }
    }
    pg_ok($c, 'DEALLOCATE label');
    check(pg_prepare($c, 'label', 'SELECT upper(label) FROM big WHERE id = $1') !== false, 're-prepare');
    check(pg_fetch_result(pg_execute($c, 'label', [5]), 0, 0) === 'ROW-5', 're-prepared text');
    pg_close($c);
});

test('pdo_native_prepares_many_times', function () {
    $db = pdo();
    check($db->getAttribute(PDO::ATTR_EMULATE_PREPARES) === false, 'native prepares');
    $st = $db->prepare('SELECT count(*), :tag::text FROM big WHERE grp = :g');
    for ($i = 0; $i < 200; $i++) {
        $st->execute(['g' => $i % 100, 'tag' => "t$i"]);
        check($st->fetch(PDO::FETCH_NUM) === [1000, "t$i"], "run $i");
        if ($i % 50 === 49) {
            $db->beginTransaction();
            $st->execute(['g' => 1, 'tag' => 'tx']);
            check($st->fetchColumn(1) === 'tx', 'in transaction');
            $db->commit();
        }
    }
    for ($i = 0; $i < 50; $i++) {  // statements freed (DEALLOCATE pdo_stmt_...) and made again
        $tmp = $db->prepare('SELECT ?::int + 1, pg_typeof(?::int8)::text');
        $tmp->execute([$i, $i]);
        check($tmp->fetch(PDO::FETCH_NUM) === [$i + 1, 'bigint'], "fresh statement $i");
        $tmp = null;
    }
});

function typed_pgsql(bool $direct): array
{
    $c = pg($direct);
    $r = pg_query($c, 'SELECT * FROM typed ORDER BY id');
    $fields = [];
    for ($i = 0; $i < pg_num_fields($r); $i++) {
        $fields[] = [pg_field_name($r, $i), pg_field_type($r, $i), pg_field_type_oid($r, $i),
                     pg_field_prtlen($r, 0, $i), pg_field_table($r, $i)];
    }
    $out = [pg_fetch_all($r, PGSQL_NUM), $fields];
    pg_close($c);
    return $out;
}

function typed_pdo(bool $direct, string $sql, array $params = []): array
{
    $db = pdo($direct);
    $st = $db->prepare($sql);
    foreach ($params as $i => [$value, $type]) {
        $st->bindValue($i + 1, $value, $type);
    }
    $st->execute();
    $rows = [];
    while ($row = $st->fetch(PDO::FETCH_NUM)) {
        $rows[] = array_map(fn ($v) => is_resource($v) ? ['stream' => stream_get_contents($v)] : $v, $row);
    }
    $meta = [];
    for ($i = 0; $i < $st->columnCount(); $i++) {
        $m = $st->getColumnMeta($i);
        $meta[] = [$m['name'], $m['native_type'], $m['pgsql:oid'], $m['pdo_type'], $m['table'] ?? null];
    }
    return [$rows, $meta];
}

test('types_round_trip', function () {
    [$p, $pf] = typed_pgsql(false);
    [$d, $df] = typed_pgsql(true);
    check($pf === $df, "pgsql fields\n " . show($pf) . "\n " . show($df));
    check($p === $d, "pgsql rows\n " . show($p) . "\n " . show($d));
    check(pg_unescape_bytea($p[1][6]) === "\x00\xff\x10" && $p[1][4] === 'NaN' && $p[0][7] === 't', 'pgsql values');
    check($p[1][14] === '{1,NULL,3}' && $p[4][1] === null, 'pgsql array, NULL');
    [$p, $pm] = typed_pdo(false, 'SELECT * FROM typed ORDER BY id');
    [$d, $dm] = typed_pdo(true, 'SELECT * FROM typed ORDER BY id');
    check($pm === $dm, "PDO meta\n " . show($pm) . "\n " . show($dm));
    check($p === $d, "PDO rows\n " . show($p) . "\n " . show($d));
    check($p[0][1] === 42 && $p[0][2] === 9000000000 && $p[0][7] === true && $p[0][6] === ['stream' => "\x01\x02"],
          'PDO native types: ' . show($p[0]));
    $params = [[2 ** 62, PDO::PARAM_INT], ["it's \"quoted\" \\ \u{e9}\u{2713}", PDO::PARAM_STR],
               ["\x00\x01\xff'\\", PDO::PARAM_LOB], [true, PDO::PARAM_BOOL], [null, PDO::PARAM_NULL],
               ['12345678901234567890.123456789', PDO::PARAM_STR], ['2024-02-29 01:02:03.456789+00', PDO::PARAM_STR]];
    $sql = 'SELECT ?::int8, ?::text, ?::bytea, ?::bool, ?::text, ?::numeric, ?::timestamptz';
    [$p, $pm] = typed_pdo(false, $sql, $params);
    [$d, $dm] = typed_pdo(true, $sql, $params);
    check($p === $d && $pm === $dm, "PDO parameters\n " . show($p) . "\n " . show($d));
    check($p[0][0] === 2 ** 62 && $p[0][2] === ['stream' => "\x00\x01\xff'\\"] && $p[0][3] === true
          && $p[0][4] === null, 'PDO parameters ' . show($p[0]));
});

test('pdo_transaction_with_savepoint', function () {
    $db = pdo();
    $db->beginTransaction();
    $pid = $db->query('SELECT pg_backend_pid()')->fetchColumn();
    $db->exec('SAVEPOINT s1');
    pdo_expect('42P01', fn () => $db->query('SELECT * FROM no_such_table'), 'in s1');
    pdo_expect('25P02', fn () => $db->query('SELECT 1'), 'aborted until rollback to');
    $db->exec('ROLLBACK TO SAVEPOINT s1');
    check($db->query('SELECT count(*) FROM app.events')->fetchColumn() === 50, 'after rollback to');
    $db->exec('SAVEPOINT s2');
    $st = $db->prepare('SELECT ?::text');
    $st->execute(['x']);
    check($st->fetchColumn() === 'x', 'in s2');
    $db->exec('RELEASE SAVEPOINT s2');
    check($db->query('SELECT pg_backend_pid()')->fetchColumn() === $pid, 'one backend');
    check($db->query('SHOW transaction_read_only')->fetchColumn() === 'on', 'read-only');
    check($db->inTransaction(), 'in transaction');
    $db->commit();
    check(!$db->inTransaction(), 'committed');
});

function big_expected(): string
{
    $c = pg(true);
    $row = pg_fetch_row(pg_query($c, "SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id)) FROM big"));
    pg_close($c);
    return implode(' ', $row);
}

$BIG = big_expected();

// Sums 100k rows (id, grp, label, amount) exactly: amount in cents.
final class Checksum
{
    public int $count = 0;
    public int $ids = 0;
    public int $cents = 0;
    public $md5;
    public function __construct() { $this->md5 = hash_init('md5'); }
    public function add(array $r): void
    {
        hash_update($this->md5, ($this->count ? ',' : '') . $r[2]);
        $this->count++;
        $this->ids += (int)$r[0];
        $this->cents += (int)str_replace('.', '', (string)$r[3]);
    }
    private ?string $result = null;
    public function result(): string
    {
        return $this->result ??= sprintf('%d %d %d.%02d %s', $this->count, $this->ids,
                                         intdiv($this->cents, 100), $this->cents % 100,
                                         hash_final($this->md5));
    }
}

test('pgsql_cursor_100k_rows', function () use ($BIG) {
    $c = pg();
    pg_ok($c, 'BEGIN');
    pg_ok($c, 'DECLARE big_cur NO SCROLL CURSOR FOR SELECT id, grp, label, amount FROM big ORDER BY id');
    $sum = new Checksum();
    do {
        $r = pg_query($c, 'FETCH 5000 FROM big_cur');
        $n = pg_num_rows($r);
        while ($row = pg_fetch_row($r)) $sum->add($row);
    } while ($n > 0);
    pg_ok($c, 'CLOSE big_cur');
    pg_ok($c, 'COMMIT');
    check($sum->result() === $BIG, "cursor: {$sum->result()} vs $BIG");
    $r = pg_query($c, 'SELECT id, grp, label, amount FROM big ORDER BY id');  // one plain result
    $sum = new Checksum();
    while ($row = pg_fetch_row($r)) $sum->add($row);
    check($sum->result() === $BIG, "plain result: {$sum->result()}");
    pg_close($c);
});

test('pdo_100k_rows', function () use ($BIG) {
    $db = pdo();
    $st = $db->prepare('SELECT id, grp, label, amount FROM big WHERE id > ? ORDER BY id');
    $st->execute([0]);
    $sum = new Checksum();
    while ($row = $st->fetch(PDO::FETCH_NUM)) $sum->add($row);
    check($sum->result() === $BIG, "PDO 100k: {$sum->result()} vs $BIG");
});

test('pdo_scroll_cursor_with_hold', function () {
    // PDO::CURSOR_SCROLL: DECLARE pdo_crsr_... SCROLL CURSOR WITH HOLD FOR ..., then one
    // FETCH per row (FETCH ABSOLUTE / FIRST / NEXT), in autocommit: the cursor outlives the
    // statement's transaction.
    $db = pdo();
    $st = $db->prepare('SELECT id, grp, label, amount FROM big ORDER BY id',
                       [PDO::ATTR_CURSOR => PDO::CURSOR_SCROLL]);
    $st->execute();
    check($st->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_ABS, 50000)[0] === 50000, 'absolute fetch');
    check($st->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_FIRST)[0] === 1, 'first');
    $sum = new Checksum();
    $sum->add([1, 1, 'row-1', '1.25']);
    for ($i = 1; $i < 2000; $i++) $sum->add($st->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_NEXT));
    check($sum->count === 2000 && $sum->ids === 2001000, "scroll: {$sum->count} rows, ids {$sum->ids}");
    $held = $db->query("SELECT is_holdable, is_scrollable FROM pg_cursors WHERE name LIKE 'pdo_crsr_%'");
    check($held->fetchAll(PDO::FETCH_NUM) === [[true, true]], 'one held scroll cursor in pg_cursors');
    check($st->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_PRIOR)[0] === 1999, 'prior');
});

test('errors_and_recovery', function () {
    $c = pg();
    check(pg_prepare($c, 'div', 'SELECT 100 / $1::int') !== false, 'prepare');
    foreach ([['SELECT 1/0', '22012'], ['SELECT * FROM no_such_table', '42P01'], ['SELEKT 1', '42601'],
              ["SELECT 'x'::int", '22P02']] as [$sql, $state]) {
        [$got] = pg_run($c, $sql);
        check($got === $state, "pgsql $sql: expected $state, got " . var_export($got, true));
        check(pg_ok($c, 'SELECT count(*) FROM typed') === [['5']], "pgsql after $sql");
        [$got] = pg_run($c, 'SELECT 100 / $1::int', ['0']);
        check($got === '22012', "pgsql parameters 1/0: $got");
        check(pg_fetch_result(pg_execute($c, 'div', [4]), 0, 0) === '25', "prepared after $sql");
    }
    pg_close($c);
    $db = pdo();
    $st = $db->prepare('SELECT 100 / ?::int');
    foreach ([['SELECT 1/0', '22012'], ['SELECT * FROM no_such_table', '42P01'], ['SELEKT 1', '42601']] as [$sql, $state]) {
        pdo_expect($state, fn () => $db->query($sql), "PDO $sql");
        pdo_expect('22012', fn () => $st->execute([0]), 'PDO prepared 1/0');
        $st->execute([4]);
        check($st->fetchColumn() === 25, "PDO prepared after $sql");
        $db->beginTransaction();
        pdo_expect($state, fn () => $db->query($sql), "PDO $sql in a transaction");
        $db->rollBack();
        check($db->query('SELECT 7')->fetchColumn() === 7, "PDO after rollback $sql");
    }
});

test('writes_refused_25006', function () {
    $c = pg();
    foreach (["INSERT INTO big VALUES (100001, 1, 'x', 1)", 'DELETE FROM app.events', 'CREATE TABLE t_new (x int)'] as $sql) {
        [$state] = pg_run($c, $sql);
        check($state === '25006', "pgsql $sql: " . var_export($state, true));
        check(str_contains(pg_last_error($c), 'Write operations are not permitted'), pg_last_error($c));
    }
    [$state] = pg_run($c, 'UPDATE typed SET c_text = $1 WHERE id = 1', ['y']);
    check($state === '25006', "pgsql UPDATE with params: $state");
    pg_close($c);
    $db = pdo();
    foreach (["INSERT INTO big VALUES (100001, 1, 'x', 1)", 'DELETE FROM app.events'] as $sql) {
        $e = pdo_expect('25006', fn () => $db->exec($sql), "PDO $sql");
        check(str_contains($e->getMessage(), 'Write operations are not permitted'), $e->getMessage());
    }
    $e = pdo_expect('25006', function () use ($db) {
        $db->prepare('UPDATE typed SET c_text = ? WHERE id = ?')->execute(['y', 1]);
    }, 'PDO prepared UPDATE');
    check($db->query('SELECT count(*) FROM big')->fetchColumn() === 100000, 'after writes');
});

test('cancel_and_timeout', function () {
    $c = pg();
    $start = microtime(true);
    check(pg_send_query($c, 'SELECT pg_sleep(10)'), 'send');
    usleep(700000);
    check(pg_connection_busy($c), 'query running');
    check(pg_cancel_query($c), 'pg_cancel_query');
    $elapsed = microtime(true) - $start;
    check($elapsed < 5, sprintf('cancel took %.1fs', $elapsed));
    check(pg_ok($c, "SELECT 'alive'") === [['alive']], 'usable after cancel');
    pg_close($c);
    $c = pg(false, "options='-c statement_timeout=1000'");
    $start = microtime(true);
    [$state] = pg_run($c, 'SELECT pg_sleep(10)');
    check($state === '57014' && microtime(true) - $start < 5, "statement_timeout: $state");
    pg_close($c);
    $db = pdo(false, [PDO::ATTR_TIMEOUT => 5]);
    $db->exec("SET statement_timeout = '1s'");
    pdo_expect('57014', fn () => $db->query('SELECT pg_sleep(10)'), 'PDO statement_timeout');
    $db->exec('RESET statement_timeout');
    check($db->query('SELECT 2')->fetchColumn() === 2, 'PDO usable after timeout');
});

function metadata(bool $direct): array
{
    $c = pg($direct);
    $meta = ['typed' => pg_meta_data($c, 'typed'), 'events' => pg_meta_data($c, 'app.events'),
             'big_ext' => pg_meta_data($c, 'big', true), 'version' => explode('.', pg_version($c)['server'])[0],
             'encoding' => pg_parameter_status($c, 'server_encoding'),
             'tables' => pg_ok($c, "SELECT table_schema, table_name, table_type FROM information_schema.tables
                                    WHERE table_schema IN ('public', 'app') ORDER BY 1, 2")];
    pg_close($c);
    $db = pdo($direct);
    $meta['pdo_driver'] = [$db->getAttribute(PDO::ATTR_DRIVER_NAME),
                           explode('.', $db->getAttribute(PDO::ATTR_SERVER_VERSION))[0]];
    $st = $db->prepare('SELECT b.id, b.label, e.payload FROM big b JOIN app.events e ON e.id = b.id WHERE b.id < ?');
    $st->execute([3]);
    for ($i = 0; $i < $st->columnCount(); $i++) $meta['pdo_columns'][] = $st->getColumnMeta($i);
    $meta['pdo_rows'] = $st->fetchAll(PDO::FETCH_ASSOC);
    return $meta;
}

test('metadata_and_introspection', function () {
    $p = metadata(false);
    $d = metadata(true);
    foreach ($p as $key => $value) {
        check($value === $d[$key], "$key\n proxy  " . show($value) . "\n direct " . show($d[$key]));
    }
    check(count($p['typed']) === 16 && $p['typed']['c_bytea']['type'] === 'bytea'
          && $p['typed']['id']['not null'] === true, 'pg_meta_data ' . show($p['typed']['id']));
    check($p['events']['kind']['has default'] === false && $p['events']['id']['has default'] === true, 'defaults');
    check($p['version'] === '15' && $p['pdo_driver'] === ['pgsql', '15'], 'versions ' . show($p['pdo_driver']));
    check(array_column($p['pdo_columns'], 'table') === ['big', 'big', 'events']
          && array_column($p['pdo_columns'], 'native_type') === ['int4', 'text', 'jsonb'], 'getColumnMeta');
    check(count($p['tables']) === 6, 'information_schema.tables ' . show($p['tables']));
});

test('twenty_concurrent_processes', function () {
    $children = [];
    for ($i = 0; $i < 20; $i++) {
        $pid = pcntl_fork();
        check($pid >= 0, 'fork');
        if ($pid === 0) {
            $code = 0;
            try {
                // Every process names its statement 'rows' (PDO: pdo_stmt_00000001), and its text is
                // its own (the literal owner column): another client's statement run with these
                // parameters shows as a wrong owner.
                $sql = 'SELECT id, grp, label, $1::text, ' . $i . ' AS owner FROM big WHERE grp = $2 AND id <= $3 ORDER BY id';
                $c = $i % 2 ? null : pg();
                $db = $i % 2 ? pdo() : null;
                if ($c) pg_prepare($c, 'rows', $sql);
                $st = $db?->prepare(str_replace(['$1', '$2', '$3'], ['?', '?', '?'], $sql));
                for ($j = 0; $j < 5; $j++) {
                    $grp = ($i * 7 + $j) % 100;
                    $limit = 2000 + $i * 100 + $j;
                    if ($c) {
                        $got = pg_fetch_all(pg_execute($c, 'rows', ["c$i", $grp, $limit]), PGSQL_NUM);
                        $want = [];
                        for ($g = 1; $g <= $limit; $g++) if ($g % 100 === $grp) $want[] = ["$g", "$grp", "row-$g", "c$i", "$i"];
                    } else {
                        $st->execute(["c$i", $grp, $limit]);
                        $got = $st->fetchAll(PDO::FETCH_NUM);
                        $want = [];
                        for ($g = 1; $g <= $limit; $g++) if ($g % 100 === $grp) $want[] = [$g, $grp, "row-$g", "c$i", $i];
                    }
                    check(count($got) === count($want), "conn $i query $j: " . count($got) . ' rows, want ' . count($want));
                    foreach ($want as $k => $w) {
                        check($got[$k] === $w, "conn $i query $j row $k: got " . json_encode($got[$k]) . ', asked for ' . json_encode($w));
                    }
                }
            } catch (Throwable $e) {
                fprintf(STDERR, "child %d: %s\n", $i, $e->getMessage());
                $code = 1;
            }
            exit($code);
        }
        $children[$pid] = $i;
    }
    $bad = [];
    $deadline = microtime(true) + 90;
    while ($children && microtime(true) < $deadline) {
        $pid = pcntl_waitpid(-1, $status, WNOHANG);
        if ($pid > 0) {
            if (!pcntl_wifexited($status) || pcntl_wexitstatus($status) !== 0) $bad[] = $children[$pid];
            unset($children[$pid]);
        } else {
            usleep(20000);
        }
    }
    foreach (array_keys($children) as $pid) posix_kill($pid, SIGKILL);
    check(!$children, 'children still running after 90 s: ' . implode(',', $children));
    sort($bad);
    check(!$bad, 'children failed: ' . implode(',', $bad));
});

printf("php_pgsql suite (%s pooling): %d passed, %d failed\n", $POOL_MODE, count($PASSED), count($FAILED));
if ($FAILED) fprintf(STDERR, "failed: %s\n", implode(', ', $FAILED));
exit($FAILED ? 1 : 0);
