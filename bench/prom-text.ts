/** Reading counters from Prometheus text exposition (pure). */

/**
 * The sum of every sample of metric `name` (any labels) in `text`, or null if there is none.
 * A sample line is `name[{labels}] value [timestamp]`; comment lines and other metrics (including
 * ones whose name merely starts with `name`) are skipped.
 */
export function promSum(text: string, name: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    let rest = line.slice(name.length);
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      if (close < 0) continue;
      rest = rest.slice(close + 1);
    } else if (!rest.startsWith(' ')) {
      continue;
    }
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (rest.trim().length === 0 || !Number.isFinite(value)) continue;
    total = (total ?? 0) + value;
  }
  return total;
}
