// One key per label set, whatever order its labels were written in: how the hot-path metrics find a series.

export function labelSetKey(labels: Readonly<Record<string, string | undefined>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}
