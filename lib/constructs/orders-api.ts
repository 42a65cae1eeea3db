import { fileURLToPath } from 'node:url';
import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { TransactionalOutbox } from 'dynamodb-outbox';
import { grantOnTable, PowertoolsFunction } from 'dynamodb-outbox';
import { ordersRoutes } from '../../lambdas/orders/http/routes';
import { ORDERS_API_SERVICE_NAME } from '../../lambdas/orders/service-name';

/** How callers of the deployed API authenticate. There is no unauthenticated option: only the offline runtime is open. */
export type OrdersApiAuthorization =
  /** AWS Signature Version 4 with IAM credentials allowed `execute-api:Invoke` on the API. */
  | { readonly type: 'iam' }
  /** A JWT (OIDC / OAuth 2.0 access or ID token) from `issuer`, whose `aud` (or `client_id`) is one of `audience`. */
  | {
      readonly type: 'jwt';
      readonly issuer: string;
      readonly audience: readonly string[];
      /** Scopes the token must carry on every route. @default no scope required */
      readonly scopes?: readonly string[];
    };

export interface OrdersApiProps {
  /** The orders table (order and outbox items). */
  readonly table: ITable;
  /** @default { type: 'iam' } */
  readonly authorization?: OrdersApiAuthorization;
  /** Steady-state requests per second the stage accepts before answering 429. @default 50 */
  readonly throttlingRateLimit?: number;
  /** Requests the stage accepts in a burst above the rate. @default 100 */
  readonly throttlingBurstLimit?: number;
  /** Retention of the JSON access logs. @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /** Retention of the function's logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the function's and the access logs' log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Powertools log level of the function. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** CloudWatch namespace of the function's metrics (OrdersPlaced, OrdersCancelled). @default the stack's name */
  readonly metricsNamespace?: string;
  /** The orders table's outbox: the handler adds each command's events to its transaction. */
  readonly outbox: TransactionalOutbox;
}

/** Exactly what the handler calls: GetItem to read, and Put/Update inside TransactWriteItems. */
export const ORDERS_API_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
] as const;

const HANDLER_ENTRY = fileURLToPath(new URL('../../lambdas/orders/handler.ts', import.meta.url));

/**
 * One field per line of the access log, in JSON. No source IP, user agent or request data: who
 * called is the authenticated principal (IAM ARN or JWT subject), which is what an audit needs.
 */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTimeEpoch',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationStatus: '$context.integrationStatus',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    error: '$context.error.message',
    authorizerError: '$context.authorizer.error',
    iamPrincipal: '$context.identity.userArn',
    jwtSubject: '$context.authorizer.claims.sub',
  }),
);

/**
 * The orders HTTP API: POST /orders, GET /orders/{orderId}, POST /orders/{orderId}/cancel on an
 * API Gateway HTTP API (payload format 2.0) in front of one function. Authorized on every route
 * (IAM by default, JWT as the alternative), throttled on the stage, access-logged in JSON. The
 * 64 KiB body limit is enforced by the handler.
 */
export class OrdersApi extends Construct {
  public readonly api: HttpApi;
  public readonly stage: HttpStage;
  public readonly function: PowertoolsFunction;
  public readonly accessLogs: LogGroup;
  /** Powertools service name of the function: the `service` dimension of its metrics. */
  public readonly serviceName = ORDERS_API_SERVICE_NAME;
  /** The stage's invoke URL, ending in `/`. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: OrdersApiProps) {
    super(scope, id);
    const rateLimit = props.throttlingRateLimit ?? 50;
    const burstLimit = props.throttlingBurstLimit ?? 100;
    if (!(rateLimit > 0)) throw new Error('throttlingRateLimit must be greater than 0');
    if (!Number.isInteger(burstLimit) || burstLimit < 1)
      throw new Error('throttlingBurstLimit must be a positive integer');

    this.function = new PowertoolsFunction(this, 'Handler', {
      entry: HANDLER_ENTRY,
      serviceName: this.serviceName,
      description: 'Orders API: writes each order and its outbox event in one DynamoDB transaction',
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(props.logRemovalPolicy === undefined ? {} : { logRemovalPolicy: props.logRemovalPolicy }),
      ...(props.logLevel === undefined ? {} : { logLevel: props.logLevel }),
      ...(props.metricsNamespace === undefined ? {} : { metricsNamespace: props.metricsNamespace }),
    });
    grantOnTable(props.table, this.function, ORDERS_API_TABLE_ACTIONS);
    this.function.addEnvironment('TABLE_NAME', props.table.tableName);
    props.outbox.grantWrite(this.function);

    const authorization = props.authorization ?? { type: 'iam' };
    this.api = new HttpApi(this, 'HttpApi', {
      description: 'dynamodb-outbox orders API',
      createDefaultStage: false,
      defaultAuthorizer: authorizerFor(authorization),
      ...(authorization.type === 'jwt' && authorization.scopes?.length
        ? { defaultAuthorizationScopes: [...authorization.scopes] }
        : {}),
    });

    const integration = new HttpLambdaIntegration('Integration', this.function, {
      payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
    });
    for (const route of ordersRoutes) {
      this.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: accessLogFormat,
      },
    });
    this.url = this.stage.url;
  }
}

const authorizerFor = (authorization: OrdersApiAuthorization): IHttpRouteAuthorizer => {
  if (authorization.type === 'iam') return new HttpIamAuthorizer();
  if (!/^https:\/\/\S+$/.test(authorization.issuer))
    throw new Error('The JWT issuer must be an https:// URL');
  if (authorization.audience.length === 0) throw new Error('A JWT authorizer needs at least one audience');
  return new HttpJwtAuthorizer('JwtAuthorizer', authorization.issuer, {
    jwtAudience: [...authorization.audience],
  });
};
