#!/usr/bin/env node
/**
 * `market`: the user's CLI. Submit inference tasks on chain with a wallet key, follow them,
 * fetch verified results, reclaim expired fees, and publish models.
 */
import {
  allow,
  balance,
  challengeReceipt,
  challengeVoucher,
  claim,
  deployModel,
  deposit,
  listModels,
  reclaim,
  requestWithdrawal,
  reseal,
  result,
  resultPrepaid,
  retireModel,
  status,
  submit,
  submitPrepaid,
  taskIdArg,
  upgradeModel,
  uploadModel,
  ustxArg,
  withdraw,
} from './commands/index.js';
import { parseArgs } from 'node:util';
import { loadMarketCliConfig } from './config.js';
import { createContext } from './context.js';
import { SealedResultError } from './sealed.js';
import { DishonestSigner } from './prepaid.js';
import { SignerRefusal } from './signer-client.js';

const USAGE = `usage: market <command> [options]

  submit --model NAME --input FILE [--fee µSTX] [--max-blocks N] [--priority P] [--privacy standard|encrypted|federated] [--security 1|3|5] [--binary] [--no-wait]
                            --privacy encrypted: the input is sealed here to nodes the signer reserves (it sees ciphertext
                            only) and the output to the wallet's key; the envelope is saved as <data_dir>/sealed/<input hash>.json
                            (mode 0600): it holds the input IN CLEAR, the salt that checks the output and the nodes' ids,
                            and is needed by market result and market reseal
  submit --prepaid --model NAME --input FILE [--max-fee µSTX] [--expires-in S] [--security 1|3|5] [--binary]
                   [--privacy standard|encrypted] [--no-wait]
                            paid from the wallet's prepaid account: no transaction; pays for the result, then reveals it
  status ID                 the task on chain and at the signer
  result ID                 the output, with the node's signature verified here (encrypted: decrypted and checked here)
  reseal ID                 an encrypted task whose nodes all went away: seal the saved envelope to other nodes
  result --prepaid ID       a prepaid task's output: pays for it if it is due, checks it hashes to the leaf paid for
  reclaim ID                after the deadline, return the fee to its requester
  models                    live models with price, owner, version
  deploy-model FILE --name N --price µSTX
  upgrade-model FILE --name N [--price µSTX]
  upload-model FILE --name N   store the live version's file with the signer again (as its owner)
  retire-model --name N

  account deposit µSTX                  move STX from the wallet into its prepaid account
  account balance                       deposit, settled and unsettled spend, latest authorization, pending withdrawal
  account allow µSTX                    raise the cap API tokens bound to this account spend from (signed, no transaction)
  account request-withdrawal µSTX       announce a withdrawal; it can be made after the dispute window
  account withdraw                      take the requested amount (less what was settled since) back to the wallet
  account claim                         as a payee (node, model owner, treasury): take credited STX
  account challenge-voucher FILE        a signer voucher not honoured by its settle-by: paid from the signer's bond
  account challenge-receipt --period N --task ID   a charged leaf the account never signed: paid from the bond

common: --config FILE (config/market.toml)  --key-file FILE (or MARKET_PRIVATE_KEY)
        --node URL  --signer URL  --network devnet|testnet|mainnet  --json
errors end with their stable code in brackets, e.g. [output_mismatch], [no_node_available]`;

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
      prepaid: { type: 'boolean', default: false },
      'max-fee': { type: 'string' },
      'expires-in': { type: 'string' },
      period: { type: 'string' },
      task: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, arg, arg2] = positionals;
  if (!command || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = await loadMarketCliConfig(values.config, {
    key_file: values['key-file'],
    node_url: values.node,
    signer_url: values.signer,
    network: values.network,
  });
  const ctx = createContext(config, values.json);
  switch (command) {
    case 'submit':
      if (!values.model || !values.input) throw new Error('submit needs --model NAME and --input FILE');
      // A prepaid request is standard or encrypted; federated runs are an on-chain task's (security 3 or 5 here).
      if (values.prepaid && values.privacy !== undefined && !['standard', 'encrypted'].includes(values.privacy))
        throw new Error(
          `--privacy ${values.privacy} is for on-chain tasks: a prepaid request is standard or encrypted (use --security 3 or 5 for several nodes); nothing was sent`,
        );
      if (values.prepaid)
        return submitPrepaid(ctx, {
          model: values.model,
          input: values.input,
          security: values.security,
          maxFee: values['max-fee'],
          expiresIn: values['expires-in'],
          binary: values.binary,
          wait: !values['no-wait'],
          privacy: values.privacy as 'standard' | 'encrypted' | undefined,
        });
      return submit(ctx, {
        model: values.model,
        input: values.input,
        fee: values.fee,
        maxBlocks: values['max-blocks'],
        priority: values.priority,
        privacy: values.privacy,
        security: values.security,
        binary: values.binary,
        wait: !values['no-wait'],
      });
    case 'status':
      return status(ctx, taskIdArg(arg));
    case 'result':
      if (values.prepaid) return resultPrepaid(ctx, arg ?? '');
      return result(ctx, taskIdArg(arg));
    case 'account':
      return account(ctx, arg, arg2, values);
    case 'reseal':
      return reseal(ctx, taskIdArg(arg));
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

/** `market account <sub>`. */
function account(
  ctx: ReturnType<typeof createContext>,
  sub: string | undefined,
  arg: string | undefined,
  values: { period?: string; task?: string },
): Promise<void> {
  switch (sub) {
    case 'deposit':
      return deposit(ctx, ustxArg(arg, 'account deposit'));
    case 'balance':
      return balance(ctx);
    case 'allow':
      return allow(ctx, ustxArg(arg, 'account allow'));
    case 'request-withdrawal':
      return requestWithdrawal(ctx, ustxArg(arg, 'account request-withdrawal'));
    case 'withdraw':
      return withdraw(ctx);
    case 'claim':
      return claim(ctx);
    case 'challenge-voucher':
      if (!arg) throw new Error('account challenge-voucher needs the voucher FILE (node-agent voucher saves one)');
      return challengeVoucher(ctx, arg);
    case 'challenge-receipt':
      if (!values.period || !/^\d+$/.test(values.period) || !values.task)
        throw new Error(
          'account challenge-receipt needs --period N (the settlement period) and --task ID (the prepaid task id)',
        );
      return challengeReceipt(ctx, BigInt(values.period), values.task);
    default:
      throw new Error(
        `unknown account command "${sub ?? ''}": deposit, balance, allow, request-withdrawal, withdraw, claim, challenge-voucher, challenge-receipt`,
      );
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  const cause = e.cause as { code?: string; address?: string; port?: number } | undefined;
  const message =
    e instanceof TypeError && cause?.code === 'ECONNREFUSED'
      ? `nothing answers at ${cause.address}:${cause.port}; is the marketplace running (npm start), and are --node / --signer right?`
      : e.message;
  // A refusal's stable code (the signer's, or this client's for encrypted results) for scripts to switch on.
  const code =
    e instanceof SignerRefusal || e instanceof SealedResultError || e instanceof DishonestSigner ? e.code : null;
  process.stderr.write(`\nmarket: ${message}${code ? ` [${code}]` : ''}\n`);
  process.exitCode = 1;
});
