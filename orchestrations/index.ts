/** Every sample orchestration and activity (the Durable Functions patterns), for workers and tests. */
import { approvalWorkflow, escalate } from './human-interaction.js';
import { fanOutFanIn, fileSize } from './fan-out-fan-in.js';
import { fleetReport } from './aggregator.js';
import { helloSequence, sayHello } from './hello-sequence.js';
import { longJob, processChunk } from './async-http-api.js';
import { checkJobStatus, monitorJob, sendAlert } from './monitor.js';
import { transferFunds } from './bank-transfer.js';
import { account } from '../entities/account.js';
import { aggregator } from '../entities/aggregator.js';
import { counter } from '../entities/counter.js';
import { tally } from '../entities/tally.js';

export const orchestrations = [helloSequence, fanOutFanIn, longJob, monitorJob, approvalWorkflow, fleetReport, transferFunds];
export const activities = [sayHello, fileSize, processChunk, checkJobStatus, sendAlert, escalate];
export const entities = [counter, aggregator, account, tally];
