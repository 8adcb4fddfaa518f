#!/usr/bin/perl
# DBD::Pg 3.16 (Debian libdbd-pg-perl, libpq underneath) through pgro. Run by pgro_client_env
# in transaction and session pooling (PGRO_POOL_MODE): PG* point at pgro, PGRO_DIRECT_* at
# PostgreSQL itself.
#
# DBD::Pg's own prepared path: with pg_server_prepare=1 (the default) a statement handle's
# first execute goes through PQexecParams (unnamed statement); from the second
# (pg_switch_prepared=2) it is prepared under the name dbdpg_p<pid>_<n> and run with
# PQexecPrepared; destroying the handle sends the SQL `DEALLOCATE dbdpg_p<pid>_<n>`.
# bytea parameters bound with pg_type => PG_BYTEA go in binary format.
#
# Tried (one sub each below): prepare/execute 200 times (pg_server_prepare, prepare_cached,
# pg_prepare_now, handles destroyed and re-made) in AutoCommit and in transactions; every
# fixture type and typed parameters equal to the same direct; AutoCommit=0 with
# pg_savepoint / pg_rollback_to / pg_release; 100k rows through DECLARE/FETCH in a
# transaction; errors then recovery; writes refused with 25006; pg_cancel of an async query
# and statement_timeout; DBI metadata (table_info, column_info, primary_key_info,
# statistics_info, type_info_all, NAME/TYPE/pg_type) equal to direct; 20 forked processes
# with a connection each, every row checked.
# Not tried: COPY (pg_getcopydata is in other suites' ground), LISTEN/NOTIFY, large objects
# (refused by pgro).
use strict;
use warnings;
use DBI qw(:sql_types);
use DBD::Pg qw(:pg_types :async);
use Data::Dumper;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(time sleep);
use POSIX qw(_exit);

$Data::Dumper::Sortkeys = 1;
$Data::Dumper::Indent = 0;
$Data::Dumper::Useqq = 1;
$| = 1;

my $pool_mode = $ENV{PGRO_POOL_MODE} // 'transaction';
my (@passed, @failed);

sub dsn {
  my ($host, $port, $db) = @_;
  return "dbi:Pg:dbname=$db;host=$host;port=$port";
}

sub proxy {
  my (%attr) = @_;
  return DBI->connect(dsn(@ENV{qw(PGHOST PGPORT PGDATABASE)}), $ENV{PGUSER}, $ENV{PGPASSWORD},
                      {RaiseError => 1, PrintError => 0, AutoCommit => 1, %attr});
}

sub direct {
  my (%attr) = @_;
  return DBI->connect(dsn(@ENV{qw(PGRO_DIRECT_HOST PGRO_DIRECT_PORT PGRO_DIRECT_DATABASE)}),
                      $ENV{PGRO_DIRECT_USER}, $ENV{PGRO_DIRECT_PASSWORD},
                      {RaiseError => 1, PrintError => 0, AutoCommit => 1, %attr});
}

sub check {
  my ($cond, $message) = @_;
  die "assertion failed: $message\n" unless $cond;
}

sub dump1 { local $Data::Dumper::Terse = 1; return Dumper($_[0]); }

# Runs $code, which must die with SQLSTATE $state on $dbh; returns the error text.
sub expect_state {
  my ($dbh, $state, $code, $what) = @_;
  my $ok = eval { $code->(); 1 };
  check(!$ok, "$what: no error, expected $state");
  my $got = $dbh->state;
  check($got eq $state, "$what: expected $state, got $got: $@");
  return $@;
}

sub test {
  my ($name, $code) = @_;
  my $start = time;
  if (eval { $code->(); 1 }) {
    push @passed, $name;
    printf "ok     %s (%.2fs)\n", $name, time - $start;
  } else {
    push @failed, $name;
    print STDERR "FAILED $name\n$@\n";
  }
}

test prepared_statement_many_times => sub {
  for my $autocommit (1, 0) {
    my $dbh = proxy(AutoCommit => $autocommit);
    my $sth = $dbh->prepare('SELECT count(*), ?::int FROM big WHERE grp = ?');
    for my $i (0 .. 99) {
      $sth->execute($i, $i % 100);
      my @row = $sth->fetchrow_array;
      check("@row" eq "1000 $i", "autocommit=$autocommit run $i: @row");
      $dbh->commit if !$autocommit && $i % 10 == 9;
    }
    check($sth->{pg_prepare_name} =~ /^dbdpg_p\d+_\d+$/, "server-side name $sth->{pg_prepare_name}");
    undef $sth;  # DEALLOCATE dbdpg_p..._1
    for my $i (0 .. 49) {  # prepare_cached: one handle, re-made handles in between
      my $c = $dbh->prepare_cached('SELECT label FROM big WHERE id = ?');
      $c->execute($i + 1);
      check(($c->fetchrow_array)[0] eq 'row-' . ($i + 1), "prepare_cached run $i");
      $c->finish;
      my $tmp = $dbh->prepare('SELECT ?::int + 1', {pg_prepare_now => 1});
      $tmp->execute($i);
      check(($tmp->fetchrow_array)[0] == $i + 1, "pg_prepare_now run $i");
      $dbh->commit if !$autocommit && $i % 10 == 9;
    }
    $dbh->commit unless $autocommit;
    $dbh->disconnect;
  }
};

my $typed_sql = 'SELECT * FROM typed ORDER BY id';

sub typed_both {
  my ($sql, @bind) = @_;
  my @out;
  for my $connect (\&proxy, \&direct) {
    my $dbh = $connect->();
    my $sth = $dbh->prepare($sql);
    for my $i (0 .. $#bind) {
      my ($value, $type) = @{$bind[$i]};
      $sth->bind_param($i + 1, $value, $type ? {pg_type => $type} : undef);
    }
    $sth->execute;
    push @out, {rows => $sth->fetchall_arrayref,
                meta => [$sth->{NAME}, $sth->{TYPE}, $sth->{pg_type}]};
    $dbh->disconnect;
  }
  return @out;
}

test types_round_trip => sub {
  my ($p, $d) = typed_both($typed_sql);
  check(dump1($p->{meta}) eq dump1($d->{meta}), "meta\n " . dump1($p->{meta}) . "\n " . dump1($d->{meta}));
  check(@{$p->{rows}} == 5, 'five rows');
  for my $i (0 .. 4) {
    my ($pr, $dr) = (dump1($p->{rows}[$i]), dump1($d->{rows}[$i]));
    check($pr eq $dr, "row $i\n proxy  $pr\n direct $dr");
  }
  my $r = $p->{rows};
  check($r->[0][6] eq "\x01\x02" && $r->[1][6] eq "\x00\xff\x10", 'bytea decoded');
  check(dump1($r->[1][14]) eq dump1([1, undef, 3]) && dump1($r->[1][15]) eq dump1(['a b', undef, 'c,d', '"q"']),
        'arrays as array refs: ' . dump1($r->[1][14]));
  check($r->[1][4] eq 'NaN' && $r->[2][4] eq 'Inf' && $r->[0][7] == 1 && $r->[2][3] eq 'NaN',
        'float8 NaN/Inf, numeric NaN, bool: ' . dump1($r->[2]));
  check(!grep({ defined } @{$r->[4]}[1 .. 15]), 'NULL row');
  my @bind = ([2**52 + 1, PG_INT8], ['12345678901234567890.123456789', PG_NUMERIC],
              ["it's \"quoted\" \\ \x{e9}", PG_TEXT], ["\x00\x01\xff'\\", PG_BYTEA],
              [1, PG_BOOL], ['2024-02-29', PG_DATE], ['2024-02-29 01:02:03.456789+00', PG_TIMESTAMPTZ],
              ['{"k": [1, "two", null]}', PG_JSONB], [[1, undef, 3], PG_INT4ARRAY], [undef, PG_TEXT]);
  my $sql = 'SELECT ' . join(', ', map { "\$$_" } 1 .. @bind);
  ($p, $d) = typed_both($sql, @bind);
  check(dump1($p) eq dump1($d), "parameters\n " . dump1($p) . "\n " . dump1($d));
  check($p->{rows}[0][3] eq "\x00\x01\xff'\\" && $p->{rows}[0][0] == 2**52 + 1, 'binary bytea parameter');
};

test transaction_with_savepoint => sub {
  my $dbh = proxy(AutoCommit => 0);
  my ($pid) = $dbh->selectrow_array('SELECT pg_backend_pid()');
  $dbh->pg_savepoint('s1');
  expect_state($dbh, '42P01', sub { $dbh->do('SELECT * FROM no_such_table') }, 'inside s1');
  $dbh->pg_rollback_to('s1');
  check(($dbh->selectrow_array('SELECT count(*) FROM app.events'))[0] == 50, 'after rollback to');
  $dbh->pg_savepoint('s2');
  check(($dbh->selectrow_array('SELECT ?::text', undef, 'x'))[0] eq 'x', 'in s2');
  $dbh->pg_release('s2');
  check(($dbh->selectrow_array('SELECT pg_backend_pid()'))[0] == $pid, 'one backend');
  check(($dbh->selectrow_array('SHOW transaction_read_only'))[0] eq 'on', 'read-only');
  $dbh->commit;
  $dbh->rollback;
  $dbh->disconnect;
};

sub big_expected {
  my $dbh = direct();
  my @row = $dbh->selectrow_array(
    q{SELECT count(*), sum(id), sum(amount), md5(string_agg(label, ',' ORDER BY id)) FROM big});
  $dbh->disconnect;
  return "@row";
}
my $big = big_expected();

test cursor_100k_rows => sub {
  my $dbh = proxy(AutoCommit => 0);
  $dbh->do('DECLARE big_cur NO SCROLL CURSOR FOR SELECT id, grp, label, amount FROM big ORDER BY id');
  my $fetch = $dbh->prepare('FETCH 2000 FROM big_cur');
  my ($count, $id_sum, $cents, @labels) = (0, 0, 0);
  while (1) {
    $fetch->execute;
    my $rows = $fetch->fetchall_arrayref;
    last unless @$rows;
    for my $r (@$rows) {
      ++$count;
      $id_sum += $r->[0];
      $cents += $r->[3] =~ s/\.//r;
      push @labels, $r->[2];
    }
  }
  $dbh->do('CLOSE big_cur');
  $dbh->commit;
  my $amount = sprintf('%d.%02d', int($cents / 100), $cents % 100);
  my $got = "$count $id_sum $amount " . md5_hex(join(',', @labels));
  check($got eq $big, "cursor: $got vs $big");
  # One plain 100k-row result too.
  my $all = $dbh->selectall_arrayref('SELECT id FROM big ORDER BY id');
  check(@$all == 100000 && $all->[-1][0] == 100000, 'plain result');
  $dbh->rollback;
  $dbh->disconnect;
};

test errors_and_recovery => sub {
  for my $autocommit (1, 0) {
    my $dbh = proxy(AutoCommit => $autocommit);
    my $sth = $dbh->prepare('SELECT 100 / ?::int');
    for my $case (['SELECT 1/0', '22012'], ['SELECT * FROM no_such_table', '42P01'],
                  ['SELEKT 1', '42601'], ["SELECT 'x'::int", '22P02']) {
      my ($sql, $state) = @$case;
      expect_state($dbh, $state, sub { $dbh->do($sql) }, $sql);
      $dbh->rollback unless $autocommit;
      check(($dbh->selectrow_array('SELECT count(*) FROM typed'))[0] == 5, "after $sql");
      expect_state($dbh, '22012', sub { $sth->execute(0) }, 'prepared 1/0');
      $dbh->rollback unless $autocommit;
      $sth->execute(4);
      check(($sth->fetchrow_array)[0] == 25, 'prepared after error');
      $sth->finish;
    }
    $dbh->commit unless $autocommit;
    $dbh->disconnect;
  }
};

test writes_refused_25006 => sub {
  for my $autocommit (1, 0) {
    my $dbh = proxy(AutoCommit => $autocommit);
    for my $sql ("INSERT INTO big VALUES (100001, 1, 'x', 1)", 'DELETE FROM app.events',
                 'CREATE TABLE t_new (x int)') {
      my $err = expect_state($dbh, '25006', sub { $dbh->do($sql) }, $sql);
      check($err =~ /Write operations are not permitted/, $err);
      $dbh->rollback unless $autocommit;
    }
    my $sth = $dbh->prepare('UPDATE typed SET c_text = ? WHERE id = ?');
    expect_state($dbh, '25006', sub { $sth->execute('y', 1) }, 'prepared UPDATE');
    $dbh->rollback unless $autocommit;
    check(($dbh->selectrow_array('SELECT count(*) FROM big'))[0] == 100000, 'after writes');
    $dbh->disconnect;
  }
};

test cancel_and_timeout => sub {
  my $dbh = proxy();
  my $start = time;
  $dbh->do('SELECT pg_sleep(10)', {pg_async => PG_ASYNC});
  sleep 0.7;
  check($dbh->pg_cancel, 'pg_cancel returned false');
  check($dbh->state eq '57014', 'state after pg_cancel: ' . $dbh->state . ' ' . ($dbh->errstr // ''));
  check(time - $start < 5, sprintf('cancel took %.1fs', time - $start));
  check(($dbh->selectrow_array("SELECT 'alive'"))[0] eq 'alive', 'usable after cancel');
  $dbh->do('SET statement_timeout = 1000');
  $start = time;
  expect_state($dbh, '57014', sub { $dbh->do('SELECT pg_sleep(10)') }, 'statement_timeout');
  check(time - $start < 5, 'timeout took too long');
  $dbh->do('RESET statement_timeout');
  check(($dbh->selectrow_array('SELECT 2'))[0] == 2, 'usable after timeout');
  $dbh->disconnect;
};

sub metadata {
  my ($dbh) = @_;
  my $all = sub { my $sth = shift; return $sth ? $sth->fetchall_arrayref({}) : [] };
  my %m = (
    tables  => $all->($dbh->table_info(undef, 'public', '%', 'TABLE')),
    app     => $all->($dbh->table_info(undef, 'app', '%', '%')),
    columns => [map { [@$_{qw(COLUMN_NAME TYPE_NAME DATA_TYPE NULLABLE ORDINAL_POSITION pg_type)}] }
                @{$all->($dbh->column_info(undef, 'public', 'typed', '%'))}],
    pk      => [$dbh->primary_key(undef, 'public', 'big')],
    pk_info => $all->($dbh->primary_key_info(undef, 'public', 'big')),
    stats   => [map { [@$_{qw(INDEX_NAME COLUMN_NAME NON_UNIQUE)}] }
                @{$all->($dbh->statistics_info(undef, 'public', 'big', 0, 0))}],
    listed  => [sort $dbh->tables(undef, 'app', undef, undef)],
    types   => scalar(@{$dbh->type_info_all}),
    version => $dbh->{pg_server_version},
  );
  for my $t (@{$m{tables}}, @{$m{app}}) { delete @$t{qw(pg_tablespace_location)} }
  return \%m;
}

test metadata_and_introspection => sub {
  my ($pdbh, $ddbh) = (proxy(), direct());
  my ($p, $d) = (metadata($pdbh), metadata($ddbh));
  for my $key (sort keys %$p) {
    check(dump1($p->{$key}) eq dump1($d->{$key}), "$key\n proxy  " . dump1($p->{$key}) . "\n direct " . dump1($d->{$key}));
  }
  check(join(',', map { $_->{TABLE_NAME} } @{$p->{tables}}) eq 'big,typed', 'tables ' . dump1($p->{tables}));
  check(join(',', sort map { "$_->{TABLE_NAME}:$_->{TABLE_TYPE}" } @{$p->{app}}) eq
        'big_summary:VIEW,events:TABLE', 'app ' . dump1($p->{app}));
  check(@{$p->{columns}} == 16 && $p->{columns}[6][1] eq 'bytea', 'columns ' . dump1($p->{columns}));
  check("@{$p->{pk}}" eq 'id', "primary key @{$p->{pk}}");
  check(grep({ ($_->[0] // '') eq 'big_grp_idx' } @{$p->{stats}}), 'statistics ' . dump1($p->{stats}));
  check($p->{version} >= 150000 && $p->{version} < 160000, "server version $p->{version}");
  check($pdbh->{pg_user} eq $ENV{PGUSER} && $pdbh->{pg_db} eq $ENV{PGDATABASE}, 'pg_user/pg_db');
  $_->disconnect for $pdbh, $ddbh;
};

test twenty_concurrent_processes => sub {
  my %children;
  for my $i (0 .. 19) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
      my $ok = eval {
        my $dbh = proxy(AutoCommit => $i % 2, pg_server_prepare => 1);
        # The text is this process's own (the literal owner column): another client's
        # statement run with these parameters shows as a wrong owner.
        my $sth = $dbh->prepare("SELECT id, grp, label, ?::text, $i AS owner FROM big WHERE grp = ? AND id <= ? ORDER BY id");
        for my $j (0 .. 4) {
          my ($grp, $limit) = (($i * 7 + $j) % 100, 2000 + $i * 100 + $j);
          $sth->execute("c$i", $grp, $limit);
          my $got = $sth->fetchall_arrayref;
          my @want = map { [$_, $grp, "row-$_", "c$i", $i] } grep { $_ % 100 == $grp } 1 .. $limit;
          check(@$got == @want, "conn $i query $j: " . scalar(@$got) . ' rows, want ' . scalar(@want));
          for my $k (0 .. $#want) {
            check("@{$got->[$k]}" eq "@{$want[$k]}", "conn $i query $j row $k: got @{$got->[$k]}, asked for @{$want[$k]}");
          }
          $dbh->commit unless $dbh->{AutoCommit};
        }
        $dbh->disconnect;
        1;
      };
      print STDERR "child $i: $@" unless $ok;
      _exit($ok ? 0 : 1);
    }
    $children{$pid} = $i;
  }
  my @bad;
  my $deadline = time + 90;
  while (%children && time < $deadline) {
    my $pid = waitpid(-1, 0);
    last if $pid <= 0;
    push @bad, $children{$pid} if $?;
    delete $children{$pid};
  }
  kill 'KILL', keys %children;
  check(!%children, 'children still running after 90 s: ' . join(',', values %children));
  check(!@bad, 'children failed: ' . join(',', sort { $a <=> $b } @bad));
};

printf "dbd_pg suite (%s pooling): %d passed, %d failed\n", $pool_mode, scalar @passed, scalar @failed;
print STDERR 'failed: ' . join(', ', @failed) . "\n" if @failed;
exit(@failed ? 1 : 0);
