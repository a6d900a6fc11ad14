// zod's default messages ("Invalid input: expected string, received undefined") in the words an
// operator reading a config error expects ("required", "expected a number, got a string").
// Messages the schema wrote itself pass through unchanged.

import type { z } from 'zod';

const DEFAULT_MESSAGE = /^(Invalid input|Invalid option|Too small|Too big|Invalid URL|Invalid string)/;

export function plainMessage(issue: z.core.$ZodIssue): string {
  if (!DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${typeWords(issue.expected)}, got ${typeWords(typeOf(issue.input))}`;
    case 'invalid_value':
      if (issue.input === undefined) return 'required';
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      return bound(issue.origin, Number(issue.minimum), issue.inclusive !== false, 'least');
    case 'too_big':
      return bound(issue.origin, Number(issue.maximum), issue.inclusive !== false, 'most');
    case 'invalid_format':
      if (issue.format === 'url') return 'must be a URL (https://…)';
      if (issue.format === 'regex' && 'pattern' in issue) return `must match ${String(issue.pattern)}`;
      return `not a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

function bound(origin: string, limit: number, inclusive: boolean, side: 'least' | 'most'): string {
  if (origin === 'string' && side === 'least' && limit === 1) return 'must not be empty';
  if (origin === 'array' && side === 'least' && limit === 1) return 'needs at least one entry';
  const n = inclusive ? limit : side === 'least' ? `more than ${limit}` : `less than ${limit}`;
  const at = inclusive ? `at ${side} ${n}` : n;
  if (origin === 'string') return `must be ${at} characters long`;
  if (origin === 'array' || origin === 'set') return `needs ${at} entries`;
  return `must be ${at}`;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'fraction';
  return typeof value;
}

function typeWords(type: string): string {
  const words: Record<string, string> = {
    string: 'text',
    number: 'a number',
    int: 'a whole number',
    fraction: 'a fraction',
    boolean: 'true or false',
    object: 'a map of keys',
    array: 'a list',
    null: 'nothing (null)',
    undefined: 'nothing',
  };
  return words[type] ?? type;
}
