import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import { type ApiOptions, ApiRequestError, apiCommand, ManagementClient, withClient } from '../client.js';
import { KEY_FILE_NAME, readKeyFileKey, resolveEndpoint } from '../credentials.js';
import { printCredential, printJson } from '../output.js';

interface RenewOptions extends ApiOptions {
  readonly type: 'management' | 'inference';
  readonly keyFile: string;
}

/** `POST /token` → 200, TorchServe's shape. */
interface RenewedKey {
  readonly type: string;
  readonly key: string;
  readonly 'expiration time': string;
}

/**
 * `modelgate token renew --type management|inference`: TorchServe's token API for the CLI. It
 * authenticates with the `API` key of `key_file.json` (the one key that may call it), and the
 * node rewrites the file with the new key; the new key is printed too.
 */
export function registerToken(program: Command): void {
  const token = program.command('token').description("Renew the node's management or inference key");
  apiCommand(
    token
      .command('renew')
      .description('Replace a node key and renew its expiry; the node rewrites key_file.json')
      .addOption(new Option('--type <type>', 'which key').choices(['management', 'inference']).makeOptionMandatory())
      .option('--key-file <path>', 'the key file whose API key authenticates the call', KEY_FILE_NAME),
  ).action((opts: RenewOptions) =>
    withClient(opts, async (_client, json) => {
      const path = resolve(opts.keyFile);
      const apiKey = readKeyFileKey(path, 'API');
      if (!apiKey) {
        throw new ModelgateError(
          'CLI_NO_CREDENTIAL',
          `no "API" key in ${path}: run the command where \`modelgate start\` wrote its key file, or pass --key-file`,
        );
      }
      const client = new ManagementClient({
        endpoint: resolveEndpoint(opts, { env: process.env }),
        credential: { token: apiKey, source: 'key_file_api' },
      });
      const renewed = await client.request<RenewedKey>('POST', `/token?type=${opts.type}`).catch((err: unknown) => {
        if (err instanceof ApiRequestError && err.httpStatus === 401) {
          throw new ApiRequestError(
            err.httpStatus,
            err.apiCode,
            `${err.message}; the "API" key in ${path} is not this node's (is the node at ${client.endpoint} the one that wrote it?)`,
          );
        }
        throw err;
      });
      if (json) return printJson(renewed);
      printCredential(
        renewed.key,
        `New ${renewed.type} key, valid until ${renewed['expiration time']}; ${path} holds it too.`,
      );
    }),
  );
}
