// The timing-sensitive suites (`*.serial.test.ts`: fault recovery within a second, answers within one
// command timeout), run one at a time after the main run so no other suite competes for the cores.
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['**/*.serial.test.ts'],
  testPathIgnorePatterns: base.testPathIgnorePatterns.filter((pattern) => !pattern.includes('serial')),
  maxWorkers: 1,
};
