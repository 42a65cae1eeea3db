#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PaymentsStack } from '../lib/payments-stack';

const app = new App();
// cdk-nag on every synth: an unacknowledged finding fails it, and the report lands in cdk.out.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new PaymentsStack(app, 'Payments');
