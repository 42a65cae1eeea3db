'use strict';
/*
 * Preloaded (node --require) into the CDK app while the offline runtime synthesizes it: records
 * the entry of every NodejsFunction, which the template does not keep once bundling is skipped,
 * so that the runtime can run each function from its source.
 *
 * NodejsFunction passes its entry to Bundling.bundle (aws-cdk-lib/aws-lambda-nodejs/lib/bundling.js)
 * and hands the returned Code to the Function it becomes, which binds it to itself. Every copy of
 * that module is patched as it loads (an app may have its own aws-cdk-lib), so that the bind tells
 * which function has which entry. Logical ids are read at exit, once the app has synthesized (an
 * id may be overridden after construction), and written beside the assembly, one file per process.
 * CommonJS on purpose: --require runs it before any loader, in every Node process the app starts.
 */
const Module = require('node:module');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const BUNDLING_MODULE = /[\\/]aws-cdk-lib[\\/]aws-lambda-nodejs[\\/]lib[\\/]bundling\.js$/;
const PATCHED = Symbol.for('dynamodb-outbox.entry-recorder');
const outdir = process.env.CDK_OUTDIR;
/** @type {Array<{ fn: any, entry: string }>} */
const bound = [];

/** @param {any} exports the bundling module's exports */
const patch = (exports) => {
  const Bundling = exports?.Bundling;
  if (typeof Bundling?.bundle !== 'function' || Bundling[PATCHED]) return;
  const bundle = Bundling.bundle;
  Bundling.bundle = function recordingBundle(scope, options) {
    const code = bundle.call(this, scope, options);
    const bind = code.bind;
    code.bind = function recordingBind(fn, ...rest) {
      if (typeof options?.entry === 'string') bound.push({ fn, entry: options.entry });
      return bind.call(this, fn, ...rest);
    };
    return code;
  };
  Bundling[PATCHED] = true;
};

const load = Module._load;
Module._load = function recordingLoad(request, parent, isMain) {
  const exports = load.call(this, request, parent, isMain);
  if (typeof request === 'string' && /bundling(\.js)?$/.test(request)) {
    try {
      if (BUNDLING_MODULE.test(Module._resolveFilename(request, parent, isMain))) patch(exports);
    } catch {
      // Not a file this hook cares about.
    }
  }
  return exports;
};

process.on('exit', () => {
  if (!outdir || bound.length === 0) return;
  const entries = [];
  for (const { fn, entry } of bound) {
    const resource = fn?.node?.defaultChild;
    const stack = fn?.stack;
    if (!resource || !stack) continue;
    entries.push({
      stack: stack.artifactId,
      logicalId: stack.resolve(resource.logicalId),
      path: fn.node.path,
      entry,
      handler: stack.resolve(resource.handler),
    });
  }
  try {
    writeFileSync(join(outdir, `dynamodb-outbox-entries.${process.pid}.json`), JSON.stringify(entries));
  } catch {
    // No assembly was written (the app failed): the runtime reports the synthesis error instead.
  }
});
