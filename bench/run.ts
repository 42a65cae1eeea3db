import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchUsageError, coldStartFiles, parseArgs, resultFiles, USAGE } from './args';
import { lagChartSvg } from './chart';
import { type ColdStartOptions, measureColdStart } from './cold-start';
import { consumerTargets } from './consumer-report';
import { type CostInputs, costPerMillionOrders, designsFromInputs } from './cost-model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-clients';
import { describeMachine } from './machine';
import { captureHandlerOutput } from './output';
import { PRICES } from './prices';
import { coldStartTarget, evaluateTargets, renderColdStartMarkdown, renderMarkdown, usd } from './report';
import type { BenchResults, ColdStartResults } from './results';
import type { DeployedSettings } from './settings';

/*
 * `npm run bench [-- --quick]`: measures the outbox offline, each number beside its baseline in
 * the same run, and prices it. See bench/README section in the project README for what each
 * number means.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RELAY_MODULE = '../packages/dynamodb-outbox/src/engine/relay-handler.ts';
const UNREACHABLE = 'http://127.0.0.1:9';

/**
 * Set before any handler module loads: the Powertools singletons read it on import. Logs at
 * INFO, the deployed default, with metrics on so that their EMF lines are produced as in Lambda.
 * Tracing is off: there is no X-Ray daemon offline. Every AWS client without an explicit local
 * endpoint is pointed at a closed port, so nothing ever leaves this machine.
 */
const BENCH_ENVIRONMENT: Record<string, string> = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL: UNREACHABLE,
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'DynamoDbOutbox',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_METRICS_DISABLED: 'false',
  POWERTOOLS_TRACE_ENABLED: 'false',
  POWERTOOLS_DEV: 'false',
};

/**
 * Added for the cold-start imports with tracing on, as in Lambda with active tracing: the Tracer
 * traces where AWS_EXECUTION_ENV is set, and the X-Ray SDK starts in its Lambda mode where
 * LAMBDA_TASK_ROOT is. Nothing is sent at import.
 */
const LAMBDA_TRACING_ENVIRONMENT: Record<string, string> = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  LAMBDA_TASK_ROOT: '/var/task',
  POWERTOOLS_TRACE_ENABLED: 'true',
};

const TRACKED_TABLE = 'bench-tracked';
const RECEIPTS_TABLE = 'bench-receipts';
const EVENT_BUS_NAME = 'bench-bus';
const POISON_QUEUE_URL = `${UNREACHABLE}/000000000000/bench-poison`;

/** Bundling and importing every function, with the deployed NODE_OPTIONS and settings. */
const coldStartOptions = async (
  settings: DeployedSettings,
  runs: number,
  log: (message: string) => void,
): Promise<ColdStartOptions> => {
  const { relaySettings, writerSettings, reconcilerSettings, consumerSettings } = await import(
    '../packages/dynamodb-outbox/src/runtime/settings'
  );
  return {
    projectRoot,
    buildDir: join(projectRoot, 'bench', '.build'),
    cdkContext:
      (
        JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
          context?: Record<string, unknown>;
        }
      ).context ?? {},
    runs,
    environment: {
      ...BENCH_ENVIRONMENT,
      AWS_ENDPOINT_URL: UNREACHABLE,
      NODE_OPTIONS: settings.api.environment.NODE_OPTIONS ?? '',
      // What each handler reads at import. The relay's and the API's settings are the deployed
      // ones; the reconciler's and the consumer's are valid stand-ins: an import costs the same.
      TABLE_NAME: 'orders',
      ...writerSettings.toEnv({ ...settings.api.outbox, tableName: 'orders' }),
      ...relaySettings.toEnv({ ...settings.relay.outbox, tableName: 'orders' }),
      ...reconcilerSettings.toEnv({
        ...settings.relay.outbox,
        tableName: 'orders',
        thresholdSeconds: 900,
        maxItemsPerRun: 5000,
      }),
      INVENTORY_TABLE_NAME: 'inventory',
      ...consumerSettings.toEnv({ idempotencyTableName: 'idempotency', idempotencyTtlSeconds: 86400 }),
    },
    tracingEnvironment: LAMBDA_TRACING_ENVIRONMENT,
    log,
  };
};

/** The command line, or undefined after saying what is wrong with it. */
const readArgs = (): ReturnType<typeof parseArgs> | undefined => {
  try {
    return parseArgs(process.argv.slice(2), join(projectRoot, 'bench', 'results'));
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}\n`);
    return undefined;
  }
};

const main = async (): Promise<number> => {
  const args = readArgs();
  if (args === undefined) return 2;
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_PROFILE']) delete process.env[name];
  Object.assign(process.env, BENCH_ENVIRONMENT);

  const { profile } = args;
  const output = captureHandlerOutput();
  const startedAt = new Date();
  const log = (message: string): void =>
    output.progress(`[bench +${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)}s] ${message}`);
  const cleanup: Array<() => Promise<unknown>> = [];
  // Ctrl-C must not leave DynamoDB Local (a JVM) running behind.
  const interrupted = (signal: NodeJS.Signals): void => {
    output.restore();
    process.stderr.write(`[bench] ${signal}: stopping\n`);
    Promise.allSettled(cleanup.reverse().map((stop) => stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const machine = describeMachine();
    log(
      `${profile.name} run on ${machine.cpus} × ${machine.cpuModel}, load average ${machine.loadAverageAtStart}`,
    );

    const { readDeployedSettings } = await import('./settings');
    const settings = await readDeployedSettings(join(projectRoot, 'cdk.json'), {
      tableName: TRACKED_TABLE,
      eventBusName: EVENT_BUS_NAME,
      poisonQueueUrl: POISON_QUEUE_URL,
    });
    log(`settings: relay from ${settings.sources.relay}, API from ${settings.sources.api}`);

    if (args.saga) {
      const { measureSagaLag, renderSagaLagMarkdown, sagaLagFiles } = await import('./saga-lag');
      const results = await measureSagaLag(profile, log);
      const files = sagaLagFiles(profile);
      const markdown = renderSagaLagMarkdown(results);
      mkdirSync(args.outDir, { recursive: true });
      writeFileSync(join(args.outDir, files.json), `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(join(args.outDir, files.markdown), markdown);
      output.restore();
      process.stdout.write(markdown);
      return results.unconfirmed === 0 ? 0 : 1;
    }

    if (args.coldStart) {
      const coldStart = await measureColdStart(await coldStartOptions(settings, profile.coldStart.runs, log));
      const results: ColdStartResults = {
        schemaVersion: 1,
        profile: profile.name,
        startedAt: startedAt.toISOString(),
        durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
        machine,
        nodeOptions: settings.api.environment.NODE_OPTIONS,
        coldStart,
      };
      const files = coldStartFiles(profile);
      const markdown = renderColdStartMarkdown(results);
      mkdirSync(args.outDir, { recursive: true });
      writeFileSync(join(args.outDir, files.json), `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(join(args.outDir, files.markdown), markdown);
      output.restore();
      process.stdout.write(markdown);
      process.stderr.write(`[bench] results written to ${args.outDir}/{${files.json},${files.markdown}}\n`);
      return 0;
    }

    const { startDynamoDbLocal } = await import('../packages/dynamodb-outbox/src/local/dynamodb');
    const { claimPort } = await import('../packages/dynamodb-outbox/src/local/ports');
    const { BusProbe, Signal } = await import('./harness');
    const signal = new Signal();
    const relayBus = new BusProbe(signal);
    const baselineBus = new BusProbe(signal);
    await relayBus.bus.start();
    cleanup.push(() => relayBus.bus.stop());
    await baselineBus.bus.start();
    cleanup.push(() => baselineBus.bus.stop());
    // Each phase gets a fresh DynamoDB Local on the same port (the relay's clients were configured
    // with it): after tens of thousands of writes it slows down and starts dropping connections,
    // which would charge one phase for what the previous one left behind.
    const dynamoDbPort = await claimPort(0);
    let dynamoDb = await startDynamoDbLocal(dynamoDbPort);
    cleanup.push(() => dynamoDb.stop());
    const freshDynamoDb = async (): Promise<void> => {
      if (!profile.isolate) return;
      await dynamoDb.stop();
      dynamoDb = await startDynamoDbLocal(dynamoDbPort);
    };
    log(
      `DynamoDB Local on ${dynamoDb.endpoint}, EventBridge endpoints ${relayBus.endpoint} (relay), ${baselineBus.endpoint} (baseline)`,
    );

    // The relay's own clients come from its module, configured by the environment as in Lambda.
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = relayBus.endpoint;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoDb.endpoint;
    const { relaySettings, writerSettings } = await import(
      '../packages/dynamodb-outbox/src/runtime/settings'
    );
    type RelayModule = typeof import('../packages/dynamodb-outbox/src/engine/relay-handler');
    // Two instances of the deployed module, one per delivery-tracking setting it reads on import.
    const relayHandler = async (
      deliveryTracking: boolean,
      instance: string,
    ): Promise<RelayModule['handler']> => {
      Object.assign(process.env, relaySettings.toEnv({ ...settings.relay.outbox, deliveryTracking }));
      return ((await import(`${RELAY_MODULE}?instance=${instance}`)) as RelayModule).handler;
    };
    const trackingOn = await relayHandler(true, 'on');
    const trackingOff = await relayHandler(false, 'off');
    const unfiltered = await relayHandler(false, 'unfiltered');
    const { TIME_ORDERED_TABLE_LAYOUT } = await import('../packages/dynamodb-outbox/src/runtime/layout');
    // The chosen design: receipts on a time-ordered outbox table (its own instance, as for the others).
    Object.assign(
      process.env,
      relaySettings.toEnv({
        ...settings.relay.outbox,
        tableName: RECEIPTS_TABLE,
        layout: TIME_ORDERED_TABLE_LAYOUT,
        deliveryTracking: true,
      }),
    );
    const receipts = ((await import(`${RELAY_MODULE}?tracking=receipts`)) as RelayModule).handler;

    const { readOrdersSettings } = await import('../lambdas/orders/config');
    // The API's settings as deployed, on a bench table, with delivery tracking as asked.
    const ordersSettings = (tableName: string, deliveryTracking: boolean) =>
      readOrdersSettings({
        ...settings.api.environment,
        TABLE_NAME: tableName,
        ...writerSettings.toEnv({ ...settings.api.outbox, tableName, deliveryTracking }),
      });
    const receiptsOrdersSettings = (outboxTableName: string) =>
      readOrdersSettings({
        ...settings.api.environment,
        TABLE_NAME: 'bench-orders',
        ...writerSettings.toEnv({
          ...settings.api.outbox,
          tableName: outboxTableName,
          layout: TIME_ORDERED_TABLE_LAYOUT,
          deliveryTracking: true,
        }),
      });
    const apiFunction = { memoryMb: settings.api.memoryMb, timeoutSeconds: settings.api.timeoutSeconds };
    const deps = () => ({
      dynamoDb,
      signal,
      relayBus,
      baselineBus,
      relayHandlers: { trackingOn, trackingOff, receipts, unfiltered },
      receiptsTableName: RECEIPTS_TABLE,
      receiptsOrdersSettings,
      settings: settings.relay,
      api: apiFunction,
      ordersSettings,
      trackedTableName: TRACKED_TABLE,
      eventBusName: EVENT_BUS_NAME,
      eventSource: settings.relay.outbox.source,
      log,
    });

    if (args.sweep) {
      const { benchSweep, loadAverages, sweepMarkdown } = await import('./sweep');
      const seconds = profile.name === 'quick' ? 3 : 15;
      const loadAtStart = loadAverages();
      const { points, unfinished } = await benchSweep(
        async () => {
          await freshDynamoDb();
          return deps();
        },
        {
          // Up to where this 2-core machine stops keeping up (DynamoDB Local takes about 400
          // two-item transactions a second at best).
          rates: profile.name === 'quick' ? [5, 20] : [5, 20, 80, 200, 400, 800],
          windows: [0, 1],
          seconds,
          prices: PRICES,
          apiFunction: { durationMs: 5, memoryMb: settings.api.memoryMb },
          relayMemoryMb: settings.relay.memoryMb,
          // Order and outbox item, each under 1 KB, in one transaction: 2 WRU each (checked by the main run).
          apiWriteUnits: 4,
        },
      );
      for (const stop of cleanup.splice(0).reverse()) await stop();
      const markdown = sweepMarkdown(
        points,
        seconds,
        { atStart: loadAtStart, atEnd: loadAverages() },
        unfinished,
      );
      const suffix = profile.name === 'quick' ? '-quick' : '';
      mkdirSync(args.outDir, { recursive: true });
      writeFileSync(
        join(args.outDir, `sweep${suffix}.json`),
        `${JSON.stringify(
          points.map(({ samples: _samples, ...p }) => p),
          null,
          2,
        )}\n`,
      );
      writeFileSync(join(args.outDir, `sweep${suffix}.md`), markdown);
      const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
      writeFileSync(
        join(args.outDir, `sweep${suffix}.svg`),
        lagChartSvg(
          points.map((p, i) => ({
            label: `${p.ordersPerSecond}/s, window ${p.windowSeconds} s (${usd(p.usdPerMillionOrders)}/M)`,
            color: colors[i % colors.length] ?? '#000000',
            samples: p.samples,
          })),
          {
            title: 'Relay lag with receipts, by order rate and batching window',
            subtitle: `commit → accepted by EventBridge; DynamoDB Local, ${seconds} s per point (${startedAt.toISOString().slice(0, 10)})`,
          },
        ),
      );
      output.restore();
      process.stdout.write(markdown);
      return 0;
    }

    const { countCosts } = await import('./counts');
    const counts = await countCosts(deps(), settings.timeIndex, profile.counts.orders);

    const { benchWritePath } = await import('./write-path');
    const { createOutboxTable } = await import('../packages/dynamodb-outbox/src/local/dynamodb');
    const { DeleteTableCommand } = await import('@aws-sdk/client-dynamodb');
    const writePath = [];
    for (const concurrency of profile.writePath.concurrencies) {
      await freshDynamoDb();
      const writeTable = `bench-write-path-c${concurrency}`;
      await createOutboxTable(dynamoDb.client, writeTable, settings.api.outbox.layout);
      // The API exactly as deployed (delivery tracking and retention from its environment).
      const deployedApi = ordersSettings(writeTable, settings.api.outbox.deliveryTracking);
      writePath.push(
        ...(await benchWritePath({
          dynamoDb,
          settings: deployedApi,
          api: apiFunction,
          concurrencies: [concurrency],
          rounds: profile.writePath.rounds,
          requestsPerRound: (c) => profile.writePath.requestsPerRound[c] ?? 200,
          warmupRequests: profile.writePath.warmupRequests,
          http: profile.writePath.http,
          log,
        })),
      );
      await dynamoDb.client.send(new DeleteTableCommand({ TableName: writeTable }));
    }

    const { benchDrain, benchLag } = await import('./relay');
    await freshDynamoDb();
    const lag = await benchLag(deps(), profile.lag.ordersPerSecond, profile.lag.seconds);
    const drain = await benchDrain(profile.drain.backlog, profile.drain.rounds, profile.isolate, async () => {
      await freshDynamoDb();
      return deps();
    });

    const { benchConsumers, CONSUMER_BENCH_SIZES, CONSUMER_MEMORY_MB } = await import('./consumers');
    await freshDynamoDb();
    const consumers = await benchConsumers({
      dynamoDb,
      ...CONSUMER_BENCH_SIZES[profile.name],
      memoryMb: CONSUMER_MEMORY_MB,
      prices: PRICES,
      log,
    });

    // Cold starts last, with DynamoDB Local stopped: the imports have the machine to themselves.
    for (const stop of cleanup.splice(0).reverse()) await stop();
    const coldStart = await measureColdStart(await coldStartOptions(settings, profile.coldStart.runs, log));

    const handlerAtC1 =
      writePath.find((l) => l.concurrency === 1)?.variants.handler ?? writePath[0]?.variants.handler;
    if (!handlerAtC1) throw new Error('The write path produced no handler measurement');
    const fullBatches = `full batches of ${settings.relay.batchSize}`;
    const inputs: CostInputs = {
      eventsPerOrder: 1,
      chunksPerEvent: counts.chunksPerEvent,
      apiFunction: { durationMs: handlerAtC1.latencyMs.p50, memoryMb: settings.api.memoryMb },
      relayMemoryMb: settings.relay.memoryMb,
      apiWriteUnits: {
        trackingOn: counts.api.trackingOn.writeUnitsPerOrder,
        trackingOff: counts.api.trackingOff.writeUnitsPerOrder,
      },
      // Receipts at full batches, as the relay writes them in a drain.
      trackingWriteUnitsPerEvent: drain.trackingOn.receiptWriteUnitsPerEvent,
      relay: {
        trackingOn: {
          label: fullBatches,
          eventsPerInvocation: 1 / drain.trackingOn.invocationsPerEvent,
          durationMs: drain.trackingOn.invocationMs,
        },
        trackingOnLight: {
          label: `${lag.ordersPerSecond} orders/s`,
          eventsPerInvocation: lag.trackingOn.eventsPerInvocation,
          durationMs: lag.trackingOn.invocationMs,
        },
        trackingOff: {
          label: fullBatches,
          eventsPerInvocation: 1 / drain.trackingOff.invocationsPerEvent,
          durationMs: drain.trackingOff.invocationMs,
        },
        unfilteredBatchOfOne: {
          invocationsPerOrder: counts.unfiltered.invocationsPerOrder,
          durationMs: counts.unfiltered.invocationMs,
        },
      },
      receipts: {
        apiWriteUnits: drain.receipts.apiWriteUnitsPerOrder,
        writeUnitsPerEvent: drain.receipts.receiptWriteUnitsPerEvent,
        relay: {
          label: fullBatches,
          eventsPerInvocation: 1 / drain.receipts.invocationsPerEvent,
          durationMs: drain.receipts.invocationMs,
        },
      },
      recordsPerStreamRead: 1000,
      streamRecordsPerOrder: counts.unfiltered.invocationsPerOrder,
    };
    const designs = designsFromInputs(inputs).map((design) => costPerMillionOrders(design, PRICES));
    const totalOf = (key: string): number => {
      const design = designs.find((d) => d.key === key);
      if (!design) throw new Error(`No design ${key}`);
      return design.totalUsd;
    };

    const { relaySamples: onRelay, baselineSamples: onBaseline, ...lagOn } = lag.trackingOn;
    const { relaySamples: offRelay, baselineSamples: offBaseline, ...lagOff } = lag.trackingOff;
    const results: BenchResults = {
      schemaVersion: 1,
      profile: profile.name,
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      machine,
      settings,
      writePath,
      drain,
      lag: { ...lag, trackingOn: lagOn, trackingOff: lagOff },
      counts,
      coldStart,
      cost: { prices: PRICES, inputs, designs },
      targets: [
        ...evaluateTargets(writePath, drain, counts, {
          trackedUsd: totalOf('relay-receipts'),
          sameTableUsd: totalOf('relay-tracking-on'),
          pipesUsd: totalOf('pipes'),
        }),
        coldStartTarget(coldStart),
        ...consumerTargets(consumers, PRICES),
      ],
      consumers,
      handlerOutput: output.counts(),
    };

    const files = resultFiles(profile);
    mkdirSync(args.outDir, { recursive: true });
    const markdown = renderMarkdown(results);
    writeFileSync(join(args.outDir, files.json), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(args.outDir, files.markdown), markdown);
    writeFileSync(
      join(args.outDir, files.chart),
      lagChartSvg(
        [
          { label: 'relay, tracking on', color: '#d62728', samples: onRelay },
          { label: 'relay, tracking off', color: '#1f77b4', samples: offRelay },
          { label: 'baseline loop', color: '#7f7f7f', samples: [...onBaseline, ...offBaseline] },
        ],
        {
          title: 'Outbox relay lag: commit → accepted by EventBridge',
          subtitle: `${lag.ordersPerSecond} orders/s for ${lag.seconds} s per run, DynamoDB Local, local EventBridge endpoint (${profile.name} run, ${startedAt.toISOString().slice(0, 10)})`,
        },
      ),
    );
    output.restore();
    process.stdout.write(markdown);
    process.stderr.write(
      `[bench] results written to ${args.outDir}/{${files.json},${files.markdown},${files.chart}}\n`,
    );
    return 0;
  } catch (error) {
    output.restore();
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    const handlerErrors = output.counts().firstErrors;
    if (handlerErrors.length > 0)
      process.stderr.write(`[bench] first handler errors:\n${handlerErrors.join('\n')}\n`);
    return 1;
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
  }
};

process.exitCode = await main();
