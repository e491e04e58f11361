#!/usr/bin/env node
/**
 * `market`: the user's CLI. Submit inference tasks on chain with a wallet key, follow them,
 * fetch verified results, reclaim expired fees, and publish models.
 */
import { parseArgs } from 'node:util';
import { loadMarketConfig } from './config.js';
import { createContext } from './context.js';
import { submit } from './commands/submit.js';
import { status, result, reclaim, taskIdArg } from './commands/task.js';
import { listModels, deployModel, upgradeModel, uploadModel, retireModel } from './commands/models.js';

const USAGE = `usage: market <command> [options]

  submit --model NAME --input FILE [--fee µSTX] [--max-blocks N] [--priority P] [--privacy standard] [--security 1|3|5] [--binary] [--no-wait]
  status ID                 the task on chain and at the signer
  result ID                 the output, with the node's signature verified here
  reclaim ID                after the deadline, return the fee to its requester
  models                    live models with price, owner, version
  deploy-model FILE --name N --price µSTX
  upgrade-model FILE --name N [--price µSTX]
  upload-model FILE --name N   store the live version's file with the signer again (as its owner)
  retire-model --name N

common: --config FILE (config/market.toml)  --key-file FILE (or MARKET_PRIVATE_KEY)
        --node URL  --signer URL  --network devnet|testnet|mainnet  --json`;

/** Runs the CLI with argv (without node and script). */
export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'key-file': { type: 'string' },
      node: { type: 'string' },
      signer: { type: 'string' },
      network: { type: 'string' },
      json: { type: 'boolean', default: false },
      model: { type: 'string' },
      input: { type: 'string' },
      fee: { type: 'string' },
      'max-blocks': { type: 'string' },
      security: { type: 'string' },
      priority: { type: 'string' },
      privacy: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      binary: { type: 'boolean', default: false },
      name: { type: 'string' },
      price: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, arg] = positionals;
  if (!command || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadMarketConfig(values.config, {
    key_file: values['key-file'],
    node_url: values.node,
    signer_url: values.signer,
    network: values.network,
  });
  const ctx = createContext(config, values.json);
  switch (command) {
    case 'submit':
      if (!values.model || !values.input) throw new Error('submit needs --model NAME and --input FILE');
      return submit(ctx, { model: values.model, input: values.input, fee: values.fee, maxBlocks: values['max-blocks'], priority: values.priority, privacy: values.privacy, security: values.security, binary: values.binary, wait: !values['no-wait'] });
    case 'status':
      return status(ctx, taskIdArg(arg));
    case 'result':
      return result(ctx, taskIdArg(arg));
    case 'reclaim':
      return reclaim(ctx, taskIdArg(arg));
    case 'models':
      return listModels(ctx);
    case 'deploy-model':
      if (!arg) throw new Error('deploy-model needs the .onnx FILE');
      return deployModel(ctx, arg, values.name, values.price);
    case 'upgrade-model':
      if (!arg) throw new Error('upgrade-model needs the .onnx FILE');
      return upgradeModel(ctx, arg, values.name, values.price);
    case 'upload-model':
      if (!arg) throw new Error('upload-model needs the .onnx FILE');
      return uploadModel(ctx, arg, values.name);
    case 'retire-model':
      return retireModel(ctx, values.name);
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  const cause = e.cause as { code?: string; address?: string; port?: number } | undefined;
  const message =
    e instanceof TypeError && cause?.code === 'ECONNREFUSED'
      ? `nothing answers at ${cause.address}:${cause.port}; is the marketplace running (npm start), and are --node / --signer right?`
      : e.message;
  process.stderr.write(`\nmarket: ${message}\n`);
  process.exitCode = 1;
});
