/** The query the backlog workflow and its shards both answer, in a module of its own so that a shard need not import the backlog workflow. */
import { defineQuery } from '@temporalio/workflow';
import type { BacklogState } from './backlog-book.js';

/** Query: the backlog's (or shard's) cards, how each came to rest or ended. */
export const backlogStateQuery = defineQuery<BacklogState>('backlogState');
