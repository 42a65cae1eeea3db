import { Arn, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MetricName } from '../runtime/metric-names.js';
import { defaultMetricsNamespace } from './function.js';

export interface OutboxAlarmThresholds {
  /**
   * Alarm when the relay's oldest unfinished stream record is older than this, for three minutes
   * in a row. The stream keeps records for 24 hours: past that they are gone.
   * @default Duration.minutes(5)
   */
  readonly iteratorAge?: Duration;
  /**
   * Alarm when the p99 of RelayLag (publish time minus occurredAt) is above this for two
   * five-minute periods in a row.
   * @default Duration.seconds(30)
   */
  readonly relayLagP99?: Duration;
  /**
   * Alarm when relay invocations fail at least this many times in five minutes.
   * @default 1
   */
  readonly relayErrors?: number;
  /**
   * Alarm when more than this percentage of API requests in five minutes are answered with a 5xx.
   * @default 1
   */
  readonly api5xxRatePercent?: number;
  /**
   * The 5xx rate counts only in periods with at least this many requests, so that one failed
   * request out of three at night does not page anyone.
   * @default 20
   */
  readonly api5xxMinRequests?: number;
}

/** The relay: the function the table stream invokes. */
export interface MonitoredRelay {
  /** The relay function: its errors, throttles and duration are alarmed on. */
  readonly function: IFunction;
  /** Its Powertools service name: the `service` dimension of the metrics it emits. */
  readonly serviceName: string;
  /**
   * The stream's iterator age. Pass the event source mapping's metric when the function reads
   * more than one stream.
   * @default the function's `IteratorAge` metric (Maximum)
   */
  readonly iteratorAge?: IMetric;
}

/** The HTTP API of the service that writes through the outbox. */
export interface MonitoredApi {
  /** The API: its 5xx rate and latency are alarmed on. */
  readonly api: IHttpApi;
  /** Powertools service name of the function behind it. */
  readonly serviceName: string;
  /**
   * A count metric (EMF) of the commands it commits, charted beside the events published.
   * @default none charted
   */
  readonly commitsMetric?: { readonly name: string; readonly label: string };
}

/** A function that emits Powertools metrics under a service name (reconciler, consumers). */
export interface MonitoredFunction {
  /** The function: its errors are alarmed on. */
  readonly function: IFunction;
  /** Its Powertools service name: the `service` dimension of the metrics it emits. */
  readonly serviceName: string;
}

/** A dead-letter (or poison) queue: any message in it is a failure someone must look at. */
export interface MonitoredQueue {
  /** Short name used in alarm names and chart labels, e.g. `relay-poison` or `inventory-dlq`. */
  readonly name: string;
  /** The queue: alarmed as soon as it holds a message. */
  readonly queue: IQueue;
}

export interface OutboxMonitoringProps {
  /**
   * CloudWatch namespace of the functions' EMF metrics (POWERTOOLS_METRICS_NAMESPACE): the
   * functions' own default, so that they match unless one of them is given another.
   * @default the stack's name
   */
  readonly metricsNamespace?: string;
  /**
   * Subscribe this e-mail address to the alarm topic. AWS sends a confirmation mail first.
   * @default no subscription: subscribe to `topic` yourself (chat, pager, ticketing)
   */
  readonly alarmEmail?: string;
  /**
   * Prefix of every alarm name (and of the dashboard name). The topic and its key only accept
   * alarms whose names start with it.
   * @default the stack name
   */
  readonly namePrefix?: string;
  /** @default see each threshold */
  readonly thresholds?: OutboxAlarmThresholds;
  /** @default not monitored until `monitorRelay` is called */
  readonly relay?: MonitoredRelay;
  /** @default not monitored until `monitorApi` is called */
  readonly api?: MonitoredApi;
  /** @default not monitored until `monitorReconciler` is called */
  readonly reconciler?: MonitoredFunction;
  /** @default none until `monitorConsumer` is called */
  readonly consumers?: readonly MonitoredFunction[];
  /** Every DLQ and poison queue of the service. @default none until `monitorDeadLetterQueue` is called */
  readonly deadLetterQueues?: readonly MonitoredQueue[];
}

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

/**
 * Alarms, an alarm topic and a dashboard for the outbox. Every alarm notifies `topic` when it
 * fires and when it recovers. Pass the parts that exist as props, or add them later with the
 * `monitor*` methods; the dashboard's charts fill in as parts are added.
 */
export class OutboxMonitoring extends Construct {
  /** Alarm notifications, encrypted with `topicKey`, TLS only. */
  public readonly topic: Topic;
  /**
   * The topic's key. A dedicated customer managed key: CloudWatch cannot publish to a topic
   * encrypted with the AWS managed SNS key, whose policy cannot be changed.
   */
  public readonly topicKey: Key;
  /** One CloudWatch dashboard: lag, throughput, failures and queue depths of the outbox. */
  public readonly dashboard: Dashboard;
  /** Every alarm created so far. */
  public readonly alarms: Alarm[] = [];
  /** The namespace the EMF metric alarms and charts read. */
  public readonly metricsNamespace: string;
  /** The thresholds in force, defaults filled in. */
  public readonly thresholds: Required<OutboxAlarmThresholds>;

  private readonly prefix: string;
  private readonly action: SnsAction;
  private readonly lagWidget: GraphWidget;
  private readonly throughputWidget: GraphWidget;
  private readonly iteratorAgeWidget: GraphWidget;
  private readonly failuresWidget: GraphWidget;
  private readonly poisonWidget: GraphWidget;
  private readonly deadLetterWidget: GraphWidget;
  private readonly consumersWidget: GraphWidget;

  constructor(scope: Construct, id: string, props: OutboxMonitoringProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.metricsNamespace = props.metricsNamespace ?? defaultMetricsNamespace(this);
    this.prefix = props.namePrefix ?? stack.stackName;
    this.thresholds = {
      iteratorAge: props.thresholds?.iteratorAge ?? Duration.minutes(5),
      relayLagP99: props.thresholds?.relayLagP99 ?? Duration.seconds(30),
      relayErrors: props.thresholds?.relayErrors ?? 1,
      api5xxRatePercent: props.thresholds?.api5xxRatePercent ?? 1,
      api5xxMinRequests: props.thresholds?.api5xxMinRequests ?? 20,
    };

    // CloudWatch publishes as a service principal; both grants are limited to this stack's
    // alarms in this account, so no other alarm (or service) can use the topic or its key.
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': Arn.format(
          {
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: `${this.prefix}-*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          },
          stack,
        ),
      },
    };
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');

    this.topicKey = new Key(this, 'TopicKey', {
      description: `Encrypts the alarm notifications of ${this.prefix}`,
      enableKeyRotation: true,
      // Notifications are transient: nothing stays encrypted under this key.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowOurAlarmsToPublishEncrypted',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );

    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: `${this.prefix} alarms`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowOurAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.alarmEmail !== undefined) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.topic);

    const graph = (title: string, leftLabel: string) =>
      new GraphWidget({
        title,
        width: 8,
        height: 6,
        leftYAxis: { label: leftLabel, min: 0, showUnits: false },
      });
    this.lagWidget = graph('Relay lag: publish time - occurredAt', 'ms');
    this.throughputWidget = graph('Throughput: commits vs events published', 'count / min');
    this.iteratorAgeWidget = graph('Stream iterator age (max)', 'ms');
    this.failuresWidget = graph('Failures', 'count / min');
    this.poisonWidget = graph('Poison and stuck events', 'count / min');
    this.deadLetterWidget = graph('DLQ depth (messages visible)', 'messages');
    this.consumersWidget = graph('Consumers: duplicate deliveries skipped', 'count / min');

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${this.prefix}-outbox`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(this.lagWidget, this.throughputWidget, this.iteratorAgeWidget);
    this.dashboard.addWidgets(this.failuresWidget, this.poisonWidget, this.deadLetterWidget);
    // Both widgets render at synth time, so alarms added later by the monitor* methods show up too.
    this.dashboard.addWidgets(
      this.consumersWidget,
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 16, height: 6 }),
    );

    if (props.relay) this.monitorRelay(props.relay);
    if (props.api) this.monitorApi(props.api);
    if (props.reconciler) this.monitorReconciler(props.reconciler);
    for (const consumer of props.consumers ?? []) this.monitorConsumer(consumer);
    for (const queue of props.deadLetterQueues ?? []) this.monitorDeadLetterQueue(queue);
  }

  /** Iterator age, relay errors and relay lag p99 alarms; lag, throughput and failure charts. */
  monitorRelay(relay: MonitoredRelay): void {
    const { iteratorAge, relayErrors, relayLagP99 } = this.thresholds;
    const defaultAge = relay.function.metric('IteratorAge', { statistic: Stats.MAXIMUM, period: ONE_MINUTE });
    const age = relay.iteratorAge ?? defaultAge;
    this.addAlarm('RelayIteratorAge', {
      metric: age,
      threshold: iteratorAge.toMilliseconds(),
      evaluationPeriods: 3,
      description:
        `The relay is more than ${iteratorAge.toHumanString()} behind the table stream. ` +
        'Records expire from the stream after 24 hours; the reconciler republishes what the relay missed.',
    });
    this.addAlarm('RelayErrors', {
      metric: relay.function.metricErrors({ statistic: Stats.SUM, period: FIVE_MINUTES }),
      threshold: relayErrors,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description:
        'Relay invocations failed: the stream batch is retried, then bisected, then sent to the poison queue.',
    });
    const lag = (statistic: string, period: Duration, label?: string) =>
      this.emf(MetricName.RelayLag, relay.serviceName, statistic, period, label);
    this.addAlarm('RelayLagP99', {
      metric: lag(Stats.p(99), FIVE_MINUTES),
      threshold: relayLagP99.toMilliseconds(),
      evaluationPeriods: 2,
      description: `The p99 delay from commit to EventBridge is over ${relayLagP99.toHumanString()}.`,
    });

    for (const [statistic, label] of [
      [Stats.p(50), 'p50'],
      [Stats.p(99), 'p99'],
      [Stats.MAXIMUM, 'max'],
    ] as const) {
      this.lagWidget.addLeftMetric(lag(statistic, ONE_MINUTE, label));
    }
    this.throughputWidget.addLeftMetric(
      this.count(MetricName.EventsPublished, relay.serviceName, 'events published (relay)'),
    );
    this.iteratorAgeWidget.addLeftMetric(relay.iteratorAge ?? defaultAge.with({ label: 'iterator age' }));
    this.failuresWidget.addLeftMetric(
      this.count(MetricName.PublishFailures, relay.serviceName, 'publish failures (retried)'),
    );
    this.failuresWidget.addLeftMetric(
      relay.function.metricErrors({ statistic: Stats.SUM, period: ONE_MINUTE, label: 'relay errors' }),
    );
    this.failuresWidget.addLeftMetric(
      relay.function.metricThrottles({ statistic: Stats.SUM, period: ONE_MINUTE, label: 'relay throttles' }),
    );
    this.poisonWidget.addLeftMetric(this.count(MetricName.PoisonEvents, relay.serviceName, 'poison events'));
  }

  /** API 5xx rate alarm; commits and 5xx charts. */
  monitorApi(api: MonitoredApi): void {
    const { api5xxRatePercent, api5xxMinRequests } = this.thresholds;
    const rate = new MathExpression({
      expression: `IF(requests >= ${api5xxMinRequests}, 100 * errors / requests, 0)`,
      usingMetrics: {
        errors: api.api.metricServerError({ statistic: Stats.SUM, period: FIVE_MINUTES }),
        requests: api.api.metricCount({ statistic: Stats.SUM, period: FIVE_MINUTES }),
      },
      period: FIVE_MINUTES,
      label: '5xx rate (%)',
    });
    this.addAlarm('Api5xxRate', {
      metric: rate,
      threshold: api5xxRatePercent,
      description: `More than ${api5xxRatePercent}% of API requests failed with a 5xx (periods with at least ${api5xxMinRequests} requests).`,
    });
    if (api.commitsMetric)
      this.throughputWidget.addLeftMetric(
        this.count(api.commitsMetric.name, api.serviceName, api.commitsMetric.label),
      );
    this.failuresWidget.addLeftMetric(
      api.api.metricServerError({ statistic: Stats.SUM, period: ONE_MINUTE, label: 'API 5xx' }),
    );
  }

  /** Alarms when the reconciler finds stuck events, cannot republish some, parks them or fails; charts them. */
  monitorReconciler(reconciler: MonitoredFunction): void {
    const republished = this.emf(
      MetricName.ReconcilerRepublished,
      reconciler.serviceName,
      Stats.SUM,
      FIVE_MINUTES,
    );
    this.addAlarm('ReconcilerRepublished', {
      metric: republished,
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description:
        'The reconciler found events still unpublished after its threshold and republished them: the relay missed them.',
    });
    const stuck = this.emf(
      MetricName.ReconcilerStuckEvents,
      reconciler.serviceName,
      Stats.MAXIMUM,
      FIVE_MINUTES,
    );
    this.addAlarm('ReconcilerStuckEvents', {
      metric: stuck,
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // Three runs at the default 5-minute interval: one failed attempt is not worth a page.
      evaluationPeriods: 3,
      description:
        'Events have failed to republish on every reconciler run for 15 minutes; each is retried with backoff, then parked on the poison queue.',
    });
    const parkedAfterRetries = this.emf(
      MetricName.ReconcilerParkedAfterRetries,
      reconciler.serviceName,
      Stats.SUM,
      FIVE_MINUTES,
    );
    this.addAlarm('ReconcilerParkedAfterRetries', {
      metric: parkedAfterRetries,
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description:
        'The reconciler gave up on events that failed to republish on every run it allows and parked them, with their content, on the poison queue.',
    });
    this.addAlarm('ReconcilerErrors', {
      metric: reconciler.function.metricErrors({ statistic: Stats.SUM, period: FIVE_MINUTES }),
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: 'The reconciler failed: events the relay missed are not being republished.',
    });
    this.poisonWidget.addLeftMetric(
      republished.with({ period: ONE_MINUTE, label: 'republished by reconciler' }),
    );
    this.poisonWidget.addLeftMetric(stuck.with({ label: 'stuck events (reconciler)' }));
    this.poisonWidget.addLeftMetric(
      parkedAfterRetries.with({ period: ONE_MINUTE, label: 'parked after retries (reconciler)' }),
    );
    this.throughputWidget.addLeftMetric(
      this.count(MetricName.EventsPublished, reconciler.serviceName, 'events published (reconciler)'),
    );
    this.failuresWidget.addLeftMetric(
      reconciler.function.metricErrors({
        statistic: Stats.SUM,
        period: ONE_MINUTE,
        label: 'reconciler errors',
      }),
    );
  }

  /** Charts a consumer's skipped duplicates and errors (its failures end in its DLQ, alarmed there). */
  monitorConsumer(consumer: MonitoredFunction): void {
    this.consumersWidget.addLeftMetric(
      this.count(MetricName.DuplicateDeliveriesSkipped, consumer.serviceName, consumer.serviceName),
    );
    this.failuresWidget.addLeftMetric(
      consumer.function.metricErrors({
        statistic: Stats.SUM,
        period: ONE_MINUTE,
        label: `${consumer.serviceName} errors`,
      }),
    );
  }

  /**
   * Alarms as soon as the metric counts one record sent to an on-failure destination that is not
   * a queue (the relay's S3 bucket: `OutboxRelay.failureMetric`); charts it with the dead letters.
   */
  monitorFailureDestination(destination: { readonly name: string; readonly metric: Metric }): void {
    this.addAlarm(`DeadLetters-${destination.name}`, {
      metric: destination.metric,
      threshold: 0,
      description:
        `Records were written to ${destination.name}: stream batches the relay's mapping gave up on. ` +
        'Fix the cause, then run outbox redrive --from-failures.',
    });
    this.deadLetterWidget.addLeftMetric(destination.metric.with({ label: destination.name }));
  }

  /** Alarms as soon as one message is visible in the queue; charts its depth. */
  monitorDeadLetterQueue(dlq: MonitoredQueue): void {
    const depth = dlq.queue.metricApproximateNumberOfMessagesVisible({
      statistic: Stats.MAXIMUM,
      period: ONE_MINUTE,
    });
    this.addAlarm(`DeadLetters-${dlq.name}`, {
      metric: depth,
      threshold: 0,
      description: `Messages are waiting in ${dlq.name}: events that could not be delivered. Inspect, fix, then redrive.`,
    });
    this.deadLetterWidget.addLeftMetric(depth.with({ label: dlq.name }));
  }

  private addAlarm(
    name: string,
    spec: {
      metric: IMetric;
      threshold: number;
      description: string;
      evaluationPeriods?: number;
      comparison?: ComparisonOperator;
    },
  ): Alarm {
    const evaluationPeriods = spec.evaluationPeriods ?? 1;
    const alarm = new Alarm(this, name, {
      alarmName: `${this.prefix}-${name}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      // No data means no traffic (an idle stream, an unused API, an empty queue), not a failure.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }

  /** Alarm metrics go without a label: CDK renders a labelled metric's alarm as a metric query instead. */
  private emf(name: string, service: string, statistic: string, period: Duration, label?: string): Metric {
    return new Metric({
      namespace: this.metricsNamespace,
      metricName: name,
      dimensionsMap: { service },
      statistic,
      period,
      label,
    });
  }

  private count(name: string, service: string, label: string): Metric {
    return this.emf(name, service, Stats.SUM, ONE_MINUTE, label);
  }
}
