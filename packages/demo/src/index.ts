export { type ChatContentPart, type ChatMessage, generateReply, tokenizeReply } from './chat.js';
export { classify, type Sentiment, type SentimentLabel } from './sentiment.js';
export { type DemoServer, type DemoServerOptions, type DemoStreamStats, startDemoServer } from './server.js';
