import java.io.IOException;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local (same command-line options as its own ServerRunner) with two things its
 * command line cannot do, and which local/dynamodb.ts relies on:
 *
 * - It listens on one address (system property dynamodb.local.host, default 127.0.0.1). Its own
 *   server binds every interface, and it has no option to change that.
 * - It exits when its standard input closes. The runtime holds the other end of that pipe; the
 *   kernel closes it however the runtime ends, SIGKILL included, so DynamoDB Local never outlives
 *   the process that started it.
 *
 * Run from source (java -cp DynamoDBLocal.jar DynamoDbLocalLauncher.java ...): nothing to build.
 */
public final class DynamoDbLocalLauncher {
  public static void main(String[] args) throws Exception {
    Thread lifeline = new Thread(DynamoDbLocalLauncher::exitWhenStdinCloses, "lifeline");
    lifeline.setDaemon(true);
    lifeline.start();

    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    // The Jetty server is private and created with a port only: set the host on its connector
    // before it starts.
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
    for (Connector connector : server.getConnectors()) ((ServerConnector) connector).setHost(host);

    // start() prints a failure to bind (port in use) and stops the server instead of throwing.
    proxy.start();
    if (!server.isStarted()) System.exit(1);
  }

  private static void exitWhenStdinCloses() {
    try {
      while (System.in.read() != -1) {
        // Nothing is ever written: the pipe only tells that the runtime is alive.
      }
    } catch (IOException ignored) {
      // A broken pipe means the same as end of file.
    }
    System.exit(0);
  }
}
