// Parses the short durations used in audit config and CLI flags ("500ms", "90s", "15m", "24h", "7d").

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

export function parseDuration(text: string): DurationResult {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return { ok: false, error: `not a duration: '${text}' (use e.g. 500ms, 90s, 15m, 24h, 7d)` };
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms <= 0) return { ok: false, error: `duration must be positive: '${text}'` };
  return { ok: true, ms };
}
