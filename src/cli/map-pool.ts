/**
 * Maps `items` through `fn` with at most `concurrency` calls in flight; results keep the input order.
 * Rejects with the first error (calls already started still run to their end). Used where the CLI (and
 * the benchmark) reads many workflows at once without flooding the server.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
