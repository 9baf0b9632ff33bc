/** The query both the backlog workflow and its shards answer (defined apart so that neither imports the other's module twice). */
import { defineQuery } from '@temporalio/workflow';
import type { BacklogState } from './backlog-book.js';

/** Query: the backlog's (or shard's) cards, how each came to rest or ended. */
export const backlogStateQuery = defineQuery<BacklogState>('backlogState');
