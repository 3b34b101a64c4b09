import { describe, expect, it } from 'vitest';
import { classify, generateReply, tokenizeReply } from '../src/index.js';

describe('classify', () => {
  it.each([
    'I love this product, it is excellent!',
    'What a wonderful, amazing day :)',
    'The support team was really helpful',
    'This is not bad at all',
    'no problem, works fine',
  ])('reads %j as positive', (text) => {
    const result = classify(text);
    expect(result.label).toBe('positive');
    expect(result.score).toBeGreaterThan(0.5);
    expect(result.score).toBeLessThanOrEqual(1);
  });

  it.each([
    'This is terrible, I hate it',
    'The worst experience ever :(',
    'This is not good',
    "I don't like it",
    'I wasn’t happy with the service',
    'The food was good but the service was awful',
  ])('reads %j as negative', (text) => {
    const result = classify(text);
    expect(result.label).toBe('negative');
    expect(result.score).toBeGreaterThan(0.5);
    expect(result.score).toBeLessThanOrEqual(1);
  });

  it.each(['The box is blue.', 'It is likely to rain tomorrow', '', '   ', '!!!', 'see http://example.com/a:b'])(
    'reads %j as neutral',
    (text) => {
      expect(classify(text).label).toBe('neutral');
    },
  );

  it('flips and dampens under negation', () => {
    const good = classify('good');
    const notGood = classify('not good');
    expect(notGood.label).toBe('negative');
    expect(notGood.score).toBeLessThan(good.score);
    expect(classify('never happy').label).toBe('negative');
  });

  it('lets intensifiers raise and diminishers lower the confidence', () => {
    const plain = classify('good').score;
    expect(classify('very good').score).toBeGreaterThan(plain);
    expect(classify('extremely good').score).toBeGreaterThan(classify('very good').score);
    expect(classify('slightly good').score).toBeLessThan(plain);
    expect(classify('not very good').label).toBe('negative');
  });

  it('finds inflected forms through suffix rules', () => {
    expect(classify('she loves it').label).toBe('positive');
    expect(classify('he hated it').label).toBe('negative');
    expect(classify('it crashes').label).toBe('negative');
    expect(classify('amazingly').label).toBe('positive');
  });

  it('counts words, numbers and emoticons as tokens', () => {
    expect(classify('I have 2 cats :)').tokens).toBe(5);
    expect(classify('').tokens).toBe(0);
  });

  it('is deterministic and bounded on large and odd input', () => {
    const text = 'good bad '.repeat(10_000);
    expect(classify(text)).toEqual(classify(text));
    for (const t of ['\u0000\uffff', '😀😡', 'ЖЖЖ', "'''", ':) :( :D </3']) {
      const r = classify(t);
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(1);
    }
  });
});

describe('generateReply', () => {
  it('states the sentiment of the last user message and quotes it', () => {
    const reply = generateReply([
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'This is terrible' },
      { role: 'assistant', content: 'Oh no.' },
      { role: 'user', content: 'I love this gateway' },
    ]);
    expect(reply).toContain('"I love this gateway"');
    expect(reply).toContain('positive');
    expect(reply).not.toContain('terrible');
  });

  it('reads text content parts and shortens long messages', () => {
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const reply = generateReply([{ role: 'user', content: [{ type: 'text', text: long }, { type: 'image_url' }] }]);
    expect(reply).toContain('word11…');
    expect(reply).not.toContain('word12');
  });

  it('greets when there is no user text', () => {
    expect(generateReply([{ role: 'system', content: 'x' }])).toMatch(/^Hello!/);
    expect(generateReply([{ role: 'user', content: null }])).toMatch(/^Hello!/);
  });

  it('is deterministic', () => {
    const messages = [{ role: 'user', content: 'not bad' }];
    expect(generateReply(messages)).toBe(generateReply(messages));
  });
});

describe('tokenizeReply', () => {
  it.each(['Hello there, world', '  leading and trailing  ', '', 'one', 'a\n\nb\tc '])(
    'chunks %j into words that join back to it',
    (text) => {
      const chunks = tokenizeReply(text);
      expect(chunks.join('')).toBe(text);
    },
  );

  it('keeps the whitespace before each word', () => {
    expect(tokenizeReply('Hello there, world')).toEqual(['Hello', ' there,', ' world']);
  });
});
