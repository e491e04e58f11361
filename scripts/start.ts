/**
 * `npm start`: runs the marketplace locally. Until every part exists it says what does.
 */
console.log(`stacks-inference-market

What runs today:
  npm test                 contracts (simnet), protocol, and every other suite
  npm run fuzz             long property runs of the contracts
  npm run bench            benchmarks, written to bench/results/

The devnet, signer and node agent start here as they land (see README.md).`);
