/** The market CLI's commands, one file per area: tasks, submitting, models, prepaid accounts. */
export { submit } from './submit.js';
export { status, result, reclaim, taskIdArg } from './task.js';
export { reseal } from './encrypted.js';
export { listModels, deployModel, upgradeModel, uploadModel, retireModel } from './models.js';
export {
  allow,
  balance,
  challengeReceipt,
  challengeVoucher,
  claim,
  deposit,
  requestWithdrawal,
  ustxArg,
  withdraw,
} from './account.js';
export { resultPrepaid, submitPrepaid } from './prepaid.js';
