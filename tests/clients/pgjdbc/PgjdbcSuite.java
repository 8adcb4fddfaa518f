// pgjdbc (Debian libpostgresql-jdbc-java 42.5, extended protocol, server-side prepared
// statements, binary transfer) through pgro in transaction pooling mode. Run by
// pgro_client_env as `java -cp /usr/share/java/postgresql.jar PgjdbcSuite.java` (the JDK's
// single-file source launcher): PG* point at pgro, PGRO_DIRECT_* at PostgreSQL itself.
//
// Tried, and expected to work (one method each below):
//   - every fixture type read with getString/getObject through pgro equal to direct, with
//     text transfer (first executions) and binary transfer (prepareThreshold=-1 / after
//     the threshold), arrays via getArray
//   - parameters of every setter (int, long, BigDecimal, double NaN/Infinity, String,
//     bytes, boolean, Date, Timestamp, OffsetDateTime, UUID, Array, null)
//   - prepareThreshold default (5) and prepareThreshold=1: one PreparedStatement executed
//     50 times in autocommit (each execution may use another server connection) and in
//     one transaction; a server-prepared statement re-prepared by pgro on another backend
//     (other clients hold the first one); deallocation by pgjdbc's statement cache
//     (preparedStatementCacheQueries=2 with many distinct statements)
//   - preferQueryMode extended / extendedForPrepared / extendedCacheEverything / simple;
//     autosave=always (SAVEPOINT PGJDBC_AUTOSAVE around every statement)
//   - autocommit off: one backend per transaction, commit, rollback; savepoints
//     (setSavepoint / error / rollback(sp) / continue / commit)
//   - errors and recovery (22012, 42P01, 42601), writes refused with 25006
//   - Statement.cancel() from another thread during pg_sleep(10) -> 57014 in < 5 s
//   - setFetchSize(1000) with autocommit off: 100k rows through a named portal, checksum
//   - a large result (100k rows) read at once, checksum
//   - DatabaseMetaData getTables / getColumns / getPrimaryKeys / getIndexInfo /
//     getSchemas / getFunctions equal to direct
//   - batches: Statement batch of SETs, PreparedStatement batch of SET via set_config is
//     refused by pgjdbc itself (results), a batch of INSERTs refused with 25006
//   - several statements in one execute (multiple result sets)
//   - CopyManager.copyOut (COPY TO STDOUT) equal to direct; copyIn refused
//   - 30 threads with a connection each (pool of 4: they queue)
// Not tried: TLS (pgro has no TLS yet; pgjdbc's default sslmode=prefer gets 'N'),
// LISTEN/NOTIFY (no session under transaction pooling).
import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.math.BigDecimal;
import java.security.MessageDigest;
import java.sql.*;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicReference;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

public class PgjdbcSuite {
  static final Map<String, String> ENV = System.getenv();
  static final int POOL_SIZE = Integer.parseInt(ENV.getOrDefault("PGRO_POOL_SIZE", "4"));
  // In session mode a client keeps one server connection for its whole session.
  static final boolean SESSION_MODE = "session".equals(ENV.get("PGRO_POOL_MODE"));
  static final List<String> passed = new ArrayList<>();
  static final List<String> failed = new ArrayList<>();

  interface Body { void run() throws Exception; }

  static void test(String name, Body body) {
    long start = System.nanoTime();
    try {
      body.run();
      passed.add(name);
      System.out.printf("ok     %s (%.2fs)%n", name, (System.nanoTime() - start) / 1e9);
    } catch (Throwable t) {
      failed.add(name);
      System.err.println("FAILED " + name);
      t.printStackTrace();
      if (t instanceof SQLException) {
        for (SQLException n = ((SQLException) t).getNextException(); n != null; n = n.getNextException()) {
          System.err.println("  next: " + n);
        }
      }
    }
    System.out.flush();
    System.err.flush();
  }

  static void check(boolean cond, String message) {
    if (!cond) throw new AssertionError(message);
  }

  static Connection proxy(String... props) throws SQLException {
    return connect(ENV.get("PGHOST"), ENV.get("PGPORT"), ENV.get("PGDATABASE"), ENV.get("PGUSER"),
        ENV.get("PGPASSWORD"), props);
  }

  static Connection direct(String... props) throws SQLException {
    return connect(ENV.get("PGRO_DIRECT_HOST"), ENV.get("PGRO_DIRECT_PORT"),
        ENV.get("PGRO_DIRECT_DATABASE"), ENV.get("PGRO_DIRECT_USER"),
        ENV.get("PGRO_DIRECT_PASSWORD"), props);
  }

  static Connection connect(String host, String port, String db, String user, String password,
      String... props) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    p.setProperty("connectTimeout", "10");
    // A reply that never comes fails the check in 10 s instead of hanging the suite.
    p.setProperty("socketTimeout", "10");
    for (String kv : props) {
      int eq = kv.indexOf('=');
      p.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
    }
    return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + db, p);
  }

  // Every column as getString + getObject text (arrays deep), one line per row.
  static List<String> dump(ResultSet rs) throws SQLException {
    List<String> rows = new ArrayList<>();
    ResultSetMetaData md = rs.getMetaData();
    while (rs.next()) {
      StringBuilder sb = new StringBuilder();
      for (int i = 1; i <= md.getColumnCount(); i++) {
        Object o = rs.getObject(i);
        String obj;
        if (o instanceof Array) {
          obj = Arrays.deepToString((Object[]) ((Array) o).getArray());
        } else if (o instanceof byte[]) {
          obj = "bytes" + Arrays.toString((byte[]) o);
        } else {
          obj = o == null ? "null" : o.getClass().getSimpleName() + ":" + o;
        }
        sb.append(md.getColumnName(i)).append('/').append(md.getColumnTypeName(i)).append('=')
            // getString of a binary-transferred bytea is byte[].toString(): compare bytes only.
            .append(o instanceof byte[] ? "(bytea)" : rs.getString(i)).append(" {").append(obj)
            .append("} | ");
      }
      rows.add(sb.toString());
    }
    return rows;
  }

  static List<String> query(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      return dump(rs);
    }
  }

  static String scalar(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      check(rs.next(), "no row: " + sql);
      return rs.getString(1);
    }
  }

  static void expectState(String state, Body body) throws Exception {
    try {
      body.run();
    } catch (SQLException e) {
      check(state.equals(e.getSQLState()), "expected SQLSTATE " + state + ", got " + e.getSQLState() + ": " + e);
      return;
    }
    throw new AssertionError("expected SQLSTATE " + state + ", got success");
  }

  static void typesRoundTrip() throws Exception {
    String sql = "SELECT * FROM typed ORDER BY id";
    for (String mode : new String[] {"prepareThreshold=5", "prepareThreshold=-1"}) {
      try (Connection p = proxy(mode); Connection d = direct(mode)) {
        for (int run = 0; run < 7; run++) {  // crosses the threshold: text then binary transfer
          List<String> pr, dr;
          try (PreparedStatement ps = p.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            pr = dump(rs);
          }
          try (PreparedStatement ps = d.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            dr = dump(rs);
          }
          check(pr.size() == 5, "5 rows");
          for (int i = 0; i < pr.size(); i++) {
            check(pr.get(i).equals(dr.get(i)),
                mode + " run " + run + ":\n proxy  " + pr.get(i) + "\n direct " + dr.get(i));
          }
        }
        List<String> pr = query(p, "SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float4,"
            + " 'NaN'::numeric, 1e308::float8, 0.1::float4, '2024-01-01 12:00+05:30'::timestamptz,"
            + " '{{1,2},{3,4}}'::int[], 'x'::char(3), 12::oid, '1.2.3.4'::inet");
        check(pr.equals(query(d, "SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float4,"
            + " 'NaN'::numeric, 1e308::float8, 0.1::float4, '2024-01-01 12:00+05:30'::timestamptz,"
            + " '{{1,2},{3,4}}'::int[], 'x'::char(3), 12::oid, '1.2.3.4'::inet")), "specials " + pr);
      }
    }
  }

  static List<String> bindAll(Connection c) throws SQLException {
    String sql = "SELECT ?::int, ?::bigint, ?::numeric, ?::float8, ?::float8, ?::float8, ?::text,"
        + " ?::bytea, ?::bool, ?::date, ?::timestamp, ?::timestamptz, ?::uuid, ?::int[], ?::text,"
        + " ?::jsonb";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      List<String> all = new ArrayList<>();
      for (int run = 0; run < 6; run++) {
        ps.setInt(1, Integer.MIN_VALUE);
        ps.setLong(2, Long.MAX_VALUE);
        ps.setBigDecimal(3, new BigDecimal("12345678901234567890.123456789"));
        ps.setDouble(4, Double.NaN);
        ps.setDouble(5, Double.POSITIVE_INFINITY);
        ps.setDouble(6, -0.1);
        ps.setString(7, "it's \"quoted\" \\ tab\t\u00e9\u2713 run " + run);
        ps.setBytes(8, new byte[] {0, 1, (byte) 0xff, '\''});
        ps.setBoolean(9, true);
        ps.setDate(10, java.sql.Date.valueOf("2024-02-29"));
        ps.setTimestamp(11, Timestamp.valueOf("2024-02-29 01:02:03.456789"));
        ps.setObject(12, OffsetDateTime.of(2024, 2, 29, 1, 2, 3, 456789000, ZoneOffset.ofHours(5)));
        ps.setObject(13, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        ps.setArray(14, c.createArrayOf("int4", new Integer[] {1, null, 3}));
        ps.setNull(15, Types.VARCHAR);
        ps.setString(16, "{\"k\": [1, \"two\", null]}");
        try (ResultSet rs = ps.executeQuery()) {
          all.addAll(dump(rs));
        }
      }
      return all;
    }
  }

  static void parameters() throws Exception {
    for (String mode : new String[] {"prepareThreshold=5", "prepareThreshold=1", "prepareThreshold=-1"}) {
      try (Connection p = proxy(mode, "stringtype=unspecified"); Connection d = direct(mode, "stringtype=unspecified")) {
        List<String> pr = bindAll(p), dr = bindAll(d);
        check(pr.equals(dr), mode + "\n proxy  " + pr + "\n direct " + dr);
      }
    }
  }

  static void preparedReuse() throws Exception {
    for (String mode : new String[] {"prepareThreshold=5", "prepareThreshold=1"}) {
      try (Connection c = proxy(mode)) {
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*), ?::int FROM big WHERE grp = ?")) {
          for (int i = 0; i < 50; i++) {  // autocommit: every execution is its own transaction
            ps.setInt(1, i);
            ps.setInt(2, i % 100);
            try (ResultSet rs = ps.executeQuery()) {
              check(rs.next() && rs.getLong(1) == 1000 && rs.getInt(2) == i, mode + " run " + i);
            }
          }
          c.setAutoCommit(false);
          for (int i = 0; i < 50; i++) {
            ps.setInt(1, -i);
            ps.setInt(2, i);
            try (ResultSet rs = ps.executeQuery()) {
              check(rs.next() && rs.getLong(1) == 1000 && rs.getInt(2) == -i, mode + " tx run " + i);
            }
          }
          c.commit();
        }
      }
    }
  }

  static void queryModesAndAutosave() throws Exception {
    for (String mode : new String[] {"extended", "extendedForPrepared", "extendedCacheEverything", "simple"}) {
      try (Connection c = proxy("preferQueryMode=" + mode, "prepareThreshold=2");
          PreparedStatement ps = c.prepareStatement("SELECT ?::int + count(*) FROM typed")) {
        for (int i = 0; i < 10; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            check(rs.next() && rs.getInt(1) == i + 5, mode + " run " + i);
          }
          check(scalar(c, "SELECT 'plain " + i + "'").equals("plain " + i), mode + " statement");
        }
      }
    }
    // autosave=always: pgjdbc wraps each statement in SAVEPOINT PGJDBC_AUTOSAVE, so an error
    // does not abort the transaction.
    try (Connection c = proxy("autosave=always")) {
      c.setAutoCommit(false);
      scalar(c, "SELECT 1");
      expectState("22012", () -> scalar(c, "SELECT 1/0"));
      check(scalar(c, "SELECT count(*) FROM typed").equals("5"), "transaction goes on after error");
      c.commit();
    }
  }

  static List<Connection> holdOthers(int n) throws SQLException {
    List<Connection> holders = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Connection h = proxy();
      h.setAutoCommit(false);
      scalar(h, "SELECT 1");  // open transaction: holds one server connection
      holders.add(h);
    }
    return holders;
  }

  static void preparedOnAnotherBackend() throws Exception {
    try (Connection c = proxy("prepareThreshold=1")) {
      PreparedStatement ps = c.prepareStatement("SELECT pg_backend_pid(), ?::text || count(*) FROM typed");
      ps.setString(1, "a");
      ResultSet rs = ps.executeQuery();
      check(rs.next() && rs.getString(2).equals("a5"), "first");
      int pid1 = rs.getInt(1);
      List<Connection> holders = holdOthers(SESSION_MODE ? 3 : POOL_SIZE - 1);
      try {
        int pid2 = pid1;
        for (int i = 0; i < 5; i++) {
          ps.setString(1, "b" + i);
          rs = ps.executeQuery();
          check(rs.next() && rs.getString(2).equals("b" + i + "5"), "on another backend: " + rs.getString(2));
          pid2 = rs.getInt(1);
        }
        if (SESSION_MODE) check(pid2 == pid1, "session left its backend (" + pid1 + " -> " + pid2 + ")");
        else check(pid2 != pid1, "did not move to another backend (" + pid1 + ")");
      } finally {
        for (Connection h : holders) h.close();
      }
    }
    // pgjdbc's statement cache evicts (and Closes) server statements beyond 2 queries.
    try (Connection c = proxy("prepareThreshold=1", "preparedStatementCacheQueries=2")) {
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
          try (PreparedStatement ps = c.prepareStatement("SELECT " + i + " + ?")) {
            ps.setInt(1, round);
            ResultSet rs = ps.executeQuery();
            check(rs.next() && rs.getInt(1) == i + round, "evicted statement " + i);
          }
        }
      }
    }
  }

  static void autocommitOffAndSavepoints() throws Exception {
    try (Connection c = proxy()) {
      c.setAutoCommit(false);
      String pid = scalar(c, "SELECT pg_backend_pid()");
      scalar(c, "SELECT count(*) FROM big");
      check(pid.equals(scalar(c, "SELECT pg_backend_pid()")), "one backend per transaction");
      check(scalar(c, "SHOW transaction_read_only").equals("on"), "read only");
      c.commit();
      scalar(c, "SELECT 1");
      c.rollback();
      Savepoint sp = c.setSavepoint("s1");
      expectState("22012", () -> scalar(c, "SELECT 1/0"));
      expectState("25P02", () -> scalar(c, "SELECT 1"));
      c.rollback(sp);
      check(scalar(c, "SELECT count(*) FROM app.events").equals("50"), "after rollback to savepoint");
      Savepoint sp2 = c.setSavepoint();
      c.releaseSavepoint(sp2);
      c.commit();
      c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
      check(scalar(c, "SHOW transaction_isolation").equals("serializable"), "isolation");
      c.commit();
      c.setReadOnly(true);
      check(scalar(c, "SELECT count(*) FROM typed").equals("5"), "read only mode");
      c.commit();
    }
  }

  static void errorsAndWrites() throws Exception {
    for (boolean auto : new boolean[] {true, false}) {
      try (Connection c = proxy()) {
        c.setAutoCommit(auto);
        String[][] cases = {{"SELECT 1/0", "22012"}, {"SELECT * FROM no_such_table", "42P01"},
            {"SELEKT 1", "42601"}, {"SELECT 'x'::int", "22P02"}};
        for (String[] cs : cases) {
          expectState(cs[1], () -> scalar(c, cs[0]));
          if (!auto) c.rollback();
          check(scalar(c, "SELECT count(*) FROM typed").equals("5"), "after " + cs[0]);
        }
        for (String w : new String[] {"INSERT INTO big VALUES (100001, 1, 'x', 1)",
            "UPDATE typed SET c_int = 1", "CREATE TABLE t (a int)"}) {
          try (Statement st = c.createStatement()) {
            st.executeUpdate(w);
            throw new AssertionError("write accepted: " + w);
          } catch (SQLException e) {
            check("25006".equals(e.getSQLState()) && e.getMessage().contains("Write operations are not permitted"),
                w + ": " + e.getSQLState() + " " + e.getMessage());
          }
          if (!auto) c.rollback();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO big VALUES (?, 1, 'x', 1)")) {
          ps.setInt(1, 100002);
          expectState("25006", () -> ps.executeUpdate());
        }
        if (!auto) c.rollback();
        check(scalar(c, "SELECT count(*) FROM big").equals("100000"), "nothing written");
      }
    }
  }

  static void cancel() throws Exception {
    try (Connection c = proxy(); Statement st = c.createStatement()) {
      ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor();
      ex.schedule(() -> { st.cancel(); return null; }, 700, TimeUnit.MILLISECONDS);
      long start = System.nanoTime();
      expectState("57014", () -> st.execute("SELECT pg_sleep(10)"));
      double secs = (System.nanoTime() - start) / 1e9;
      check(secs < 5, "cancel took " + secs + " s");
      check(scalar(c, "SELECT 'alive'").equals("alive"), "usable after cancel");
      // In a transaction, through a PreparedStatement.
      c.setAutoCommit(false);
      PreparedStatement ps = c.prepareStatement("SELECT pg_sleep(?)");
      ps.setInt(1, 10);
      ex.schedule(() -> { ps.cancel(); return null; }, 500, TimeUnit.MILLISECONDS);
      expectState("57014", () -> ps.executeQuery());
      c.rollback();
      check(scalar(c, "SELECT 2").equals("2"), "usable after cancel in transaction");
      c.commit();
      ex.shutdown();
    }
  }

  static String[] bigExpected() throws SQLException {
    try (Connection d = direct(); Statement st = d.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*), sum(id), sum(amount),"
            + " md5(string_agg(label, ',' ORDER BY id)) FROM big")) {
      rs.next();
      return new String[] {rs.getString(1), rs.getString(2), rs.getBigDecimal(3).toPlainString(), rs.getString(4)};
    }
  }

  static String[] checksum(ResultSet rs) throws Exception {
    long n = 0, ids = 0;
    BigDecimal amount = BigDecimal.ZERO;
    StringBuilder labels = new StringBuilder();
    while (rs.next()) {
      if (n > 0) labels.append(',');
      n++;
      ids += rs.getInt(1);
      amount = amount.add(rs.getBigDecimal(4));
      labels.append(rs.getString(3));
    }
    byte[] md5 = MessageDigest.getInstance("MD5").digest(labels.toString().getBytes("UTF-8"));
    StringBuilder hex = new StringBuilder();
    for (byte b : md5) hex.append(String.format("%02x", b));
    return new String[] {Long.toString(n), Long.toString(ids), amount.toPlainString(), hex.toString()};
  }

  static void fetchSizeAndLargeResult() throws Exception {
    String[] expected = bigExpected();
    try (Connection c = proxy()) {
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM big ORDER BY id")) {
        String[] got = checksum(rs);
        check(Arrays.equals(got, expected), "all at once: " + Arrays.toString(got) + " vs " + Arrays.toString(expected));
      }
      c.setAutoCommit(false);
      for (int size : new int[] {1000, 7}) {
        try (PreparedStatement ps = c.prepareStatement(
            size == 7 ? "SELECT * FROM big WHERE id <= 100 ORDER BY id" : "SELECT * FROM big ORDER BY id")) {
          ps.setFetchSize(size);
          try (ResultSet rs = ps.executeQuery()) {
            String[] got = checksum(rs);
            if (size == 1000) {
              check(Arrays.equals(got, expected), "fetchSize " + Arrays.toString(got));
            } else {
              check(got[0].equals("100"), "fetchSize 7: " + got[0]);
            }
          }
        }
      }
      c.commit();
    }
  }

  static void metadata() throws Exception {
    try (Connection p = proxy(); Connection d = direct()) {
      DatabaseMetaData pm = p.getMetaData(), dm = d.getMetaData();
      check(pm.getDatabaseProductVersion().equals(dm.getDatabaseProductVersion()), "version");
      List<String> pt = dump(pm.getTables(null, null, "%", new String[] {"TABLE", "VIEW"}));
      check(pt.equals(dump(dm.getTables(null, null, "%", new String[] {"TABLE", "VIEW"}))), "getTables");
      check(pt.stream().anyMatch(r -> r.contains("=big {")) && pt.stream().anyMatch(r -> r.contains("big_summary")),
          "tables listed: " + pt);
      List<String> pc = dump(pm.getColumns(null, "public", "typed", "%"));
      check(pc.size() == 16 && pc.equals(dump(dm.getColumns(null, "public", "typed", "%"))), "getColumns " + pc.size());
      List<String> pk = dump(pm.getPrimaryKeys(null, "app", "events"));
      check(pk.size() == 1 && pk.equals(dump(dm.getPrimaryKeys(null, "app", "events"))), "getPrimaryKeys " + pk);
      check(dump(pm.getIndexInfo(null, "public", "big", false, false))
          .equals(dump(dm.getIndexInfo(null, "public", "big", false, false))), "getIndexInfo");
      check(dump(pm.getSchemas()).equals(dump(dm.getSchemas())), "getSchemas");
      check(dump(pm.getFunctions(null, "app", "%")).equals(dump(dm.getFunctions(null, "app", "%"))), "getFunctions");
      check(dump(pm.getTypeInfo()).equals(dump(dm.getTypeInfo())), "getTypeInfo");
    }
  }

  static void batches() throws Exception {
    try (Connection c = proxy(); Statement st = c.createStatement()) {
      st.addBatch("SET application_name = 'jdbc-batch'");
      st.addBatch("SET TimeZone = 'UTC'");
      st.addBatch("SET search_path = app");
      int[] counts = st.executeBatch();
      check(counts.length == 3, "batch counts " + Arrays.toString(counts));
      check(scalar(c, "SELECT current_setting('application_name') || ' ' || (SELECT count(*) FROM events)")
          .equals("jdbc-batch 50"), "batch SETs applied");
      st.addBatch("INSERT INTO public.big VALUES (200001, 1, 'x', 1)");
      st.addBatch("INSERT INTO public.big VALUES (200002, 1, 'x', 1)");
      try {
        st.executeBatch();
        throw new AssertionError("insert batch accepted");
      } catch (BatchUpdateException e) {
        SQLException cause = e.getNextException() != null ? e.getNextException() : e;
        check("25006".equals(cause.getSQLState()), "batch refusal: " + cause.getSQLState() + " " + cause);
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO public.big VALUES (?, 1, 'x', 1)")) {
        for (int i = 0; i < 5; i++) {
          ps.setInt(1, 300000 + i);
          ps.addBatch();
        }
        try {
          ps.executeBatch();
          throw new AssertionError("prepared insert batch accepted");
        } catch (BatchUpdateException e) {
          SQLException cause = e.getNextException() != null ? e.getNextException() : e;
          check("25006".equals(cause.getSQLState()), "prepared batch refusal: " + cause);
        }
      }
      check(scalar(c, "SELECT count(*) FROM public.big").equals("100000"), "nothing written");
      // Several statements in one execute: several result sets.
      check(st.execute("SELECT 1; SELECT 'two'; SELECT count(*) FROM public.typed"), "first is a result");
      List<String> got = new ArrayList<>();
      do {
        try (ResultSet rs = st.getResultSet()) {
          rs.next();
          got.add(rs.getString(1));
        }
      } while (st.getMoreResults());
      check(got.equals(List.of("1", "two", "5")), "multiple results " + got);
    }
  }

  static void copy() throws Exception {
    String[] outs = new String[2];
    for (int i = 0; i < 2; i++) {
      try (Connection c = i == 0 ? proxy() : direct()) {
        CopyManager cm = c.unwrap(PGConnection.class).getCopyAPI();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long rows = cm.copyOut("COPY (SELECT * FROM big ORDER BY id) TO STDOUT", out);
        ByteArrayOutputStream typed = new ByteArrayOutputStream();
        cm.copyOut("COPY typed TO STDOUT (FORMAT csv)", typed);
        byte[] md5 = MessageDigest.getInstance("MD5").digest(out.toByteArray());
        outs[i] = rows + " " + Arrays.toString(md5) + " " + typed.toString("UTF-8");
        if (i == 0) {
          check(rows == 100000, "copyOut rows " + rows);
          try {
            cm.copyIn("COPY big FROM STDIN", new StringReader("1\t1\tx\t1\n"));
            throw new AssertionError("copyIn accepted");
          } catch (SQLException e) {
            // refused
          }
          check(scalar(c, "SELECT count(*) FROM big").equals("100000"), "usable after copyIn refusal");
        }
      }
    }
    check(outs[0].equals(outs[1]), "COPY differs:\n" + outs[0] + "\n" + outs[1]);
  }

  static void manyConnections() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(30);
    List<Future<?>> futures = new ArrayList<>();
    long start = System.nanoTime();
    for (int t = 0; t < 30; t++) {
      final int id = t;
      futures.add(pool.submit(() -> {
        try (Connection c = proxy("ApplicationName=w" + id)) {
          PreparedStatement ps = c.prepareStatement(
              "SELECT ?::int, count(*), current_setting('application_name') FROM big WHERE grp = ?");
          for (int j = 0; j < 8; j++) {
            ps.setInt(1, id);
            ps.setInt(2, (id + j) % 100);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              check(rs.getInt(1) == id && rs.getLong(2) == 1000 && rs.getString(3).equals("w" + id),
                  "worker " + id + " got " + rs.getInt(1) + " " + rs.getString(3));
            }
          }
        }
        return null;
      }));
    }
    for (Future<?> f : futures) f.get(60, TimeUnit.SECONDS);
    pool.shutdown();
    System.out.printf("       (30 connections through a pool of %d: %.2fs)%n", POOL_SIZE,
        (System.nanoTime() - start) / 1e9);
  }

  static void sessionState() throws Exception {
    try (Connection c = proxy()) {
      c.setSchema("app");
      try (Statement st = c.createStatement()) {
        st.execute("SET TimeZone = 'Asia/Kolkata'");
      }
      List<Connection> holders = holdOthers(POOL_SIZE - 1);
      try {
        check(c.getSchema().equals("app"), "getSchema " + c.getSchema());
        check(scalar(c, "SELECT (SELECT count(*) FROM events) || ' ' || '2024-01-01 00:00+00'::timestamptz::text")
            .equals("50 2024-01-01 05:30:00+05:30"), "settings on another backend");
      } finally {
        for (Connection h : holders) h.close();
      }
    }
  }

  public static void main(String[] args) throws Exception {
    Class.forName("org.postgresql.Driver");
    System.out.println("== pgjdbc " + org.postgresql.util.DriverInfo.DRIVER_VERSION + " on Java "
        + System.getProperty("java.version"));
    test("types_round_trip", PgjdbcSuite::typesRoundTrip);
    test("parameters", PgjdbcSuite::parameters);
    test("prepared_statement_reused_50_times", PgjdbcSuite::preparedReuse);
    test("prepared_statement_on_another_backend", PgjdbcSuite::preparedOnAnotherBackend);
    test("query_modes_and_autosave", PgjdbcSuite::queryModesAndAutosave);
    test("autocommit_off_and_savepoints", PgjdbcSuite::autocommitOffAndSavepoints);
    test("errors_and_writes_refused", PgjdbcSuite::errorsAndWrites);
    test("cancel", PgjdbcSuite::cancel);
    test("fetch_size_cursor_and_large_result", PgjdbcSuite::fetchSizeAndLargeResult);
    test("database_metadata", PgjdbcSuite::metadata);
    test("batches", PgjdbcSuite::batches);
    test("copy", PgjdbcSuite::copy);
    test("many_connections", PgjdbcSuite::manyConnections);
    test("session_state", PgjdbcSuite::sessionState);
    System.out.println("pgjdbc suite: " + passed.size() + " passed, " + failed.size() + " failed");
    if (!failed.isEmpty()) System.err.println("failed: " + String.join(", ", failed));
    System.exit(failed.isEmpty() ? 0 : 1);
  }
}
