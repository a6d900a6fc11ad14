import { describe, expect, it } from 'vitest';
import { SseUsageReader } from '../../../src/extproc/sse.js';
import { responseBody } from '../../helpers/fake-openai.js';

const request = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } };
const USAGE = { inputTokens: 7, outputTokens: 11, cachedInputTokens: 2 };
const stream = (content = 'héllo wörld ✓ 😀 done') =>
  responseBody(request, { content, usage: { prompt_tokens: 7, completion_tokens: 11, cached_tokens: 2 } }).body;

function read(chunks: Buffer[], maxBytes = 64 * 1024): SseUsageReader {
  const reader = new SseUsageReader(maxBytes);
  for (const c of chunks) reader.push(c);
  reader.end();
  return reader;
}

function split(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

describe('SseUsageReader', () => {
  it('reads the usage chunk before [DONE] in one piece', () => {
    expect(read([stream()]).usage).toEqual(USAGE);
  });

  it.each([1, 2, 3, 5, 7, 13, 64])('reads it whatever the chunk size (%i bytes: lines and UTF-8 split)', (size) => {
    expect(read(split(stream(), size)).usage).toEqual(USAGE);
  });

  it('reads CRLF line endings, CR split from its LF', () => {
    const crlf = Buffer.from(stream().toString('utf8').replaceAll('\n', '\r\n'));
    expect(read(split(crlf, 3)).usage).toEqual(USAGE);
  });

  it('reads a last event without its blank line, and data without the space after the colon', () => {
    expect(read([Buffer.from('data:{"usage":{"prompt_tokens":1,"completion_tokens":2}}')]).usage).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 });
  });

  it('joins multi-line data', () => {
    const text = 'data: {"usage":\ndata: {"prompt_tokens":1,"completion_tokens":2}}\n\n';
    expect(read([Buffer.from(text)]).usage).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 });
  });

  it('ignores anything after [DONE]', () => {
    const after = Buffer.from('data: {"usage":{"prompt_tokens":999,"completion_tokens":999}}\n\n');
    expect(read([stream(), after]).usage).toEqual(USAGE);
  });

  it('ignores comments, event names and ids', () => {
    const text = ': keep-alive\nevent: message\nid: 3\nretry: 10\ndata: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n';
    expect(read([Buffer.from(text)]).usage).toMatchObject({ inputTokens: 1 });
  });

  it('no usage when the stream has none', () => {
    expect(read([responseBody({ ...request, stream_options: undefined }, {}).body]).usage).toBeUndefined();
  });

  it.each([
    ['a string count', 'data: {"usage":{"prompt_tokens":"7","completion_tokens":1}}\n\n'],
    ['a negative count', 'data: {"usage":{"prompt_tokens":-7,"completion_tokens":1}}\n\n'],
    ['a huge count', 'data: {"usage":{"prompt_tokens":1e308,"completion_tokens":1}}\n\n'],
    ['broken JSON', 'data: {"usage":{"prompt_tokens":7,\n\n'],
    ['deep nesting', `data: {"usage":${'['.repeat(50_000)}${']'.repeat(50_000)}}\n\n`],
  ])('hostile usage chunk (%s): no usage, no throw', (_name, text) => {
    expect(read([Buffer.from(text)], 1024 * 1024).usage).toBeUndefined();
  });

  it('a line longer than the bound: gives up for good, even if usage follows', () => {
    const reader = new SseUsageReader(1024);
    reader.push(Buffer.from(`data: ${'x'.repeat(600)}`));
    reader.push(Buffer.from('y'.repeat(600)));
    expect(reader.overflowed).toBe(true);
    reader.push(stream());
    reader.end();
    expect(reader.usage).toBeUndefined();
  });

  it('an event whose data lines together pass the bound: gives up', () => {
    const lines = Array.from({ length: 20 }, () => `data: ${'x'.repeat(100)}\n`).join('');
    const reader = read([Buffer.from(lines), stream()], 1024);
    expect(reader.overflowed).toBe(true);
    expect(reader.usage).toBeUndefined();
  });

  it('a long stream of normal events stays within the bound (only the current line is kept)', () => {
    const long = stream('word '.repeat(5000));
    expect(long.length).toBeGreaterThan(100_000);
    const reader = read(split(long, 1000), 4096);
    expect(reader.overflowed).toBe(false);
    expect(reader.usage).toEqual(USAGE);
  });

  it('invalid UTF-8 is replaced, never thrown', () => {
    const bad = Buffer.concat([Buffer.from('data: {"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n\n'), stream()]);
    expect(read(split(bad, 2)).usage).toEqual(USAGE);
  });
});
