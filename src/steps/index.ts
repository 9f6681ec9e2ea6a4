import {binlogStep} from './binlog.js'
import {firewallStep} from './firewall.js'
import {linkStep} from './link.js'
import {preflightStep} from './preflight.js'
import {replicateStep} from './replicate.js'
import {replicationUserStep} from './replication-user.js'
import {snapshotStep} from './snapshot.js'
import type {Step} from './step.js'

/** The setup, in order. Their ids are persisted in checkpoints. */
export const SETUP_STEPS: Step[] = [preflightStep, binlogStep, replicationUserStep, firewallStep, snapshotStep, linkStep, replicateStep]
