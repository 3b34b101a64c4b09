import { classify } from './sentiment.js';

/** An OpenAI-style content part; only `text` parts are read, others (images, audio) are ignored. */
export interface ChatContentPart {
  readonly type: string;
  readonly text?: string;
}

/** An OpenAI-style chat message. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string | readonly ChatContentPart[] | null;
}

const SUMMARY_WORDS = 12;

const GREETING =
  'Hello! I am the modelgate demo model. Send me a message and I will tell you whether it sounds positive, negative or neutral.';

const CLOSING = {
  positive: 'Glad to hear it!',
  negative: 'Sorry to hear that.',
  neutral: 'Tell me more.',
} as const;

/** The text of a message's content: a string as is, text parts joined with spaces. */
export function messageText(message: ChatMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (content === null) return '';
  return content
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join(' ');
}

/**
 * The demo "chat model": replies to the last user message by quoting the start of it and stating
 * its sentiment. Pure and deterministic, so streamed and non-streamed answers are identical.
 *
 * @example
 * ```ts
 * generateReply([{ role: 'user', content: 'I love this gateway' }]);
 * // 'You said: "I love this gateway". That sounds positive to me (score 0.80, 4 words). Glad to hear it!'
 * ```
 */
export function generateReply(messages: readonly ChatMessage[]): string {
  const lastUser = messages.findLast((m) => m.role === 'user');
  const text = lastUser === undefined ? '' : messageText(lastUser).replace(/\s+/g, ' ').trim();
  if (text === '') return GREETING;
  const words = text.split(' ');
  const summary = words.length > SUMMARY_WORDS ? `${words.slice(0, SUMMARY_WORDS).join(' ')}…` : text;
  const { label, score, tokens } = classify(text);
  const count = tokens === 1 ? '1 word' : `${tokens} words`;
  return `You said: "${summary}". That sounds ${label} to me (score ${score.toFixed(2)}, ${count}). ${CLOSING[label]}`;
}

/**
 * Splits text into word chunks, each carrying the whitespace before it, the way LLM servers stream
 * tokens: joining the chunks gives back the text exactly.
 *
 * @example
 * ```ts
 * tokenizeReply('Hello there, world'); // ['Hello', ' there,', ' world']
 * ```
 */
export function tokenizeReply(text: string): string[] {
  const chunks: string[] = text.match(/\s*\S+/g) ?? [];
  const covered = chunks.reduce((n, c) => n + c.length, 0);
  if (covered < text.length) chunks.push(text.slice(covered));
  return chunks;
}
