// Reads a parsed chat or completion body once: checks its shape (OpenAI-style `messages`, `prompt`,
// `tools`, `functions`) and records what input rules ask about, joining texts only when asked.

import type { InputLimits } from './config.js';
import { BODY_PROBLEMS, type BodyProblem } from './body-bounds.js';

export interface BodySummary {
  readonly messageCount: number;
  /** UTF-16 code units of every text read (message contents, text parts, prompt strings), uncapped. */
  readonly totalChars: number;
  /** Distinct roles of `messages`, in order of first appearance. */
  readonly roles: readonly string[];
  readonly toolNames: readonly string[];
  /** Texts in body order with the role that said them; a completion `prompt` counts as `user`. */
  readonly texts: ReadonlyArray<{ readonly role: string; readonly text: string }>;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function summarizeBody(body: Obj, limits: InputLimits): BodySummary | BodyProblem {
  const texts: Array<{ role: string; text: string }> = [];
  const roles: string[] = [];
  let totalChars = 0;
  const add = (role: string, text: string) => {
    texts.push({ role, text });
    totalChars += text.length;
  };

  const { messages, prompt } = body;
  let messageCount = 0;
  if (messages !== undefined) {
    if (!Array.isArray(messages)) return BODY_PROBLEMS.messagesShape;
    if (messages.length > limits.max_messages) return BODY_PROBLEMS.tooManyMessages;
    messageCount = messages.length;
    for (const message of messages) {
      if (!isObject(message) || typeof message.role !== 'string') return BODY_PROBLEMS.messagesShape;
      const role = message.role;
      if (!roles.includes(role)) roles.push(role);
      if (!readContent(message.content, (text) => add(role, text))) return BODY_PROBLEMS.contentShape;
    }
  }
  if (prompt !== undefined && !readPrompt(prompt, (text) => add('user', text))) return BODY_PROBLEMS.promptShape;

  const toolNames: string[] = [];
  for (const list of [body.tools, body.functions]) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) return BODY_PROBLEMS.toolsShape;
    for (const tool of list) {
      // `tools: [{type: function, function: {name}}]`, or a named tool / legacy `functions: [{name}]`.
      const name = isObject(tool) ? (isObject(tool.function) ? tool.function.name : tool.name) : undefined;
      if (typeof name !== 'string') return BODY_PROBLEMS.toolsShape;
      toolNames.push(name);
    }
  }
  return { messageCount, totalChars, roles, toolNames, texts };
}

export function isBodyProblem(v: BodySummary | BodyProblem): v is BodyProblem {
  return 'reason' in v;
}

/** A string, null/absent (a tool-calling assistant turn), or parts that each name their `type`. */
function readContent(content: unknown, add: (text: string) => void): boolean {
  if (content === undefined || content === null) return true;
  if (typeof content === 'string') {
    add(content);
    return true;
  }
  if (!Array.isArray(content)) return false;
  for (const part of content) {
    if (!isObject(part) || typeof part.type !== 'string') return false;
    // Text-bearing parts must carry their text as a string; other types (image_url, input_audio,
    // file) carry no text a rule reads.
    if (part.type === 'text' || part.type === 'input_text') {
      if (typeof part.text !== 'string') return false;
      add(part.text);
    } else if (part.type === 'refusal') {
      if (typeof part.refusal !== 'string') return false;
      add(part.refusal);
    }
  }
  return true;
}

/** Completions: a string, strings, token ids, or lists of token ids (ids carry no text a rule reads). */
function readPrompt(prompt: unknown, add: (text: string) => void): boolean {
  if (typeof prompt === 'string') {
    add(prompt);
    return true;
  }
  if (!Array.isArray(prompt)) return false;
  for (const item of prompt) {
    if (typeof item === 'string') add(item);
    else if (Number.isInteger(item)) continue;
    else if (!Array.isArray(item) || !item.every((id) => Number.isInteger(id))) return false;
  }
  return true;
}
