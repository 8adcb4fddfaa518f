// The pgjdbc run of AuditTest.PgjdbcRunAppearsOnceWithLoginAndRows (audit_test.cpp): a fixed
// set of statements through the real driver (extended protocol; a PreparedStatement switches
// to a named server statement at its 5th execution, prepareThreshold), connected with PG*.
// The test knows what each statement returns; this program only runs them.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

public class AuditJdbc {
  static int drain(ResultSet rs) throws Exception {
    int n = 0;
    while (rs.next()) ++n;
    rs.close();
    return n;
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT")
        + "/" + System.getenv("PGDATABASE");
    Properties props = new Properties();
    props.setProperty("user", System.getenv("PGUSER"));
    props.setProperty("password", System.getenv("PGPASSWORD"));
    props.setProperty("ApplicationName", "audit-jdbc");
    props.setProperty("sslmode", "disable");
    try (Connection conn = DriverManager.getConnection(url, props)) {
      try (Statement st = conn.createStatement()) {
        drain(st.executeQuery("SELECT g FROM generate_series(1, 4) g /* audit-jdbc-stmt */"));
      }
      try (PreparedStatement ps =
               conn.prepareStatement("SELECT g FROM generate_series(1, ?) g /* audit-jdbc-prep */")) {
        for (int i = 1; i <= 8; ++i) {
          ps.setInt(1, i);
          if (drain(ps.executeQuery()) != i) throw new AssertionError("rows for " + i);
        }
      }
      conn.setAutoCommit(false);
      try (Statement st = conn.createStatement()) {
        drain(st.executeQuery("SELECT 1 /* audit-jdbc-tx1 */"));
        drain(st.executeQuery("SELECT g FROM generate_series(1, 2) g /* audit-jdbc-tx2 */"));
      }
      conn.commit();
    }
  }
}
