/*
 * The Powertools Tracer and its middleware, apart from the rest: PowertoolsFunction bundles this
 * module into a file of its own beside the function's bundle, which powertools.ts imports only
 * where tracing is on. In the function's bundle, the X-Ray SDK would cost its parsing and its
 * source map on every cold start, even unused.
 */
export { Tracer } from '@aws-lambda-powertools/tracer';
export { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
