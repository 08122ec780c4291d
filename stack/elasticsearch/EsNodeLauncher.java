/*
 * Minimal launcher for a real Elasticsearch node assembled from the jars that
 * Elastic publishes on Maven Central (see ../elasticsearch.sh).
 *
 * The official distribution starts org.elasticsearch.bootstrap.Elasticsearch,
 * which (a) refuses to run as root and (b) attaches the "entitlements" java
 * agent (lib/entitlement-agent), which is not published on Maven Central.
 * Like Elastic's own test framework (and codelibs' cluster runner) we therefore
 * construct and start org.elasticsearch.node.Node directly, following the
 * same sequence as Elasticsearch.initPhase1..3 minus the parts that need the
 * unpublished pieces (entitlement agent, native controller spawner, CLI pipe):
 *
 *   1. settings/environment: InternalSettingsPreparer reads config/elasticsearch.yml
 *      (with ${ENV} substitution) plus -Ekey=value arguments, exactly as the CLI does;
 *   2. logging: LogConfigurator with config/log4j2.properties;
 *   3. modules: PluginsLoader loads every module under ${path.home}/modules
 *      (each with plugin-descriptor.properties; modular ones get their own
 *      module layer on top of the boot layer that holds the server);
 *   4. new Node(environment, pluginsLoader).start(); keep-alive thread;
 *      shutdown hook (SIGTERM) does prepareForClose/close/awaitClose.
 *
 * The JVM must be started with the server and its dependencies on the module
 * path (--module-path lib --add-modules ALL-MODULE-PATH) and this class on the
 * class path.
 */
package cqrs.es;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.elasticsearch.Build;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.monitor.jvm.JvmInfo;
import org.elasticsearch.monitor.os.OsProbe;
import org.elasticsearch.monitor.process.ProcessProbe;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginBundle;
import org.elasticsearch.plugins.PluginsLoader;

import java.io.IOError;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

public final class EsNodeLauncher {

    private static volatile Node node;
    private static final CountDownLatch keepAlive = new CountDownLatch(1);

    private EsNodeLauncher() {}

    public static void main(String[] args) throws Exception {
        String home = System.getProperty("es.path.home");
        String conf = System.getProperty("es.path.conf");
        if (home == null || conf == null) {
            System.err.println("es.path.home and es.path.conf system properties are required");
            System.exit(2);
        }
        Map<String, String> overrides = new HashMap<>();
        overrides.put(Environment.PATH_HOME_SETTING.getKey(), home);
        String pidFile = null;
        for (String arg : args) {
            if (arg.startsWith("-E") && arg.indexOf('=') > 2) {
                int eq = arg.indexOf('=');
                overrides.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else if (arg.startsWith("--pidfile=")) {
                pidFile = arg.substring("--pidfile=".length());
            } else {
                System.err.println("unknown argument: " + arg);
                System.exit(2);
            }
        }

        final Environment env;
        final Logger logger;
        try {
            // phase 1 (as in org.elasticsearch.bootstrap.Elasticsearch): settings, then logging
            LogConfigurator.registerErrorListener();
            // the ES logging facade must be wired before settings parsing (x-content loads its provider)
            LogConfigurator.configureESLogging();
            env = InternalSettingsPreparer.prepareEnvironment(
                Settings.EMPTY,
                overrides,
                Path.of(conf),
                () -> System.getenv("HOSTNAME")
            );
            LogConfigurator.setClusterName(ClusterName.CLUSTER_NAME_SETTING.get(env.settings()).value());
            LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
            LogConfigurator.configure(env, Boolean.getBoolean("cqrs.es.console"));
            logger = LogManager.getLogger(EsNodeLauncher.class);
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
            return;
        }

        try {
            Build build = Build.current();
            logger.info(
                "version[{}], pid[{}], build[{}/{}/{}], JVM[{}/{}], launched by EsNodeLauncher (Node started directly, no entitlement agent)",
                build.qualifiedVersion(),
                ProcessHandle.current().pid(),
                build.type().displayName(),
                build.hash(),
                build.date(),
                System.getProperty("java.vendor"),
                Runtime.version()
            );
            logger.info("JVM home [{}], JVM arguments {}", System.getProperty("java.home"), ManagementFactory.getRuntimeMXBean().getInputArguments());

            // phase 2 (subset): pid file, uncaught exception handler, probes, modules
            if (pidFile != null) {
                Path pid = Path.of(pidFile).toAbsolutePath();
                Files.createDirectories(pid.getParent());
                Files.writeString(pid, Long.toString(ProcessHandle.current().pid()));
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        Files.deleteIfExists(pid);
                    } catch (Exception ignored) {}
                }, "elasticsearch[pidfile-cleanup]"));
            }
            Thread.setDefaultUncaughtExceptionHandler(EsNodeLauncher::uncaught);
            ProcessProbe.getInstance();
            OsProbe.getInstance();
            JvmInfo.jvmInfo();

            Set<PluginBundle> modules = PluginsLoader.loadModulesBundles(env.modulesDir(), false);
            Set<PluginBundle> plugins = PluginsLoader.loadPluginsBundles(env.pluginsDir(), false);
            PluginsLoader pluginsLoader = PluginsLoader.createPluginsLoader(modules, plugins, Map.of());

            // phase 3: construct and start the node
            Runtime.getRuntime().addShutdownHook(new Thread(EsNodeLauncher::shutdown, "elasticsearch-shutdown"));
            Thread keepAliveThread = new Thread(() -> {
                try {
                    keepAlive.await();
                } catch (InterruptedException e) {
                    // exit
                }
            }, "elasticsearch[keepAlive/" + build.version() + "]");
            keepAliveThread.setDaemon(false);

            node = new Node(env, pluginsLoader);
            node.start();
            keepAliveThread.start();
            logger.info("EsNodeLauncher: node started");
        } catch (Throwable t) {
            logger.error("fatal exception while starting the node", t);
            LogManager.shutdown();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void shutdown() {
        Node n = node;
        if (n != null) {
            try {
                n.prepareForClose();
                n.close();
                if (n.awaitClose(10, TimeUnit.SECONDS) == false) {
                    LogManager.getLogger(EsNodeLauncher.class).warn("node did not stop within 10 seconds");
                }
            } catch (Throwable t) {
                LogManager.getLogger(EsNodeLauncher.class).warn("failure while closing the node", t);
            }
        }
        keepAlive.countDown();
        LogManager.shutdown();
    }

    /** Same policy as ElasticsearchUncaughtExceptionHandler (package-private in the server). */
    private static void uncaught(Thread thread, Throwable t) {
        Logger logger = LogManager.getLogger(EsNodeLauncher.class);
        if (t instanceof Error) {
            try {
                logger.error("fatal error in thread [" + thread.getName() + "], exiting", t);
            } finally {
                int code = t instanceof InternalError ? 128
                    : t instanceof OutOfMemoryError ? 127
                    : t instanceof StackOverflowError ? 126
                    : t instanceof UnknownError ? 125
                    : t instanceof IOError ? 124
                    : 1;
                Runtime.getRuntime().halt(code);
            }
        } else {
            logger.error("uncaught exception in thread [" + thread.getName() + "]", t);
        }
    }
}
