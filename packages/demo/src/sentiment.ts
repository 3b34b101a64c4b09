import { EMOTICON_WEIGHTS, INTENSIFIERS, NEGATORS, WORDS } from './lexicon.js';

export type SentimentLabel = 'positive' | 'negative' | 'neutral';

export interface Sentiment {
  readonly label: SentimentLabel;
  /** Confidence in `label`, in [0, 1], rounded to 4 decimals. */
  readonly score: number;
  /** Words, numbers and emoticons seen in the text. */
  readonly tokens: number;
}

/** How many words after a negator it still flips. */
const NEGATION_SCOPE = 3;
/** How many words a degree word waits for a sentiment word before it lapses. */
const INTENSIFIER_SCOPE = 2;
/** Negation flips and dampens: "not good" is milder than "bad". */
const NEGATION_FACTOR = -0.75;
/** "but" shifts the weight to the clause after it: "the food was good but the service was awful". */
const BEFORE_BUT = 0.5;
const AFTER_BUT = 1.5;
const EXCLAMATION_BONUS = 0.3;
const MAX_EXCLAMATIONS = 3;
/** Normalisation constant for sum / sqrt(sum² + α): a sum of ±4 maps to about ±0.72. */
const ALPHA = 15;
const NEUTRAL_BAND = 0.05;

// Emoticons only count when they stand alone, so "http://x" or "f(x):y" is not a face.
const EMOTICON_SOURCE = [...EMOTICON_WEIGHTS.keys()]
  .sort((a, b) => b.length - a.length)
  .map((e) => e.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
  .join('|');
const TOKEN_RE = new RegExp(
  `(?<=^|\\s)(?<emoticon>${EMOTICON_SOURCE})(?=$|\\s|[.,!?;])|(?<word>[\\p{L}\\p{N}]+(?:'[\\p{L}\\p{N}]+)*)|(?<punct>[.,;:!?]+)`,
  'gu',
);

type Token = { kind: 'word'; text: string } | { kind: 'emoticon'; weight: number } | { kind: 'punct'; text: string };

function* tokenize(text: string): Generator<Token> {
  for (const m of text.replace(/[\u2018\u2019\u02bc]/g, "'").matchAll(TOKEN_RE)) {
    const g = m.groups!;
    if (g.emoticon !== undefined) {
      yield { kind: 'emoticon', weight: EMOTICON_WEIGHTS.get(g.emoticon)! };
    } else if (g.word !== undefined) {
      yield { kind: 'word', text: g.word.toLowerCase() };
    } else if (g.punct !== undefined) {
      yield { kind: 'punct', text: g.punct };
    }
  }
}

/** Finds a word's weight, trying a few English suffixes so the lexicon needs only base forms. */
function lookup(word: string): number | undefined {
  const direct = WORDS.get(word);
  if (direct !== undefined) return direct;
  const candidates: string[] = [];
  if (word.endsWith('ies')) candidates.push(`${word.slice(0, -3)}y`);
  if (word.endsWith('ily')) candidates.push(`${word.slice(0, -3)}y`);
  if (word.endsWith('ied')) candidates.push(`${word.slice(0, -3)}y`);
  if (word.endsWith('es')) candidates.push(word.slice(0, -2));
  if (word.endsWith('s') && !word.endsWith('ss')) candidates.push(word.slice(0, -1));
  if (word.endsWith('ed')) candidates.push(word.slice(0, -2), word.slice(0, -1));
  if (word.endsWith('ing')) candidates.push(word.slice(0, -3), `${word.slice(0, -3)}e`);
  // "amazingly" → "amazing"; short stems are skipped so "likely" does not read as "like".
  if (word.endsWith('ly') && word.length > 6) candidates.push(word.slice(0, -2));
  for (const c of candidates) {
    if (c.length < 3) continue;
    const w = WORDS.get(c);
    if (w !== undefined) return w;
  }
  return undefined;
}

function isNegator(word: string): boolean {
  return NEGATORS.has(word) || word.endsWith("n't");
}

/**
 * Classifies English text as positive, negative or neutral with a lexicon of weighted words,
 * handling negation ("not good"), degree words ("very", "slightly"), "but" clauses, exclamation
 * marks and emoticons. Pure and deterministic: the same text always gives the same result.
 *
 * @example
 * ```ts
 * classify('I really love this!');   // { label: 'positive', score: 0.87.., tokens: 4 }
 * classify('This is not good.');     // { label: 'negative', ... }
 * classify('The box is blue.');      // { label: 'neutral', score: 1, tokens: 4 }
 * ```
 */
export function classify(text: string): Sentiment {
  const toks: Token[] = [...tokenize(text)];
  let sum = 0;
  let tokens = 0;
  let exclamations = 0;
  let negationLeft = 0;
  let boost = 1;
  let boostLeft = 0;
  let clauseFactor = 1;

  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === 'punct') {
      exclamations += [...t.text].filter((c) => c === '!').length;
      negationLeft = 0;
      boostLeft = 0;
      boost = 1;
      continue;
    }
    tokens++;
    if (t.kind === 'emoticon') {
      sum += t.weight * clauseFactor;
      continue;
    }
    const word = t.text;
    const next = toks[i + 1];
    const nextWord = next?.kind === 'word' ? next.text : undefined;

    if (word === 'but') {
      sum *= BEFORE_BUT;
      clauseFactor = AFTER_BUT;
      negationLeft = 0;
      continue;
    }
    if (isNegator(word)) {
      negationLeft = NEGATION_SCOPE;
      continue;
    }
    if ((word === 'kind' || word === 'sort') && nextWord === 'of') {
      boost *= 0.7;
      boostLeft = INTENSIFIER_SCOPE + 1;
      continue;
    }
    const degree = INTENSIFIERS.get(word);
    // Some degree words are sentiment words alone ("super", "pretty"): they only intensify
    // when a word follows them.
    if (degree !== undefined && (!WORDS.has(word) || (nextWord !== undefined && lookup(nextWord) !== undefined))) {
      boost *= degree;
      boostLeft = INTENSIFIER_SCOPE;
      continue;
    }

    const weight = lookup(word);
    if (weight !== undefined) {
      let value = weight * (boostLeft > 0 ? boost : 1);
      if (negationLeft > 0) value *= NEGATION_FACTOR;
      sum += value * clauseFactor;
      boost = 1;
      boostLeft = 0;
    } else if (boostLeft > 0 && --boostLeft === 0) {
      boost = 1;
    }
    if (negationLeft > 0) negationLeft--;
  }

  if (sum !== 0) sum += Math.sign(sum) * EXCLAMATION_BONUS * Math.min(exclamations, MAX_EXCLAMATIONS);
  const compound = sum / Math.sqrt(sum * sum + ALPHA);
  const magnitude = Math.abs(compound);
  const label: SentimentLabel = magnitude < NEUTRAL_BAND ? 'neutral' : compound > 0 ? 'positive' : 'negative';
  const score = label === 'neutral' ? 1 - magnitude : (1 + magnitude) / 2;
  return { label, score: Math.round(score * 10_000) / 10_000, tokens };
}
