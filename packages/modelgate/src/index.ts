export { type DemoServer, type DemoServerOptions, startDemoServer } from '@modelgate/demo';
export { loadConfig } from './config/load.js';
export { resolveConfig } from './config/resolve.js';
export { CONFIG_SCHEMA, type Config, type ConfigKey } from './config/schema.js';
export { ERROR_CODES, type ErrorCode, ModelgateError } from './kernel/errors.js';
export { createLogger, type Logger } from './log/logger.js';
export { type RunningNode, startNode } from './node/node.js';
