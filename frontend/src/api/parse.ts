/**
 * One WebSocket text frame → one server message, or the reason it is not one.
 * The checks are the schema's own, compiled ahead of time into
 * protocol.validate.gen.js (`npm run gen:protocol`; plain code, no eval under
 * `script-src 'self'`). This file only picks the validator by `type`. A frame
 * that fails is rejected whole and counted by the caller; it never reaches a
 * component.
 */
import { validators, type ValidationError } from './protocol.validate.gen';
import type { Message } from './types';

export type ParseResult = { ok: true; message: Message } | { ok: false; error: string };

type MessageType = keyof typeof validators;

const isMessageType = (type: unknown): type is MessageType =>
  typeof type === 'string' && Object.hasOwn(validators, type);

/** "telemetry/gpus/0/utilization: must be <= 100" (the first problem found). */
function describe(type: string, errors: readonly ValidationError[] | null | undefined): string {
  const e = errors?.[0];
  if (e === undefined) return `${type}: does not match the schema`;
  const allowed = e.params.allowedValues;
  const list = Array.isArray(allowed) ? ` (${allowed.map((v) => JSON.stringify(v)).join(' | ')})` : '';
  return `${type}${e.instancePath}: ${e.message ?? e.keyword}${list}`;
}

/** Parse one WebSocket frame. Never throws. */
export function parseMessage(raw: unknown): ParseResult {
  if (typeof raw !== 'string') return { ok: false, error: 'frame: expected text' };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame: not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, error: 'message: expected an object' };
  }
  const type = (data as { type?: unknown }).type;
  if (!isMessageType(type)) return { ok: false, error: `message.type: unknown ${JSON.stringify(type)}` };
  const validate = validators[type];
  if (!validate(data)) return { ok: false, error: describe(type, validate.errors) };
  // The validator filled in every optional field the frame left out (its
  // schema default, [] or {}), so the message has the shapes of ./types.
  return { ok: true, message: data as Message };
}
