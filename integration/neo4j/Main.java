// A real Neo4j Community server (embedded, Bolt only) for the integration tests; never a mock.
//
//   java -cp 'lib/*' Main.java HOME PORT [PASSWORD]
//
// (PASSWORD may instead be given in the environment variable NEO4J_TEST_SERVER_PASSWORD.)
// NEO4J_db_memory_transaction_max (e.g. 256m), as the official Docker image reads it, sets db.memory.transaction.max;
// the task orchestrator sets it for the project's own (managed) server.
// HOME holds the databases, transaction logs and Neo4j's own logs (HOME/logs/debug.log). Bolt listens on
// 127.0.0.1:PORT only; HTTP and HTTPS are off. Without PASSWORD, authentication is off. With PASSWORD it is on
// and the `neo4j` user's password is set to PASSWORD (no change required), also on a restart over an existing
// HOME, so the password given is always the one that works.
//
// Prints a single line "READY" on stdout once `RETURN 1` has run; SIGTERM shuts the server down cleanly.
// integration/neo4j.sh fetches the jars (pom.xml beside this file) and runs this.

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.io.ByteUnit;

public class Main {
    static final String PASSWORD_ENV = "NEO4J_TEST_SERVER_PASSWORD";
    static final String TX_MEMORY_ENV = "NEO4J_db_memory_transaction_max";

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: java -cp 'lib/*' Main.java HOME PORT [PASSWORD]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port;
        try {
            port = Integer.parseInt(args[1]);
        } catch (NumberFormatException e) {
            System.err.println("PORT must be a number, got " + args[1]);
            System.exit(2);
            return;
        }
        // PASSWORD may also come from the environment, which keeps it out of `ps` and out of the JVM command
        // line that Neo4j copies into HOME/logs/debug.log (integration/neo4j.sh passes it that way).
        String password = args.length == 3 ? args[2] : System.getenv(PASSWORD_ENV);
        if (password != null && password.isEmpty()) {
            password = null;
        }

        // Registered before build() so a SIGTERM during start-up still closes whatever was opened.
        AtomicReference<DatabaseManagementService> running = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            DatabaseManagementService toStop = running.getAndSet(null);
            if (toStop != null) {
                toStop.shutdown();
                System.out.println("STOPPED");
            }
        }, "neo4j-shutdown"));

        // db.memory.transaction.max, in the official Docker image's form of a setting (NEO4J_<setting>): the
        // server refuses a transaction that needs more memory. Unset: no limit per transaction (Neo4j's default).
        String txMemoryMax = System.getenv(TX_MEMORY_ENV);
        long txMemoryMaxBytes = 0;
        if (txMemoryMax != null && !txMemoryMax.isBlank()) {
            try {
                txMemoryMaxBytes = ByteUnit.parse(txMemoryMax.trim());
            } catch (RuntimeException e) {
                System.err.println(TX_MEMORY_ENV + " must be a size such as 256m, got " + txMemoryMax);
                System.exit(2);
                return;
            }
        }

        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                    // Test passwords may be short; the default minimum is 8.
                    .setConfig(GraphDatabaseSettings.auth_minimum_password_length, 1)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(64))
                    .setConfig(GraphDatabaseSettings.memory_transaction_max_size, txMemoryMaxBytes)
                    // Keep test data folders small: no 256 MiB preallocated transaction log files.
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(16))
                    // The Bolt server waits 5 s + 5 s for its pools by default, which made every stop take over 10 s.
                    // (Internal settings of 5.26; databases are already shut down cleanly before these waits.)
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(100))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(100))
                    .build();
        } catch (RuntimeException e) {
            System.err.println("neo4j did not start (home " + home + ", bolt port " + port + "): " + e);
            e.printStackTrace();
            System.exit(1);
            return;
        }
        running.set(dbms);

        try {
            if (password != null) {
                setPassword(dbms, password);
            }
            Object one = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally(
                    "RETURN 1 AS one", Map.of(), result -> result.next().get("one"));
            if (!Long.valueOf(1L).equals(one)) {
                throw new IllegalStateException("RETURN 1 gave " + one);
            }
        } catch (RuntimeException e) {
            System.err.println("neo4j started but is not usable: " + e);
            e.printStackTrace();
            System.exit(1); // the shutdown hook closes the server
            return;
        }

        System.err.println("neo4j ready on bolt://127.0.0.1:" + port + " (auth " + (password != null ? "on" : "off")
                + ") after " + ManagementFactory.getRuntimeMXBean().getUptime() + " ms");
        System.out.println("READY");
        System.out.flush();
        new CountDownLatch(1).await(); // until SIGTERM: the shutdown hook does the rest
    }

    // The system database is reached in-process, which needs no login. The parameter keeps the password out of
    // the query text, and so out of any query log or error message.
    static void setPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        } catch (QueryExecutionException e) {
            // A restart over an existing HOME with the same password: Neo4j refuses to "change" it to itself
            // (Neo.ClientError.Statement.ArgumentError "Old password and new password cannot be the same").
            // The password already is the wanted one, which is all we need.
            String message = String.valueOf(e.getMessage());
            if (!"Neo.ClientError.Statement.ArgumentError".equals(e.getStatusCode())
                    || !message.contains("cannot be the same")) {
                throw e;
            }
        }
    }
}
